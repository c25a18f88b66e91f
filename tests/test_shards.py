"""Shards across runners on the real small model: three shards merged are the unsharded run's record,
item by item, and `gate merge` refuses shards that are not the shards of one run (exit 2, file and field)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate import record as records
from gate.cli import _register, cli
from gate.config import load_suite
from gate.lmeval.request_cache import RequestCache
from gate.run.runner import RunOptions, run_suite
from gate.run.shards import Shard, merge_shards, run_shard, share

_register()
ROOT = Path(__file__).resolve().parents[1]

# A group (MMLU's humanities) with a few items in many subjects (most get one item, some none: the group's
# hash and error must still be the unsharded run's), a few-shot task (lm-eval draws the shots in run order), and a
# generative domain task with categories and high-severity cases.
SUITE = """name: sharded
version: 1
include_paths: [{inc}]
tasks:
  - {{task: mmlu_humanities, num_fewshot: 1, metric: acc, kind: general, limit: 8}}
  - {{task: arc_easy, num_fewshot: 2, metric: acc, kind: general, limit: 8}}
  - {{task: domain_support_policy, num_fewshot: 0, metric: pass, kind: domain, limit: 3, max_gen_toks: 8}}
"""


@pytest.fixture(scope="module")
def runs(smol_gate_lm, data_dir, tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared CI cores
    try:
        tmp = tmp_path_factory.mktemp("shards")
        (tmp / "suite.yaml").write_text(SUITE.format(inc=ROOT / "suites/domain/support_policy"))
        suite = load_suite(tmp / "suite.yaml")
        opts = RunOptions(data_dir=data_dir, seed=3)
        whole = run_suite(smol_gate_lm, suite, opts)
        cache = RequestCache(tmp / "req")
        paths = []
        for i in (1, 2, 3):
            rec = run_shard(smol_gate_lm, suite, opts, Shard(i, 3), cache)
            paths.append(records.save(rec, tmp / f"shard-{i}.json"))
        return whole, paths
    finally:
        torch.set_num_threads(threads)


def merge(*args) -> object:
    return CliRunner().invoke(cli, ["merge", *map(str, args), "--no-mlflow"], catch_exceptions=False)


@pytest.mark.slow
def test_three_shards_merged_are_the_unsharded_record(runs, tmp_path):
    whole, paths = runs
    shards = [records.load(p) for p in paths]
    assert all(t.n < w.n for s in shards for t, w in zip(s.tasks, whole.tasks, strict=True))  # each ran a share
    r = merge(*paths, "-o", tmp_path / "merged.json")
    assert r.exit_code == 0, r.output
    merged = records.load(tmp_path / "merged.json")
    assert merged.shard is None and merged.model == whole.model and merged.suite == whole.suite
    assert merged.sampling == whole.sampling and merged.versions == whole.versions
    # where it ran: the same setup, spread over three runners
    assert whole.setup is not None and whole.setup.accelerator == "cpu" and whole.setup.device_count == 0
    assert whole.setup.max_length > 0 and whole.setup.tokenizer_hash.startswith("sha256:")
    assert merged.setup == replace(whole.setup, shards=3)
    for m, w in zip(merged.tasks, whole.tasks, strict=True):
        # same items in the same order, each with its doc and prompt hash, score and prediction
        assert m.items == w.items, m.name
        assert (m.n, m.n_requested, m.task_hash, m.subtasks) == (w.n, w.n_requested, w.task_hash, w.subtasks)
        assert (m.category_scores, m.blocking_failures, m.notes) == (w.category_scores, w.blocking_failures, w.notes)
        assert (m.metric, m.num_fewshot, m.generation, m.output_type) == (
            w.metric,
            w.num_fewshot,
            w.generation,
            w.output_type,
        )
        # values summed in another order: equal to the last bits of a float
        assert m.value == pytest.approx(w.value, rel=1e-12, abs=1e-15), m.name
        assert m.stderr == pytest.approx(w.stderr, rel=1e-9), m.name
        if w.chance is None:
            assert m.chance is None, m.name
        else:
            assert m.chance == pytest.approx(w.chance, rel=1e-12), m.name
    mmlu = whole.task("mmlu_humanities")
    assert len(mmlu.subtasks) > 3 and mmlu.category_scores == {} and whole.task("domain_support_policy").category_scores


def test_shards_deal_each_group_evenly_and_cover_the_pool():
    pool = {"a": [0, 3, 5, 9, 11], "b": [2], "c": list(range(7))}
    parts = [share(pool, Shard(i, 3)) for i in (1, 2, 3)]
    for leaf, ids in pool.items():
        got = [d for p in parts for d in p[leaf]]
        assert sorted(got) == ids  # every item once
        sizes = [len(p[leaf]) for p in parts]
        assert max(sizes) - min(sizes) <= 1, leaf
    totals = [sum(map(len, p.values())) for p in parts]
    assert max(totals) - min(totals) <= 1
    assert share(pool, Shard(1, 1)) == pool


def _save(rec, path: Path) -> Path:
    return records.save(rec, path, overwrite=True)


def _moved_item(shard, other):
    """`shard` also holding the first item of `other`'s arc_easy: the two shards overlap."""
    t, o = shard.task("arc_easy"), other.task("arc_easy")
    items = tuple(sorted((*t.items, o.items[0]), key=lambda i: i.doc_id))
    value = sum(i.score for i in items) / len(items)
    task = replace(t, items=items, n=len(items), n_requested=len(items), value=value)
    return replace(shard, tasks=tuple(task if x.name == "arc_easy" else x for x in shard.tasks))


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, field",
    [
        ("checkpoint", "model.fingerprint"),
        ("suite", "suite.hash"),
        ("setting", "model.batch_size"),
        ("task setting", "tasks.1 (arc_easy).num_fewshot"),
        ("shard count", "shard.count"),
        ("missing", "shard.count"),
        ("duplicate", "shard.index"),
        ("overlap", "tasks.1 (arc_easy).items"),
        ("tokenizer", "setup.tokenizer_hash"),
        ("whole run", "shard: none"),
    ],
)
def test_merge_refuses_shards_of_different_runs(runs, tmp_path, case, field):
    whole, paths = runs
    one, two, three = (records.load(p) for p in paths)
    bad = tmp_path / "bad.json"
    changed = {
        "checkpoint": lambda: replace(two, model=replace(two.model, fingerprint="sha256:" + "0" * 64)),
        "suite": lambda: replace(two, suite=replace(two.suite, hash="sha256:" + "1" * 64)),
        "setting": lambda: replace(two, model=replace(two.model, batch_size=4)),
        "task setting": lambda: replace(
            two, tasks=tuple(replace(t, num_fewshot=0) if t.name == "arc_easy" else t for t in two.tasks)
        ),
        "shard count": lambda: replace(two, shard=replace(two.shard, count=4)),
        "overlap": lambda: _moved_item(two, one),
        "tokenizer": lambda: replace(two, setup=replace(two.setup, tokenizer_hash="sha256:" + "2" * 64)),
        "whole run": lambda: whole,
    }
    if case == "missing":
        args = [paths[0], paths[1]]
    elif case == "duplicate":
        args = [paths[0], paths[1], paths[1], paths[2]]
    else:
        args = [paths[0], _save(changed[case](), bad), paths[2]]
    r = merge(*args, "-o", tmp_path / "merged.json")
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert field in line, line
    named = str(bad) if case not in ("missing", "duplicate") else str(paths[0] if case == "missing" else paths[1])
    assert named in line, line
    assert not (tmp_path / "merged.json").exists()


