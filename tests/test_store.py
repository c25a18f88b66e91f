"""The MLflow store against a real sqlite tracking store in tmp_path: logging, freezing, loading."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import gate.cli.baseline  # noqa: F401  (registers `gate baseline`)
from gate import record as records
from gate.cli import cli
from gate.errors import BaselineNotFound, ConfigError, StoreUnavailable
from gate.report.sparkline import sparkline
from gate.store.baselines import BASELINE_MODEL, SHA_TAG
from gate.store.keys import metric_key
from gate.store.tracking import Store
from gate.store.trend import baseline_trend
from tests.fixtures_store import make_record


@pytest.fixture
def record() -> records.EvalRecord:
    return make_record()


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # MLflow migrates a new sqlite database on first use (seconds); copy one migrated file per test.
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    Store(f"sqlite:///{path}").client.search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, empty_db: Path) -> Store:
    shutil.copy(empty_db, tmp_path / "mlflow.db")
    return Store(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _artifact_bytes(store: Store, run_id: str) -> bytes:
    return Path(
        store.client.download_artifacts(run_id, "record.json", str(Path(store.tracking_uri[10:]).parent))
    ).read_bytes()


def _run_count(store: Store) -> int:
    exp = store.client.get_experiment_by_name("checkpoint-gate")
    return 0 if exp is None else len(store.client.search_runs([exp.experiment_id]))


@pytest.mark.parametrize(
    ("task", "metric", "key"),
    [
        ("arc_easy", "acc_norm,none", "arc_easy/acc_norm"),
        ("gsm8k", "exact_match,strict-match", "gsm8k/exact_match_strict-match"),
        ("mmlu", "acc", "mmlu/acc"),
        ("odd,task/x", "acc,none", "odd_task_x/acc"),
    ],
)
def test_metric_key_has_no_characters_mlflow_rejects(task: str, metric: str, key: str) -> None:
    assert metric_key(task, metric) == key


def test_log_record_writes_params_metrics_and_the_final_record(store: Store, record: records.EvalRecord) -> None:
    logged = store.log_record(record)

    assert logged.mlflow_run_id is not None
    assert logged == record.with_run_id(logged.mlflow_run_id)
    run = store.client.get_run(logged.mlflow_run_id)
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert p["model.id"] == "smollm2-135m"
    assert p["model.fingerprint"] == record.model.fingerprint
    assert (p["suite.name"], p["suite.hash"]) == ("fast", "sha256:suite")
    assert (p["versions.lm_eval"], p["model.dtype"], p["model.batch_size"]) == ("0.4.13", "float32", "4")
    assert (p["model.device"], p["model.quantization"], p["model.chat_template"]) == ("cpu", "none", "False")
    m = run.data.metrics
    assert m["arc_easy/acc_norm"] == pytest.approx(0.75)
    assert m["arc_easy/acc_norm_stderr"] == pytest.approx(0.1)
    assert m["demo_policy/acc"] == pytest.approx(0.5)
    assert m["demo_policy/category/refunds"] == pytest.approx(0.5)
    # The artifact is the final record, run id included, and it loads back through the schema.
    data = _artifact_bytes(store, logged.mlflow_run_id)
    assert records.from_dict(json.loads(data)) == logged
    items = store.client.download_artifacts(
        logged.mlflow_run_id, "items/arc_easy.jsonl", str(Path(store.tracking_uri[10:]).parent)
    )
    assert [json.loads(line)["score"] for line in Path(items).read_text().splitlines()] == [1, 0, 1, 1]
    # A local sqlite store keeps its artifacts beside the database, not in the cwd.
    assert run.info.artifact_uri.startswith((Path(store.tracking_uri[10:]).parent / "mlartifacts").as_uri())


def test_operational_measurements_are_mlflow_metrics_the_ui_can_chart(store: Store, record: records.EvalRecord) -> None:
    from dataclasses import replace

    from gate.record_operational import GenerationStats, RunOperational, TaskOperational
    from gate.store.keys import task_scores

    gen = GenerationStats(
        requests=2, latency_p50_s=0.5, latency_p95_s=0.9, latency_p99_s=1.0,
        output_tokens_mean=12.0, output_tokens_p95=20.0, tokens_per_second=24.0,
    )  # fmt: skip
    run_op = RunOperational(
        hardware="cpu: test (2 threads)", timing_method="batch", generation=gen, loglikelihood_requests=8,
        peak_memory_bytes=3 * 2**30, peak_memory_kind="peak_rss", failed_requests=0, retried_requests=0,
        price_per_hour=2.0, estimated_cost=0.25,
    )  # fmt: skip
    tasks = (record.tasks[0], replace(record.tasks[1], operational=TaskOperational(generation=gen)))
    logged = store.log_record(replace(record, tasks=tasks, operational=run_op))
    m = store.client.get_run(logged.mlflow_run_id).data.metrics
    assert m["operational/peak_memory_mib"] == pytest.approx(3072)
    assert m["operational/estimated_cost"] == pytest.approx(0.25)
    assert m["operational/latency_p95_s"] == pytest.approx(0.9)
    assert m["demo_policy/operational/output_tokens_mean"] == pytest.approx(12.0)
    assert "arc_easy/operational/latency_p95_s" not in m  # a task that generated nothing has no latency
    # They are measurements of the run, not task scores: `gate baseline history` and correlate skip them.
    assert {s.key for s in task_scores(m)} == {"arc_easy/acc_norm", "demo_policy/acc"}


def test_relogging_a_logged_record_writes_nothing(store: Store, record: records.EvalRecord) -> None:
    logged = store.log_record(record)
    before = _artifact_bytes(store, logged.mlflow_run_id)

    again = store.log_record(logged)

    assert again == logged
    assert _run_count(store) == 1
    assert _artifact_bytes(store, logged.mlflow_run_id) == before


def test_a_record_that_differs_from_its_logged_run_is_refused(store: Store, record: records.EvalRecord) -> None:
    logged = store.log_record(record)
    # Without its digest (an edited record that kept it would be refused on read already), so that it is
    # the store that notices it is not the record it holds for that run.
    data = {**json.loads(records.dumps(logged)), "created_at": "2030-01-01T00:00:00+00:00", "digest": None}
    edited = records.from_dict(data)

    with pytest.raises(ConfigError, match="differs from the record stored there"):
        store.log_record(edited)


def test_freeze_a_record_never_logged_logs_it_and_loads_back(store: Store, record: records.EvalRecord) -> None:
    ref = store.freeze("main", record=record, who="alice")

    b = store.load_baseline("main")
    assert b.ref == ref
    assert (b.ref.name, b.ref.frozen_by) == ("main", "alice")
    assert b.record == record.with_run_id(ref.run_id)
    assert _run_count(store) == 1


def test_freeze_a_saved_record_file_reuses_its_run(store: Store, record: records.EvalRecord, tmp_path: Path) -> None:
    logged = store.log_record(record)
    path = records.save(logged, tmp_path / "out" / "record.json")

    ref = store.freeze("main", record=records.load(path))

    assert ref.run_id == logged.mlflow_run_id
    assert _run_count(store) == 1


def test_freeze_by_run_id(store: Store, record: records.EvalRecord) -> None:
    logged = store.log_record(record)

    ref = store.freeze("main", run_id=logged.mlflow_run_id)

    assert store.load_baseline("main").record == logged
    assert ref.run_id == logged.mlflow_run_id


def test_freeze_unknown_run_id_is_a_usage_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="run 0123abcd not found"):
        store.freeze("main", run_id="0123abcd")


@pytest.mark.parametrize("name", ["v1", "latest", "has space", "a/b", ""])
def test_baseline_names_mlflow_cannot_hold_are_refused(store: Store, record: records.EvalRecord, name: str) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        store.freeze(name, record=record)


def test_a_frozen_baseline_needs_replace_and_the_replaced_one_stays_listed(store: Store) -> None:
    first = store.freeze("main", record=make_record(seed="a"), who="alice")

    with pytest.raises(ConfigError, match="--replace"):
        store.freeze("main", record=make_record(seed="b"), who="bob")
    assert store.load_baseline("main").ref.run_id == first.run_id

    second = store.freeze("main", record=make_record(seed="b"), replace=True, who="bob")

    assert store.load_baseline("main").ref.run_id == second.run_id
    entries = [e for e in store.list_baselines() if e.name == "main"]
    assert [(e.run_id, e.current) for e in entries] == [(second.run_id, True), (first.run_id, False)]
    old = entries[1]
    assert (old.frozen_by, old.replaced_by) == ("alice", "bob")
    assert old.replaced_at is not None and old.replaced_at >= old.frozen_at


def test_a_frozen_record_artifact_never_changes(store: Store, record: records.EvalRecord) -> None:
    ref = store.freeze("main", record=record)
    before = _artifact_bytes(store, ref.run_id)
    frozen = store.load_baseline("main").record

    store.log_record(frozen)  # re-logging
    store.freeze("other", run_id=ref.run_id)  # freezing the same run again
    store.freeze("main", record=make_record(seed="z"), replace=True)  # replacing it

    assert _artifact_bytes(store, ref.run_id) == before
    assert store.load_baseline("other").record == frozen


def test_an_artifact_altered_behind_the_stores_back_is_not_trusted(store: Store, record: records.EvalRecord) -> None:
    ref = store.freeze("main", record=record)
    uri = store.client.get_run(ref.run_id).info.artifact_uri
    path = Path(uri.removeprefix("file://")) / "record.json"
    path.write_text(path.read_text().replace('"value": 0.75', '"value": 0.95'))

    with pytest.raises(StoreUnavailable, match="changed after it was frozen"):
        store.load_baseline("main")


def test_unknown_baseline_names_the_known_ones(store: Store, record: records.EvalRecord) -> None:
    with pytest.raises(BaselineNotFound, match=r"known: none yet"):
        store.load_baseline("main")
    store.freeze("main", record=record)
    store.freeze("release-1", record=record)

    with pytest.raises(BaselineNotFound, match=r"no baseline named 'mian'.*known: main, release-1") as e:
        store.load_baseline("mian")
    assert e.value.exit_code == 2


def test_history_lists_gate_runs_newest_first(store: Store) -> None:
    a = store.log_record(make_record(seed="a"))
    b = store.log_record(make_record(seed="b"))

    hist = store.history(suite="fast")

    assert [h.run_id for h in hist] == [b.mlflow_run_id, a.mlflow_run_id]
    assert hist[0].metrics["arc_easy/acc_norm"] == pytest.approx(0.75)
    assert store.history(suite="full") == []


def test_history_command_shows_each_runs_scores_newest_first(store: Store) -> None:
    a = store.log_record(make_record(seed="a"))
    b = store.log_record(make_record(seed="b"))
    uri = ["--tracking-uri", store.tracking_uri]

    r = CliRunner().invoke(cli, ["baseline", "history", "--suite", "fast", *uri])
    assert r.exit_code == 0, r.output
    assert r.stdout.index(f"run {b.mlflow_run_id}") < r.stdout.index(f"run {a.mlflow_run_id}")
    line = next(x for x in r.stdout.splitlines() if "arc_easy/acc_norm" in x)
    assert "0.7500" in line and "n=" in line and "_stderr" not in r.stdout
    data = json.loads(CliRunner().invoke(cli, ["baseline", "history", "--format", "json", *uri]).stdout)
    assert [d["run_id"] for d in data] == [b.mlflow_run_id, a.mlflow_run_id]
    none = CliRunner().invoke(cli, ["baseline", "history", "--suite", "full", *uri])
    assert none.exit_code == 0 and "no finished gate runs of suite 'full'" in none.output


def test_default_tracking_uri_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert Store().tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Store().tracking_uri == "http://127.0.0.1:5000"


def test_cli_freeze_show_list(store: Store, record: records.EvalRecord, tmp_path: Path) -> None:
    path = records.save(record, tmp_path / "record.json")
    env = {"MLFLOW_TRACKING_URI": store.tracking_uri}
    runner = CliRunner()

    r = runner.invoke(cli, ["baseline", "freeze", str(path), "--name", "main", "--who", "ci"], env=env)
    assert r.exit_code == 0, r.output
    run_id = json.loads(r.stdout)["run_id"]

    r = runner.invoke(cli, ["baseline", "freeze", str(path), "--name", "main"], env=env)
    assert r.exit_code == 2, r.output
    assert "--replace" in r.stderr and len(r.stderr.strip().splitlines()) == 1

    r = runner.invoke(cli, ["baseline", "show", "main", "--format", "json", "-o", str(tmp_path / "b.json")], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ref"]["run_id"] == run_id
    assert records.load(tmp_path / "b.json") == record.with_run_id(run_id)

    r = runner.invoke(cli, ["baseline", "show", "main"], env=env)
    assert r.exit_code == 0, r.output
    assert "arc_easy" in r.stdout and "0.7500" in r.stdout

    r = runner.invoke(cli, ["baseline", "list", "--format", "json"], env=env)
    assert r.exit_code == 0, r.output
    assert [(e["name"], e["frozen_by"], e["current"]) for e in json.loads(r.stdout)] == [("main", "ci", True)]

    r = runner.invoke(cli, ["baseline", "show", "nope"], env=env)
    assert r.exit_code == 2, r.output
    assert "known: main" in r.stderr


def test_cli_freeze_needs_a_record_or_a_run_id(store: Store) -> None:
    r = CliRunner().invoke(cli, ["baseline", "freeze", "--name", "main", "--tracking-uri", store.tracking_uri])
    assert r.exit_code == 2, r.output
    assert store.client.search_registered_models(f"name = '{BASELINE_MODEL}'") == []


def test_run_tag_marks_a_complete_gate_run(store: Store, record: records.EvalRecord) -> None:
    logged = store.log_record(record)
    tags = store.client.get_run(logged.mlflow_run_id).data.tags
    assert len(tags[SHA_TAG]) == 64


def test_show_writes_the_record_only_where_nothing_is_or_with_overwrite(store: Store, record, tmp_path: Path) -> None:
    store.freeze("main", record=record, who="ci")
    out = tmp_path / "b.json"
    out.write_text("keep me")
    env = {"MLFLOW_TRACKING_URI": store.tracking_uri}
    r = CliRunner().invoke(cli, ["baseline", "show", "main", "-o", str(out)], env=env)
    assert r.exit_code == 2 and "already exists" in r.stderr, r.output
    assert out.read_text() == "keep me"
    r = CliRunner().invoke(cli, ["baseline", "show", "main", "-o", str(out), "--overwrite"], env=env)
    assert r.exit_code == 0, r.output
    assert records.load(out, require_digest=True).task_names() == record.task_names()


def test_a_logged_run_carries_the_record_digest_and_a_refused_freeze_logs_nothing(store: Store, record) -> None:
    from gate.store.baselines import DIGEST_TAG

    logged = store.log_record(record)
    assert store.client.get_run(logged.mlflow_run_id).data.tags[DIGEST_TAG] == logged.digest
    store.freeze("main", run_id=logged.mlflow_run_id, who="ci")
    with pytest.raises(ConfigError, match="already exists"):
        store.freeze("main", record=replace(record, created_at="2030-01-01T00:00:00+00:00"))
    assert _run_count(store) == 1


def test_baseline_trend_is_one_point_per_freeze_of_the_name_oldest_first(store: Store) -> None:
    recs = [make_record(scores=s, seed=str(i)) for i, s in enumerate([(1, 0, 1, 1), (0, 0, 1, 0), (1, 1, 1, 1)])]
    for i, r in enumerate(recs):
        store.freeze("main", record=r, replace=i > 0, who="ci")
    store.freeze("other", record=make_record(scores=(0, 0, 0, 0), seed="x"), who="ci")  # another name: not in it
    tasks = [("arc_easy", "acc_norm,none"), ("demo_policy", "acc"), ("absent", "acc")]
    trend = baseline_trend(store, "main", tasks, n=8)
    assert trend["arc_easy"] == [r.task("arc_easy").value for r in recs]
    assert trend["demo_policy"] == [r.task("demo_policy").value for r in recs]
    assert trend["absent"] == [None, None, None]
    assert baseline_trend(store, "main", tasks, n=2)["arc_easy"] == [r.task("arc_easy").value for r in recs[1:]]
    assert sparkline(trend["arc_easy"]) == "▆▁█"  # 0.75, 0.25, 1.0 between their own min and max
