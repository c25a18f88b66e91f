"""Shard records between the runners of one workflow run, through a real MLflow sqlite store: the merge
job gets every shard of its own run and stage, newest attempt first, or one line naming what is missing;
a shard run is never read as a checkpoint's scores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gate.errors import ConfigError, EvalFailed
from gate.record import ShardInfo
from gate.store.runs_query import RunFilter, checkpoint_scores
from gate.store.shards import ExchangeKey, load_shards, log_shard
from gate.store.tracking import Store
from tests.fixtures_store import make_record

KEY = ExchangeKey("acme/models", "4242", 1, "fast")  # each test its own workflow run (run_id) in one store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    # One store for the module (creating an sqlite store costs seconds); each test its own workflow run.
    return Store(f"sqlite:///{tmp_path_factory.mktemp('shards') / 'mlflow.db'}")


def shard(index: int, count: int = 2, seed: str = "a"):
    return replace(make_record(seed=seed), shard=ShardInfo(index=index, count=count, tasks=()))


def test_the_merge_job_reads_back_every_shard_of_its_run_in_order(store):
    key = replace(KEY, run_id="4241")
    logged = {i: shard(i) for i in (2, 1)}  # the matrix finishes in any order
    runs = {i: log_shard(store, rec, key) for i, rec in logged.items()}
    got = load_shards(store, key, 2)
    assert [src for src, _ in got] == [f"MLflow shard run {runs[1]}", f"MLflow shard run {runs[2]}"]
    assert [rec for _, rec in got] == [logged[1], logged[2]]


def test_a_missing_shard_fails_closed_naming_it(store):
    key = replace(KEY, run_id="4242")
    log_shard(store, shard(1, 3), key)
    log_shard(store, shard(3, 3), key)
    with pytest.raises(EvalFailed) as e:
        load_shards(store, key, 3)
    assert e.value.exit_code == 3 and "\n" not in str(e.value)
    assert str(e.value).startswith("shard(s) 2/3 of the fast stage of workflow run 4242 of acme/models are not in ")
    assert str(e.value).endswith("their job failed or did not run; re-run the failed jobs")


def test_shards_of_another_run_stage_or_shard_count_are_never_merged(store):
    key = replace(KEY, run_id="4244")
    log_shard(store, shard(1), key)
    log_shard(store, shard(2), replace(key, run_id="4243"))  # another workflow run
    log_shard(store, shard(2), replace(key, stage="full"))  # another stage of this run
    log_shard(store, shard(2), replace(key, repository="acme/other"))  # another repository's run 4244
    log_shard(store, shard(2, count=3), key)  # a matrix of another size
    with pytest.raises(EvalFailed, match=r"^shard\(s\) 2/2 of the fast stage of workflow run 4244 "):
        load_shards(store, key, 2)


def test_a_rerun_of_failed_jobs_reads_the_newest_attempt_of_each_shard_and_a_doubled_one_fails(store):
    key = replace(KEY, run_id="4245")
    log_shard(store, shard(1), key)  # succeeded in attempt 1, not re-run
    log_shard(store, shard(2, seed="old"), key)  # attempt 1 logged shard 2 too, then its job failed
    second = replace(key, attempt=2)
    log_shard(store, shard(2, seed="new"), second)
    log_shard(store, shard(1, seed="future"), replace(key, attempt=3))  # a later attempt is not this one's
    got = [rec for _, rec in load_shards(store, second, 2)]
    assert got == [shard(1), shard(2, seed="new")]
    log_shard(store, shard(2, seed="again"), second)
    with pytest.raises(EvalFailed, match=r"^shard 2/2 of .* was logged twice in attempt 2 \(MLflow runs \w+, \w+\)"):
        load_shards(store, second, 2)


def test_a_shard_run_is_never_a_checkpoints_scores(store):
    key = replace(KEY, run_id="4246")
    run_id = log_shard(store, shard(1), key)
    assert store.history() == [] and checkpoint_scores(store, RunFilter()) == []
    assert checkpoint_scores(store, RunFilter(experiment="checkpoint-gate-shards")) == []
    assert store.client.get_run(run_id).data.metrics == {}
    with pytest.raises(ConfigError, match="holds no complete gate record"):
        store.freeze("main-fast", run_id=run_id)
    with pytest.raises(ConfigError, match="holds a whole run, not a shard"):
        log_shard(store, make_record(), key)


def test_the_exchange_key_is_checked_before_it_reaches_a_filter():
    with pytest.raises(ConfigError, match=r"^GITHUB_RUN_ID \"1' or '1\": expected the workflow run's number"):
        ExchangeKey("acme/models", "1' or '1", 1, "fast")
    with pytest.raises(ConfigError, match="GITHUB_REPOSITORY"):
        ExchangeKey("acme/models'", "1", 1, "fast")