@pytest.mark.slow
def test_a_shard_is_never_checked_diffed_or_logged_as_a_run(runs, tmp_path):
    _, paths = runs
    r = CliRunner().invoke(cli, ["check", str(paths[0]), "--thresholds", str(ROOT / "thresholds/default.yaml")])
    assert r.exit_code == 2 and "gate merge" in r.stderr and str(paths[0]) in r.stderr, r.output
    r = CliRunner().invoke(cli, ["diff", str(paths[0]), "--baseline-record", str(paths[1])])
    assert r.exit_code == 2 and "shard: 1/3" in r.stderr, r.output
    with pytest.raises(Exception, match="shard.count: the run has 3 shards but shard.s. 2, 3 are not given"):
        merge_shards([(str(paths[0]), records.load(paths[0]))])  # one of three: the others are missing
    from gate.errors import ConfigError
    from gate.store.tracking import Store

    with pytest.raises(ConfigError, match="one shard of a run"):
        Store().log_record(records.load(paths[0]))


@pytest.mark.parametrize(
    "args, says",
    [
        (["--shard", "4/3"], "I must be 1..N"),
        (["--shard", "two"], "is not I/N"),
        (["--shard", "1/2", "--then", "suites/full.yaml"], "--then"),
        (["--shard", "1/2", "--early-verdict"], "--early-verdict"),
    ],
)
def test_bad_shard_options_exit_2_before_the_model_loads(repo, tmp_path, args, says):
    cmd = ["run", "--model", "smollm2-135m", "--suite", str(repo / "suites/fast.yaml"), "--output", "o.json"]
    cmd += ["--thresholds", str(repo / "thresholds/default.yaml")]
    r = CliRunner().invoke(cli, cmd + [a if not a.startswith("suites/") else str(repo / a) for a in args])
    assert r.exit_code == 2, r.output
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_the_merged_record_is_what_mlflow_logs(runs, tmp_path):
    _, paths = runs
    r = CliRunner().invoke(cli, ["merge", *map(str, paths), "-o", str(tmp_path / "merged.json")])
    assert r.exit_code == 0, r.output
    merged = records.load(tmp_path / "merged.json")
    assert merged.mlflow_run_id and f"mlflow run: {merged.mlflow_run_id}" in r.stderr
