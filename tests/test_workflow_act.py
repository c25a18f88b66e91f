"""The shipped `.github/workflows/model-gate.yml`, run as a whole under act (host mode, offline).

Nothing here rewrites the workflow: act runs the file as shipped, with `actions/checkout@v6` and
`actions/setup-python@v6` from `../shared/actions` (setup-python finds this interpreter in act's tool
cache, so it never downloads). Repository variables point it at small suites, 60 ARC-Easy items for
the fast stage and 16 ARC-Challenge items for the full one, and at a prepared environment
(`GATE_VENV`). A real `mlflow server` on 127.0.0.1 holds the baselines; `tests/github_server.py` is
the GitHub API. The test reads back what the workflow left there: the check run, the one comment,
the baselines. The model is SmolLM2-135M on CPU: the baseline's own weights, the same weights saved
in bfloat16, the same with a sign-flipped final norm (ranks answers backwards; test_diff_e2e), and a
pointer to a folder that does not exist.

One act run per scenario, in order, on one repository: each is a push a user would make.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import torch

from gate.store.keys import task_scores
from gate.store.tracking import Store
from tests.github_server import GitHubServer
from tests.test_mlflow_server import STARTUP_TIMEOUT_S, Server, _free_port
from tests.variants import variant

pytestmark = [pytest.mark.slow, pytest.mark.act]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ACTIONS = SHARED / "actions"
TOKEN = "ghs_Act0Workflow0Token0000000000000000000"
REPO = "acme/models"
FAST_N, FULL_N = 60, 16
ACT_TIMEOUT_S = 600


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@acme", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@acme"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout.strip()


def _pointer(model: Path | str) -> str:
    return (
        "# yaml-language-server: $schema=../gate/schemas/checkpoint.schema.json\n"
        f"name: candidate\nmodel: {model}\ndtype: float32\nbatch_size: 8\nbaseline: main\n"
    )


@dataclass
class World:
    tmp: Path
    repo: Path
    mlflow: Server
    gh: GitHubServer
    models: dict[str, Path]
    base_env: dict[str, str]
    promoted: str = ""  # the fast baseline the merge froze (the tests run in file order, one PR after another)
    comment_id: int = 0
    blocked: tuple[str, str] = ("", "")  # the damaged weights' check title and comment, on one runner

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            (self.repo / name).write_text(text)
        _git(self.repo, "add", *files)
        _git(self.repo, "commit", "-qm", message)
        return _git(self.repo, "rev-parse", "HEAD")

    def act(self, event_name: str, event: dict, **more_vars: str) -> subprocess.CompletedProcess[str]:
        path = self.tmp / "event.json"
        path.write_text(json.dumps({**event, "repository": {"full_name": REPO, "name": "models"}}))
        variables = {
            "GATE_FAST_SUITE": "tests/data/act/fast.yaml",
            "GATE_FULL_SUITE": "tests/data/act/full.yaml",
            "GATE_THRESHOLDS": "tests/data/act/thresholds.yaml",
            "GATE_FAST_SAMPLE": str(FAST_N),
            "GATE_FULL_SAMPLE": str(FULL_N),
            "GATE_VENV": sys.prefix,
            "GATE_CACHE_ROOT": str(self.tmp / "runner-cache"),
            "GATE_DATA_DIR": os.environ["GATE_DATA_DIR"],
            "MLFLOW_TRACKING_URI": self.mlflow.uri,  # a public variable: safe to show in the PR
        } | more_vars
        cmd = [
            shutil.which("act") or str(Path(sys.executable).parent / "act"), event_name, "-e", str(path),
            "-W", ".github/workflows/model-gate.yml",
            "-P", "self-hosted=-self-hosted", "-P", "ubuntu-latest=-self-hosted",
            "--local-repository", f"actions/checkout@v6={ACTIONS / 'checkout@v6'}",
            "--local-repository", f"actions/setup-python@v6={ACTIONS / 'setup-python@v6'}",
            # act fetches every action of a job before its steps run, skipped ones too; the archive steps
            # are skipped under act (`!env.ACT`), and this stand-in fails loudly if one ever runs.
            "--local-repository", f"actions/upload-artifact@v6={self.tmp / 'no-artifacts'}",
            "--env", f"GITHUB_API_URL={self.gh.base_url}", "-s", f"GITHUB_TOKEN={TOKEN}",
        ]  # fmt: skip
        for k, v in variables.items():
            cmd += ["--var", f"{k}={v}"]
        r = subprocess.run(cmd, cwd=self.repo, env=self.base_env, capture_output=True, text=True, timeout=ACT_TIMEOUT_S)
        (self.tmp / f"act-{time.monotonic_ns()}.log").write_text(r.stdout + r.stderr)
        return r

    def pr(self, number: int, head: str, base: str) -> dict:
        return {
            "number": number,
            "action": "synchronize",
            "pull_request": {
                "number": number,
                "head": {"sha": head, "ref": f"pr-{number}", "repo": {"full_name": REPO}},
                "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
            },
        }

    def check(self, sha: str) -> dict:
        runs = [r for r in self.gh.check_runs.values() if r["head_sha"] == sha]
        assert len(runs) == 1, runs
        return runs[0]


def _start_mlflow(tmp: Path) -> Server:
    port = _free_port()
    log = tmp / "mlflow-server.log"
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{tmp / 'server.db'}",
        "--artifacts-destination", str(tmp / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    server = Server(uri=f"http://127.0.0.1:{port}", proc=proc, log=log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{server.uri}/health", timeout=2).status_code == 200:
                return server
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a loaded machine
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"mlflow server not healthy after {STARTUP_TIMEOUT_S}s: {log.read_text()[-2000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def world(tmp_path_factory, smol_dir, smol_lm, data_dir):
    for action in ("checkout@v6", "setup-python@v6"):
        assert (ACTIONS / action / "action.yml").is_file(), f"{ACTIONS / action}: put shared/ beside this checkout"
    tmp = tmp_path_factory.mktemp("act")
    stub = tmp / "no-artifacts"
    stub.mkdir()
    (stub / "action.yml").write_text(
        "name: no artifacts under act\ndescription: stands in for actions/upload-artifact, which is not offline\n"
        "runs:\n  using: composite\n  steps:\n    - shell: bash\n"
        "      run: echo '::error::upload-artifact ran under act; the workflow must skip it (!env.ACT)'; exit 1\n"
    )
    # act's tool cache holds this interpreter, so setup-python "3.11" is satisfied offline.
    version = platform.python_version()
    cache = tmp / "xdg" / "act" / "tool_cache" / "Python" / version
    cache.mkdir(parents=True)
    (cache / "x64").symlink_to(sys.base_prefix)
    (cache / "x64.complete").touch()
    # The runner's caches: the tests' own, so task indexes and converted models are reused.
    runner_cache = tmp / "runner-cache"
    runner_cache.mkdir()
    (runner_cache / "huggingface").symlink_to(os.environ["HF_HOME"])
    (runner_cache / "gate").symlink_to(os.environ["GATE_CACHE_DIR"])

    repo = tmp / "repo"
    repo.mkdir()
    for name in _git(ROOT, "ls-files").splitlines() + _git(ROOT, "ls-files", "-o", "--exclude-standard").splitlines():
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the project")

    models = {
        "base": smol_dir,
        "bf16": variant(smol_dir, tmp / "bf16", dtype=torch.bfloat16),
        "damaged": variant(smol_dir, tmp / "damaged", flip_norm=True),
        "missing": tmp / "no-such-checkpoint",
    }
    mlflow = _start_mlflow(tmp)
    gh = GitHubServer(token=TOKEN)
    gh.__enter__()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_", "RUNNER_"))}
    env |= {"XDG_CACHE_HOME": str(tmp / "xdg"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    env |= {"MLFLOW_HTTP_REQUEST_TIMEOUT": "20", "MLFLOW_TRACKING_URI": mlflow.uri}
    try:
        # The first baselines, frozen by hand as a team would before the gate's first run (in this
        # process, on the session's loaded model: the same items `gate ci stage` samples, seed 0).
        from gate.config import load_suite
        from gate.run.runner import RunOptions, run_suite

        for stage, n in (("fast", FAST_N), ("full", FULL_N)):
            suite = load_suite(ROOT / "tests" / "data" / "act" / f"{stage}.yaml")
            record = run_suite(smol_lm, suite, RunOptions(data_dir=data_dir, sample=n, seed=0))
            Store(mlflow.uri).freeze(f"main-{stage}", record=record, who="bootstrap")
        yield World(tmp, repo, mlflow, gh, models, env)
    finally:
        gh.__exit__(None, None, None)
        mlflow.stop()


def _log(r: subprocess.CompletedProcess[str]) -> str:
    return (r.stdout + r.stderr)[-6000:]


def test_a_pr_with_the_baseline_in_another_dtype_passes(world):
    main = _git(world.repo, "rev-parse", "main")
    _git(world.repo, "checkout", "-q", "-b", "pr-1")
    head = world.commit({"checkpoints/candidate.yaml": _pointer(world.models["bf16"])}, "candidate: bf16 copy")
    r = world.act("pull_request", world.pr(1, head, main))
    assert r.returncode == 0, _log(r)
    check = world.check(head)
    assert check["conclusion"] == "success", check["output"]["title"]
    assert check["output"]["title"].startswith("passed: ")
    (comment,) = world.gh.comments_on(1)
    body = comment["body"]
    assert ": passed —" in body.splitlines()[1]
    assert "| fast | ✅ passed |" in body and "| full | ✅ passed |" in body
    assert "main-fast" in body and "main-full" in body
    assert TOKEN not in r.stdout + r.stderr


def test_the_merge_to_main_promotes_the_checkpoint_to_baseline(world):
    before = _git(world.repo, "rev-parse", "main")
    _git(world.repo, "checkout", "-q", "main")
    _git(world.repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "pr-1")
    merged = _git(world.repo, "rev-parse", "HEAD")
    r = world.act("push", {"ref": "refs/heads/main", "before": before, "after": merged})
    assert r.returncode == 0, _log(r)
    assert world.check(merged)["conclusion"] == "success"
    entries = Store(world.mlflow.uri).list_baselines()
    for stage in ("fast", "full"):
        (new,) = [e for e in entries if e.name == f"main-{stage}" and e.current]
        (old,) = [e for e in entries if e.name == f"main-{stage}" and not e.current]
        assert old.frozen_by == "bootstrap" and f"commit {merged[:7]}" in (old.replaced_by or ""), old
        assert new.run_id != old.run_id and new.model_id == str(world.models["bf16"])
    world.promoted = next(e.run_id for e in entries if e.name == "main-fast" and e.current)


def test_damaged_weights_block_against_the_promoted_baseline_naming_the_task(world):
    main = _git(world.repo, "rev-parse", "main")
    _git(world.repo, "checkout", "-q", "-b", "pr-2", "main")
    head = world.commit({"checkpoints/candidate.yaml": _pointer(world.models["damaged"])}, "candidate: damaged")
    r = world.act("pull_request", world.pr(2, head, main))
    assert r.returncode != 0, _log(r)  # the publish job exits 1: blocked
    check = world.check(head)
    assert check["conclusion"] == "failure", check["output"]["title"]
    assert check["output"]["title"].startswith("blocked: fast: ") and "arc_easy" in check["output"]["title"]
    (comment,) = world.gh.comments_on(2)
    assert ": blocked —" in comment["body"].splitlines()[1]
    assert "not run: the fast stage blocked" in comment["body"]
    assert f"main-fast (`{world.promoted}`)" in comment["body"]  # the diff was against the promoted baseline
    world.comment_id = comment["id"]
    world.blocked = (check["output"]["title"], comment["body"])


def test_a_second_push_that_cannot_load_edits_the_same_comment_and_says_the_gate_broke(world):
    main = _git(world.repo, "rev-parse", "main")
    head = world.commit({"checkpoints/candidate.yaml": _pointer(world.models["missing"])}, "candidate: missing")
    r = world.act("pull_request", world.pr(2, head, main))
    assert r.returncode != 0, _log(r)
    check = world.check(head)
    assert check["conclusion"] == "failure"
    assert check["output"]["title"].startswith("gate broke: fast: "), check["output"]["title"]
    (comment,) = world.gh.comments_on(2)
    assert comment["id"] == world.comment_id  # edited in place, not a second comment
    assert ": gate broke —" in comment["body"].splitlines()[1]
    assert "regressed" not in comment["body"] and "blocked" not in comment["body"]


def test_a_pr_that_changes_no_pointer_passes_at_once_without_the_gpu(world):
    main = _git(world.repo, "rev-parse", "main")
    _git(world.repo, "checkout", "-q", "-b", "pr-3", "main")
    head = world.commit({"README.md": "A docs change.\n"}, "docs")
    started = time.monotonic()
    r = world.act("pull_request", world.pr(3, head, main))
    assert r.returncode == 0, _log(r)
    check = world.check(head)
    assert check["conclusion"] == "success" and check["output"]["title"].startswith("nothing to gate")
    assert "fast stage (GPU)" not in r.stdout  # no GPU job ran
    assert world.gh.comments_on(3) == []
    assert time.monotonic() - started < 120


def _table(body: str) -> list[str]:
    """The comment's table rows, each MLflow run id as RUN (the candidate's run is a new one each time)."""
    return [re.sub(r"\b[0-9a-f]{32}\b", "RUN", ln) for ln in body.splitlines() if ln.startswith("|")]


def test_the_same_weights_over_a_two_runner_shard_matrix_get_the_one_runner_verdict(world):
    # GATE_SHARDS=2: two shard jobs hand their records over through MLflow, the fast job merges them and
    # decides. The damaged weights block in the fast stage, so the full stage never runs (one stage's cost).
    title, body = world.blocked
    assert title, "runs after the damaged weights' scenario, whose verdict it must match"
    main = _git(world.repo, "rev-parse", "main")
    _git(world.repo, "checkout", "-q", "-b", "pr-4", "main")
    head = world.commit({"checkpoints/candidate.yaml": _pointer(world.models["damaged"])}, "candidate: damaged")
    r = world.act("pull_request", world.pr(4, head, main), GATE_SHARDS="2")
    assert r.returncode != 0, _log(r)  # blocked
    assert "fast stage shard 1 (GPU)" in r.stdout and "fast stage shard 2 (GPU)" in r.stdout, _log(r)
    check = world.check(head)
    assert (check["conclusion"], check["output"]["title"]) == ("failure", title)
    (comment,) = world.gh.comments_on(4)
    assert comment["body"].splitlines()[1] == body.splitlines()[1]  # the heading: state and cause
    assert _table(comment["body"]) == _table(body)  # the same rows: decisions, scores, intervals
    assert f"{FAST_N} items, " in comment["body"] and "not run: the fast stage blocked" in comment["body"]
    # MLflow: the two shard runs in their own experiment, and one merged run as the checkpoint's fast record,
    # with the one-runner run's scores and item counts.
    store = Store(world.mlflow.uri)
    exp = store.client.get_experiment_by_name("checkpoint-gate-shards")
    shards = store.client.search_runs([exp.experiment_id], "")
    assert sorted(s.data.tags["gate.shard.index"] for s in shards) == ["1", "2"]
    sharded, single = [h for h in store.history(suite="act-fast") if h.model_id == str(world.models["damaged"])][:2]
    assert task_scores(sharded.metrics) == task_scores(single.metrics) != []
