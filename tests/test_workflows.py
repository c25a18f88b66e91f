"""The model-gate workflow: actionlint passes, and the safety rules hold in the file itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "model-gate.yml"
LINT = ROOT / "scripts" / "lint-workflows.sh"
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


@pytest.fixture(scope="module")
def wf() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(LINT), *map(str, paths)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_actionlint_and_shellcheck_pass():
    r = lint()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "actionlint" in r.stdout


def test_actionlint_catches_script_injection(tmp_path):
    # The linter is live: the classic mistake, a PR title spliced into a shell script, fails.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    r = lint(bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "potentially untrusted" in r.stdout


def test_triggers_have_no_path_filter_and_no_pull_request_target(wf):
    assert set(wf["on"]) == {
        *("pull_request", "push", "merge_group", "workflow_dispatch", "repository_dispatch", "workflow_call"),
    }
    for trigger in ("pull_request", "push"):
        assert not {"paths", "paths-ignore"} & set(wf["on"][trigger] or {})
    assert "pointer" in wf["on"]["workflow_dispatch"]["inputs"]
    assert set(wf["on"]["workflow_call"]["inputs"]) >= {"pointer", "fast-suite", "full-suite", "thresholds", "baseline"}
    assert wf["on"]["repository_dispatch"]["types"] == ["gate-checkpoint"]
    code = [ln for ln in WORKFLOW.read_text().splitlines() if not ln.lstrip().startswith("#")]
    assert not [ln for ln in code if "pull_request_target" in ln or "workflow_run" in ln]


def test_self_hosted_jobs_never_run_for_forks(wf):
    gpu_jobs = [name for name, job in wf["jobs"].items() if "self-hosted" in job["runs-on"]]
    assert gpu_jobs == ["fast-shards", "fast", "full-shards", "full", "promote"]
    for name in ("fast-shards", "fast", "full-shards", "full"):
        assert FORK_GUARD in wf["jobs"][name]["if"], name
    assert "github.event_name == 'push'" in wf["jobs"]["promote"]["if"]  # never a pull request


def test_a_shard_matrix_is_optional_and_its_stage_job_merges_and_decides(wf):
    jobs = wf["jobs"]
    assert "GATE_SHARDS: ${{ vars.GATE_SHARDS || '1' }}" in WORKFLOW.read_text()  # one runner by default
    for stage, after in (("fast", "changes"), ("full", "fast")):
        shards = jobs[f"{stage}-shards"]
        assert "needs.changes.outputs.shards != '1'" in shards["if"], stage  # skipped with one runner
        assert after in shards["needs"] and shards["strategy"]["matrix"]["shard"] == (
            "${{ fromJSON(needs.changes.outputs.shard_list) }}"
        )
        (run,) = [s["run"] for s in shards["steps"] if "gate ci stage" in s.get("run", "")]
        assert f'gate ci stage {stage} --shard "$SHARD"' in run
        # The stage's own job waits for its shards, runs when they are skipped (one runner) or failed (it says
        # which shard is missing), merges them and gives the stage's result to promote and publish as before.
        job = jobs[stage]
        assert f"{stage}-shards" in job["needs"] and job["if"].startswith("!cancelled() && ")
        (step,) = [s for s in job["steps"] if s.get("id") == "stage"]
        assert '--shards "$SHARDS"' in step["run"] and "--shard " not in step["run"]
        assert job["env"]["SHARDS"] == "${{ needs.changes.outputs.shards }}"
        assert set(job["outputs"]) == {"passing", "run_id", "result"} and "outputs" not in shards


def test_least_privilege(wf):
    assert wf["permissions"] == {}
    for name, job in wf["jobs"].items():
        writes = {k for k, v in job.get("permissions", {}).items() if v == "write"}
        assert writes == ({"checks", "pull-requests"} if name == "publish" else set()), name
        # Secrets reach only the jobs on our own runner; the publish job prints into the PR.
        assert "secrets." not in str(job.get("env", {})) or "self-hosted" in job["runs-on"], name


def test_no_expressions_inside_run_scripts(wf):
    for name, job in wf["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step.get("name"))


def test_the_final_job_always_answers_the_required_check(wf):
    publish = wf["jobs"]["publish"]
    assert publish["if"] == "${{ !cancelled() }}"
    assert set(publish["needs"]) == {"changes", "fast", "full"}
    assert publish["runs-on"] == "ubuntu-latest"
    assert "gate ci publish" in WORKFLOW.read_text()


def test_concurrency_per_pr_cancels_older_pr_runs(wf):
    assert "github.event.pull_request.number" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_artifacts_are_an_archive_only_and_skipped_under_act(wf):
    uploads = [s for job in wf["jobs"].values() for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert [s["with"]["name"] for s in uploads] == ["fast-record", "full-record"]
    assert all("!env.ACT" in s["if"] for s in uploads)
    assert "download-artifact" not in WORKFLOW.read_text()  # the verdict travels as job outputs


def test_mlflow_uri_comes_from_a_variable_or_secret(wf):
    for name in ("fast", "full", "promote"):
        uri = wf["jobs"][name]["env"]["MLFLOW_TRACKING_URI"]
        assert re.fullmatch(r"\$\{\{ vars\.MLFLOW_TRACKING_URI \|\| secrets\.MLFLOW_TRACKING_URI \}\}", uri), name
    assert "MLFLOW_TRACKING_URI" not in wf["jobs"]["publish"]["env"]
    # What a report may show of MLflow: public variables only.
    assert wf["env"]["GATE_PUBLIC_TRACKING_URI"] == "${{ vars.MLFLOW_UI_URL || vars.MLFLOW_TRACKING_URI }}"


# -- the publish job's script, run against the local GitHub server --------------------------------

SHA = "2a6c97f6f5dc9166cc2e5d0d95415a386805ca07"
TOKEN = "ghs_Publish0Job0Token000000000000000000000"


def publish_script(wf: dict) -> str:
    steps = wf["jobs"]["publish"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "post the check, the comment and the summary"]
    return step["run"]


@pytest.fixture
def gh():
    from tests.github_server import GitHubServer

    with GitHubServer(token=TOKEN) as server:
        yield server


def run_publish(wf, gh, tmp_path, **env_over: str) -> subprocess.CompletedProcess[str]:
    import json
    import os
    import sys

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5, "head": {"sha": SHA}}}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": gh.base_url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "77",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_TOKEN": TOKEN,
        "GATE_NAME": "model-gate",
        "MAX_AGE_DAYS": "30",
        "PICK": json.dumps({"run": True, "pointer": "checkpoints/sft.yaml", "baseline": "main", "reason": "changed"}),
        "FAST": "success",
        "FAST_RESULT": "",
        "FULL": "success",
        "FULL_RESULT": "",
        **env_over,
    }
    return subprocess.run(
        ["bash", "-e", "-c", publish_script(wf)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def _stage(stage: str, outcome: str, code: int, headline: str) -> str:
    from gate.ci.summary import StageResult

    return StageResult(stage, outcome, code, headline, f"{stage} report", run_id=f"run-{stage}").encode()


NO_POINTER = '{"run": false, "pointer": "", "baseline": "", "reason": "no checkpoint pointer changed"}'
TWO_POINTERS = (
    '{"run": false, "pointer": "", "baseline": "", "reason": "2 checkpoint pointers changed", '
    '"state": "failure", "exit_code": 2}'
)


@pytest.mark.parametrize(
    ("env", "conclusion", "word", "title", "rc"),
    [
        ({"PICK": NO_POINTER, "FAST": "skipped", "FULL": "skipped"},
         "success", "passed", "nothing to gate: no checkpoint pointer changed", 0),
        ({"FAST_RESULT": _stage("fast", "passed", 0, "ok"), "FULL_RESULT": _stage("full", "passed", 0, "ok")},
         "success", "passed", "passed: fast: ok; full: ok", 0),
        ({"FAST_RESULT": _stage("fast", "inconclusive", 0, "could not decide x"),
          "FULL_RESULT": _stage("full", "passed", 0, "ok")},
         "neutral", "inconclusive", "inconclusive: fast: could not decide x", 0),
        ({"FAST": "failure", "FAST_RESULT": _stage("fast", "blocked", 1, "arc_easy regressed"), "FULL": "skipped"},
         "failure", "blocked", "blocked: fast: arc_easy regressed", 1),
        ({"FAST_RESULT": _stage("fast", "passed", 0, "ok"), "FULL": "failure"},
         "failure", "gate broke", "gate broke: full: the job ended 'failure' before reporting a result", 3),
        ({"FAST": "failure", "FAST_RESULT": _stage("fast", "broke", 3, "cannot load the model"), "FULL": "skipped"},
         "failure", "gate broke", "gate broke: fast: cannot load the model", 3),
        ({"PICK": TWO_POINTERS, "FAST": "skipped", "FULL": "skipped"},
         "failure", "gate broke", "2 checkpoint pointers changed", 2),
    ],
)  # fmt: skip
def test_the_publish_step_answers_every_outcome(wf, gh, tmp_path, env, conclusion, word, title, rc):
    r = run_publish(wf, gh, tmp_path, **env)
    assert r.returncode == rc, r.stdout + r.stderr
    (run,) = gh.check_runs.values()
    assert run["conclusion"] == conclusion and run["output"]["title"].startswith(title), run["output"]["title"]
    if title.startswith("nothing to gate"):
        assert gh.comments_on(5) == []  # no comment to read on a PR that changes no pointer
        return
    (comment,) = gh.comments_on(5)
    heading = comment["body"].splitlines()[1]
    assert f": {word} —" in heading, heading
    assert heading in (tmp_path / "summary.md").read_text()  # the job summary says the same
    assert TOKEN not in r.stdout + r.stderr
    if env.get("FULL") == "skipped" and "FAST_RESULT" in env:
        assert "not run: the fast stage" in comment["body"]


def test_publishing_needs_no_model_code():
    # The publish job installs only PyGithub, click, pyyaml and jsonschema.
    code = (
        "import sys, gate.cli; gate.cli._register(); "
        "heavy = {'torch', 'transformers', 'lm_eval', 'mlflow', 'numpy', 'scipy'} & set(sys.modules); "
        "print(sorted(heavy)); sys.exit(bool(heavy))"
    )
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
