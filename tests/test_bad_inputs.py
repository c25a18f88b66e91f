"""Bad inputs and faults against the real CLI: none of them reads as a pass, or as "the model is worse".

Each case corrupts a copy of a real fixture (records produced by real runs, the shipped configs, a real
MLflow store, a GitHub-shaped server) and asserts what the issue "fail closed on every input" asks of
every one: its exit code (2 for usage and input, 3 for infrastructure), exactly one `gate: error:` line
on stderr that names the file or field at fault, no traceback, no file that existed before changed
(sha256 before and after), no output file left behind, and nothing posted to GitHub. Every `gate run`
case fails before the model loads, so none needs a model; the two that must load one are marked slow.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gate import record as records
from gate.cli import _register, cli
from tests.github_server import GitHubServer

_register()
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RECORD = DATA / "records" / "smollm2-check.json"  # a real run: arc_easy (a task) and mmlu (a group of 43 subjects)
PAIR = DATA / "records" / "diff" / "regress" / "damaged"  # candidate.json, baseline.json, thresholds.yaml
PASS_T = DATA / "configs" / "thresholds" / "valid" / "pass.yaml"
SMOKE = DATA / "suites" / "smoke.yaml"
CHECKPOINT = ROOT / "checkpoints" / "smollm2-135m-instruct.yaml"
RUBRIC = ROOT / "suites" / "domain" / "support_policy" / "rubrics" / "support_quality.yaml"
LABELS = ROOT / "suites" / "domain" / "support_policy" / "judge_labels.jsonl"
TOKEN = "ghp_Gate0Test0Token0000000000000000000000"
SHA = "2a6c97f6f5dc9166cc2e5d0d95415a386805ca07"
MLFLOW_FILES = ("mlflow.db", "mlflow.db-journal", "mlartifacts")  # MLflow may create its store where it is pointed


# -- the workspace of one case -----------------------------------------------------------------------


@dataclass
class Work:
    """A case's folder (the working directory), the environment it runs with, and the shared fixtures."""

    dir: Path
    store: Path  # a real MLflow store with baselines 'main', 'legacy' (no digest) and 'bad' (inconsistent)
    gh: GitHubServer
    env: dict[str, str | None] = field(default_factory=dict)

    def text(self, name: str, content: str) -> str:
        p = self.dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
        return str(p)

    def bytes(self, name: str, content: bytes) -> str:
        p = self.dir / name
        p.write_bytes(content)
        return str(p)

    def json(self, name: str, data: Any) -> str:
        return self.text(name, json.dumps(data))

    def copy(self, src: Path, name: str | None = None) -> str:
        p = self.dir / (name or src.name)
        shutil.copy(src, p)
        return str(p)

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.store / 'mlflow.db'}"

    def github(self, **overrides: str | None) -> None:
        """The Actions environment of a pull request, with the local GitHub-shaped server as the API."""
        event = self.json("event.json", {"pull_request": {"number": 12, "head": {"sha": SHA}}})
        self.env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": "acme/models",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": event,
                "GITHUB_SHA": "f" * 40,
                "GITHUB_API_URL": self.gh.base_url,
                "GITHUB_RUN_ID": "4242",
                "GITHUB_STEP_SUMMARY": str(self.dir / "summary.md"),
                "GITHUB_TOKEN": TOKEN,
                **overrides,
            }
        )

    def comparison(self) -> str:
        """A real `gate diff --format json` of the damaged pair, as the workflow passes it to `gate comment`."""
        r = CliRunner().invoke(
            cli,
            ["diff", str(PAIR / "candidate.json"), "--baseline-record", str(PAIR / "baseline.json")]
            + ["--format", "json"],
        )
        return self.text("cmp.json", r.stdout)


def rec() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


# -- the cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Work], list[str]]  # writes the inputs under Work.dir; returns the argv of `gate`
    code: int
    needles: tuple[str, ...]  # each must be in the one error line (the file, the field, the variable)
    posts: bool = False  # whether a request to GitHub is expected (a refused token is found out by asking)
    writes: tuple[str, ...] = ()  # files the command may create on its way to the error (the job summary)
    process: bool = False  # run `python -m gate` in a subprocess rather than in-process
    slow: bool = False


CASES: list[Case] = []


def case(id: str, code: int, *needles: str, **kw: Any):
    def add(build: Callable[[Work], list[str]]) -> Callable[[Work], list[str]]:
        CASES.append(Case(id, build, code, needles, **kw))
        return build

    return add


def record_case(id: str, mutate: Callable[[dict[str, Any]], Any], *needles: str, code: int = 2) -> None:
    """`gate check` on a copy of the real record, corrupted by `mutate`."""

    def build(w: Work) -> list[str]:
        data = rec()
        mutate(data)
        return ["check", w.json("r.json", data), "--thresholds", w.copy(PASS_T, "t.yaml")]

    case(f"record-{id}", code, "r.json", *needles)(build)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets one key path (dots, list indexes as numbers) of the record."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        node: Any = data
        for k in parents:
            node = node[k]
        node[last] = value

    return mutate


ARC, MMLU = "tasks.0 (arc_easy)", "tasks.1 (mmlu)"

# Records: non-finite numbers ------------------------------------------------------------------------
record_case("value-nan", _set("tasks.0.value", float("nan")), f"{ARC}.value", "not a finite number")
record_case("value-inf", _set("tasks.0.value", float("inf")), f"{ARC}.value", "not a finite number")
record_case("value-minus-inf", _set("tasks.1.value", float("-inf")), f"{MMLU}.value")
record_case("stderr-nan", _set("tasks.0.stderr", float("nan")), f"{ARC}.stderr")
record_case("item-score-nan", _set("tasks.0.items.3.score", float("nan")), f"{ARC}.items.3.score")
record_case("chance-inf", _set("tasks.1.chance", float("inf")), f"{MMLU}.chance")
record_case("timing-nan", _set("timing.wall_seconds", float("nan")), "timing.wall_seconds")
# Records: inconsistent with their own items ---------------------------------------------------------
record_case("value-edited", _set("tasks.0.value", 0.05), f"{ARC}.value", "not the mean of its 60 item scores")
record_case("value-edited-up", _set("tasks.0.value", 0.95), f"{ARC}.value")
record_case("group-value-edited", _set("tasks.1.value", 0.9), f"{MMLU}.value", "subtasks' means")
record_case("value-above-range", _set("tasks.0.value", 1.5), f"{ARC}.value", "range 0..1")
record_case("n-more-than-items", _set("tasks.0.n", 61), f"{ARC}.n", "holds 60 items")
record_case("n-fewer-than-items", _set("tasks.1.n", 59), f"{MMLU}.n")
record_case("fewer-items-than-requested", _set("tasks.0.n_requested", 65), f"{ARC}.items", "n_requested")
record_case("score-seven", _set("tasks.0.items.0.score", 7.0), f"{ARC}.items.0.score", "range 0..1")
record_case("score-negative", _set("tasks.1.items.5.score", -1.0), f"{MMLU}.items.5.score")
record_case("value-null-but-ok", _set("tasks.0.value", None), f"{ARC}.value", "null")
record_case("stderr-negative", _set("tasks.0.stderr", -0.1), f"{ARC}.stderr", "negative")
record_case("chance-above-one", _set("tasks.0.chance", 1.5), f"{ARC}.chance")
record_case("category-out-of-range", _set("tasks.0.category_scores", {"science": 3.0}), "category_scores.science")


def _dup_doc(data: dict[str, Any]) -> None:
    items = data["tasks"][0]["items"]
    twin = next(i for i in items[1:] if i["score"] == items[0]["score"])  # keeps the mean: only the id is wrong
    twin["doc_id"] = items[0]["doc_id"]


def _dup_doc_in_group(data: dict[str, Any]) -> None:
    items = data["tasks"][1]["items"]
    first, twin = next(
        (a, b) for a in items for b in items if a is not b and (a["group"], a["score"]) == (b["group"], b["score"])
    )
    twin["doc_id"] = first["doc_id"]


def _stray_group(data: dict[str, Any]) -> None:
    data["tasks"][1]["items"][0]["group"] = "mmlu_not_a_subject"


def _no_items(data: dict[str, Any]) -> None:
    data["tasks"][0]["items"] = []


def _no_tasks(data: dict[str, Any]) -> None:
    data["tasks"] = []


def _twice(data: dict[str, Any]) -> None:
    data["tasks"].append(data["tasks"][0])


def _skipped_with_value(data: dict[str, Any]) -> None:
    data["tasks"][0].update(status="skipped", skip_reason="skipped: no data")


def _early_mismatch(data: dict[str, Any]) -> None:
    data["tasks"][0]["early_stop"] = {
        "items_used": 40,
        "items_available": 2376,
        "decision": "above_floor",
        "reason": "r",
    }


def _early_more_than_available(data: dict[str, Any]) -> None:
    data["tasks"][0]["early_stop"] = {"items_used": 60, "items_available": 50, "decision": "above_floor", "reason": "r"}


def _judge_counts(data: dict[str, Any]) -> None:
    data["tasks"][0]["judge"] = {
        "model": "hf:judge", "prompt_version": 1, "prompt_hash": "h", "rubric_id": "r", "rubric_version": 1,
        "n_judged": 2, "n_invalid": 5,
    }  # fmt: skip


def _sample_without_n(data: dict[str, Any]) -> None:
    data["sampling"]["n"] = None


record_case("duplicate-doc-id", _dup_doc, f"{ARC}.items", "appears twice")
record_case("duplicate-doc-id-in-group", _dup_doc_in_group, f"{MMLU}.items", "in group 'mmlu_")
record_case("item-of-no-subtask", _stray_group, f"{MMLU}.items.0.group", "subtasks")
record_case("no-items", _no_items, f"{ARC}.items", "none")
record_case("no-tasks", _no_tasks, "tasks: none")
record_case("task-twice", _twice, "tasks.2 (arc_easy)", "appears twice")
record_case("skipped-with-items", _skipped_with_value, f"{ARC}.value", "skipped")
record_case("early-stop-mismatch", _early_mismatch, f"{ARC}.early_stop.items_used")
record_case("early-stop-past-available", _early_more_than_available, f"{ARC}.early_stop.items_available")
record_case("judge-counts", _judge_counts, f"{ARC}.judge.n_invalid")
record_case("sample-without-n", _sample_without_n, "sampling")
# Records: schema ------------------------------------------------------------------------------------
record_case("schema-version", _set("schema_version", 7), "schema_version")
record_case("unknown-task-key", _set("tasks.0.valeu", 0.5), f"{ARC}", "did you mean 'value'")
record_case("score-a-string", _set("tasks.0.items.0.score", "1"), f"{ARC}.items.0.score")
record_case("negative-doc-id", _set("tasks.1.items.0.doc_id", -3), f"{MMLU}.items.0.doc_id")
record_case("bad-fingerprint", _set("model.fingerprint", "md5:abc"), "model.fingerprint")
record_case("bad-digest", _set("digest", "sha256:xyz"), "digest")
record_case("status-unknown", _set("tasks.0.status", "maybe"), f"{ARC}.status")


@case("record-not-utf8", 2, "r.json", "not UTF-8")
def _(w: Work) -> list[str]:
    return ["check", w.bytes("r.json", RECORD.read_bytes().replace(b'"acc"', b'"\xff\xfe"', 1))]


@case("record-not-json", 2, "r.json", "not valid JSON")
def _(w: Work) -> list[str]:
    return ["check", w.text("r.json", RECORD.read_text()[:5000])]


@case("record-empty-file", 2, "r.json", "not valid JSON")
def _(w: Work) -> list[str]:
    return ["check", w.text("r.json", "")]


@case("record-a-list", 2, "r.json", "(top level)")
def _(w: Work) -> list[str]:
    return ["check", w.json("r.json", [rec()])]


@case("record-key-twice", 2, "r.json", "'value' appears twice")
def _(w: Work) -> list[str]:
    text = RECORD.read_text().replace('"value": 0.4666666666666667,', '"value": 0.4666666666666667, "value": 0.9,', 1)
    assert text != RECORD.read_text()
    return ["check", w.text("r.json", text), "--thresholds", w.copy(PASS_T, "t.yaml")]  # the last would pass


@case("record-nested-too-deep", 2, "r.json", "nested too deeply")
def _(w: Work) -> list[str]:
    return ["check", w.text("r.json", "[" * 100_000 + "]" * 100_000)]


@case("record-missing", 2, "nope.json", "record file not found")
def _(w: Work) -> list[str]:
    return ["check", str(w.dir / "nope.json")]


@case("record-a-folder", 2, "folder.json", "is a directory")
def _(w: Work) -> list[str]:
    (w.dir / "folder.json").mkdir()
    return ["check", str(w.dir / "folder.json")]


@case("record-under-a-file", 2, "a.json", "is a file, not a folder")
def _(w: Work) -> list[str]:
    return ["check", w.copy(RECORD, "a.json") + "/r.json"]


@case("record-edited-after-sealing", 2, "r.json", "digest", "changed after `gate run` wrote it")
def _(w: Work) -> list[str]:
    path = records.save(records.load(RECORD), w.dir / "sealed.json")  # sealed, as `gate run` writes it
    data = json.loads(path.read_text())
    data["created_at"] = "2030-01-01T00:00:00+00:00"  # consistent, but not what was written
    return ["check", w.json("r.json", data), "--thresholds", w.copy(PASS_T, "t.yaml")]


# Diffs: both records are checked, the baseline named when it is the bad one ------------------------------


def _pair(w: Work, cand: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> list[str]:
    c = w.json("cand.json", cand) if cand is not None else w.copy(PAIR / "candidate.json", "cand.json")
    b = w.json("base.json", base) if base is not None else w.copy(PAIR / "baseline.json", "base.json")
    return ["diff", c, "--baseline-record", b, "--thresholds", w.copy(PAIR / "thresholds.yaml", "t.yaml")]


def _pair_json(name: str) -> dict[str, Any]:
    return json.loads((PAIR / name).read_text())


@case("diff-candidate-fewer-than-requested", 2, "cand.json", "tasks.0 (arc_easy).items", "n_requested")
def _(w: Work) -> list[str]:
    cand = _pair_json("candidate.json")
    cand["tasks"][0]["n_requested"] = cand["tasks"][0]["n"] + 40
    return _pair(w, cand=cand)


@case("diff-two-empty-records", 2, "cand.json", "tasks: none")
def _(w: Work) -> list[str]:
    cand, base = _pair_json("candidate.json"), _pair_json("baseline.json")
    cand["tasks"], base["tasks"] = [], []
    return _pair(w, cand=cand, base=base)


@case("diff-baseline-value-nan", 2, "base.json", "tasks.0 (arc_easy).value", "not a finite number")
def _(w: Work) -> list[str]:
    base = _pair_json("baseline.json")
    base["tasks"][0]["value"] = float("nan")
    return _pair(w, base=base)


@case("diff-baseline-value-edited", 2, "base.json", "tasks.1 (medqa).value")
def _(w: Work) -> list[str]:
    base = _pair_json("baseline.json")
    base["tasks"][1]["value"] = 0.99
    return _pair(w, base=base)


@case("diff-require-digest-unsealed", 2, "cand.json", "digest: missing", "--require-digest")
def _(w: Work) -> list[str]:
    return [*_pair(w), "--require-digest"]


@case("diff-thresholds-max-drop-nan", 2, "t2.yaml", "tasks.arc_easy.max_drop", "not a finite number")
def _(w: Work) -> list[str]:
    t = w.text("t2.yaml", "tasks:\n  arc_easy: {metric: acc, higher_is_better: true, max_drop: .nan}\n")
    return [*_pair(w)[:-2], "--thresholds", t]


# Output paths: nothing is overwritten, nothing written through a file ----------------------------------


@case("diff-output-exists", 2, "--output", "keep.json", "already exists", "--overwrite")
def _(w: Work) -> list[str]:
    return [*_pair(w), "-o", w.copy(RECORD, "keep.json")]  # an EvalRecord: exactly what must never be lost


@case("diff-output-a-folder", 2, "out", "is a directory")
def _(w: Work) -> list[str]:
    (w.dir / "out").mkdir()
    return [*_pair(w), "-o", str(w.dir / "out")]


@case("diff-output-under-a-file", 2, "--output", "is a file, not a folder")
def _(w: Work) -> list[str]:
    return [*_pair(w), "-o", w.text("plain.txt", "x") + "/deeper/cmp.md"]


@case("diff-output-dangling-link", 2, "--output", "link.md", "already exists")
def _(w: Work) -> list[str]:
    (w.dir / "link.md").symlink_to(w.dir / "nowhere" / "x.md")
    return [*_pair(w), "-o", str(w.dir / "link.md")]


@case("show-output-exists", 2, "--output", "keep.json", "already exists")
def _(w: Work) -> list[str]:
    return ["baseline", "show", "main", "--tracking-uri", w.uri, "-o", w.copy(RECORD, "keep.json")]


@case("show-output-under-a-file", 2, "--output", "is a file, not a folder")
def _(w: Work) -> list[str]:
    return ["baseline", "show", "main", "--tracking-uri", w.uri, "-o", w.text("f", "x") + "/b.json"]


# Thresholds --------------------------------------------------------------------------------------------


def thresholds_case(id: str, body: str, *needles: str) -> None:
    def build(w: Work) -> list[str]:
        return ["check", w.copy(RECORD, "r.json"), "--thresholds", w.text("t.yaml", body)]

    case(f"thresholds-{id}", 2, "t.yaml", *needles)(build)


RULE = "tasks:\n  arc_easy: {{metric: acc, higher_is_better: true, {}}}\n"
thresholds_case("pairwise-without-judge", RULE.format("max_drop: 0.1") + "pairwise: {min_win_rate: 0.4}\n", "pairwise")
thresholds_case(
    "pairwise-floor-above-1",
    RULE.format("max_drop: 0.1") + "pairwise: {min_win_rate: 1.5, judge: {model: j, prompt_version: 1}}\n",
    "pairwise.min_win_rate",
)
thresholds_case("max-drop-nan", RULE.format("max_drop: .nan"), "tasks.arc_easy.max_drop", "not a finite number")
thresholds_case("max-drop-inf", RULE.format("max_drop: .inf"), "tasks.arc_easy.max_drop", "not a finite number")
thresholds_case("floor-nan", RULE.format("floor: .nan"), "tasks.arc_easy.floor", "not a finite number")
thresholds_case("floor-minus-inf", RULE.format("floor: -.inf"), "tasks.arc_easy.floor")
thresholds_case("floor-negative", RULE.format("floor: -1"), "tasks.arc_easy.floor", "range 0..1")
thresholds_case("floor-above-one", RULE.format("floor: 1.5"), "tasks.arc_easy.floor", "range 0..1")
thresholds_case("max-drop-wider-than-range", RULE.format("max_drop: 2"), "tasks.arc_easy.max_drop", "whole range")
thresholds_case("max-drop-negative", RULE.format("max_drop: -0.1"), "tasks.arc_easy.max_drop")
thresholds_case("floor-a-string", RULE.format("floor: '0.5'"), "tasks.arc_easy.floor")
thresholds_case("floor-a-bool", RULE.format("floor: true"), "tasks.arc_easy.floor")
thresholds_case(
    "neither-rule", "tasks:\n  arc_easy: {metric: acc, higher_is_better: true}\n", "none of floor, max_drop"
)
thresholds_case("no-direction", "tasks:\n  arc_easy: {metric: acc, floor: 0.3}\n", "higher_is_better")
thresholds_case("direction-a-string", RULE.format("floor: 0.3").replace("true", "'yes'"), "higher_is_better")
thresholds_case("alpha-nan", "alpha: .nan\n" + RULE.format("floor: 0.3"), "alpha", "not a finite number")
thresholds_case("alpha-zero", "alpha: 0\n" + RULE.format("floor: 0.3"), "alpha")
thresholds_case("alpha-half", "alpha: 0.5\n" + RULE.format("floor: 0.3"), "alpha")
thresholds_case("alpha-above-one", "alpha: 1.2\n" + RULE.format("floor: 0.3"), "alpha")
thresholds_case(
    "task-twice",
    "tasks:\n  mmlu: {metric: acc, higher_is_better: true, floor: 0.60}\n"
    "  arc_easy: {metric: acc, higher_is_better: true, floor: 0.3}\n"
    "  mmlu: {metric: acc, higher_is_better: true, floor: 0.10}\n",
    "'mmlu' appears twice",
    "line 2",
    "line 4",
)
thresholds_case(
    "floor-twice",
    "tasks:\n  arc_easy:\n    metric: acc\n    higher_is_better: true\n    floor: 0.6\n    floor: 0.1\n",
    "'floor' appears twice",
)
thresholds_case("alpha-twice", "alpha: 0.05\nalpha: 0.4\n" + RULE.format("floor: 0.3"), "'alpha' appears twice")
thresholds_case("empty-file", "", "empty")
thresholds_case("only-a-comment", "# nothing here\n", "empty")
thresholds_case("a-list", "- arc_easy\n", "mapping")
thresholds_case("not-yaml", "tasks:\n  arc_easy: {metric: acc\n", "not valid YAML")
thresholds_case("no-tasks", "tasks: {}\n", "tasks")
thresholds_case("unknown-key", "alhpa: 0.05\n" + RULE.format("floor: 0.3"), "did you mean 'alpha'")
thresholds_case("inconclusive-unknown", "inconclusive: maybe\n" + RULE.format("floor: 0.3"), "inconclusive")
thresholds_case("policy-unknown-key", "policy: {block_on_everything: true}\n" + RULE.format("floor: 0.3"), "policy")


@case("thresholds-not-utf8", 2, "t.yaml", "not UTF-8")
def _(w: Work) -> list[str]:
    return ["check", w.copy(RECORD, "r.json"), "--thresholds", w.bytes("t.yaml", b"tasks:\n  \xff\xfe: {}\n")]


@case("thresholds-a-folder", 2, "t.yaml", "is a directory")
def _(w: Work) -> list[str]:
    (w.dir / "t.yaml").mkdir()
    return ["check", w.copy(RECORD, "r.json"), "--thresholds", str(w.dir / "t.yaml")]


@case("thresholds-missing", 2, "t.yaml", "not found")
def _(w: Work) -> list[str]:
    return ["check", w.copy(RECORD, "r.json"), "--thresholds", str(w.dir / "t.yaml")]


# Suites and `gate run`: every bad argument is found before the model loads -------------------------------


def run_args(w: Work, *extra: str, suite: str | None = None, sample: bool = True) -> list[str]:
    s = suite or w.copy(SMOKE, "suite.yaml")
    # A sample of two keeps a gate that wrongly starts the evaluation from running for hours.
    few = ["--sample", "2"] if sample else []
    return [
        "run",
        "--model",
        "smollm2-135m",
        "--suite",
        s,
        *few,
        "--output",
        str(w.dir / "r.json"),
        "--no-mlflow",
        *extra,
    ]


def suite_case(id: str, body: str, *needles: str) -> None:
    def build(w: Work) -> list[str]:
        return run_args(w, suite=w.text("suite.yaml", body))

    case(f"suite-{id}", 2, "suite.yaml", *needles)(build)


ARC_TASK = "  - {task: arc_easy, num_fewshot: 0, metric: acc, kind: general}\n"
SUITE = "name: s\nversion: 1\ntasks:\n" + ARC_TASK
suite_case("name-twice", "name: s\nname: t\nversion: 1\ntasks:\n" + ARC_TASK, "'name' appears twice")
suite_case(
    "metric-twice",
    "name: s\nversion: 1\ntasks:\n  - task: arc_easy\n    num_fewshot: 0\n    metric: acc\n    metric: acc_norm\n"
    "    kind: general\n",
    "'metric' appears twice",
    "line 6",
    "line 7",
)
suite_case("empty", "", "empty")
suite_case("a-list", "- arc_easy\n", "mapping")
suite_case("name-with-a-quote", SUITE.replace("name: s", 'name: "it\'s"'), "name")
suite_case("no-tasks", "name: s\nversion: 1\ntasks: []\n", "tasks")
suite_case("version-zero", SUITE.replace("version: 1", "version: 0"), "version")
suite_case("fewshot-negative", SUITE.replace("num_fewshot: 0", "num_fewshot: -1"), "num_fewshot")
suite_case("limit-zero", SUITE.replace("kind: general}", "kind: general, limit: 0}"), "limit")
suite_case("kind-unknown", SUITE.replace("kind: general", "kind: other"), "kind")
suite_case("limit-nan", SUITE.replace("kind: general}", "kind: general, limit: .nan}"), "limit", "finite")
suite_case("task-twice", SUITE + ARC_TASK, "listed twice")
suite_case("unknown-task", SUITE.replace("arc_easy", "arc_eazy"), "unknown lm-eval task 'arc_eazy'", "arc_easy")
suite_case("multiturn-without-chat", "fewshot_as_multiturn: true\n" + SUITE, "fewshot_as_multiturn")
suite_case("include-path-missing", "include_paths: [nope]\n" + SUITE, "include_paths")
suite_case(
    "rubric-missing",
    SUITE.replace("kind: general}", "kind: domain, judge_rubric: rubrics/nope.yaml}"),
    "judge_rubric",
)
suite_case("misspelt-key", SUITE.replace("metric: acc", "metirc: acc"), "did you mean 'metric'")


@case("suite-not-utf8", 2, "suite.yaml", "not UTF-8")
def _(w: Work) -> list[str]:
    return run_args(w, suite=w.bytes("suite.yaml", b"name: \xff\n"))


@case("suite-missing", 2, "nope.yaml", "not found")
def _(w: Work) -> list[str]:
    return run_args(w, suite=str(w.dir / "nope.yaml"))


@case("suite-then-key-twice", 2, "two.yaml", "'version' appears twice")
def _(w: Work) -> list[str]:
    two = w.text("two.yaml", "name: two\nversion: 1\nversion: 2\ntasks:\n" + ARC_TASK)
    return run_args(w, "--then", two, "--thresholds", w.copy(PASS_T, "t.yaml"))


@case("run-output-exists", 2, "--output", "r.json", "already exists", "--overwrite")
def _(w: Work) -> list[str]:
    w.copy(RECORD, "r.json")
    return run_args(w)


@case("run-then-output-exists", 2, "--output", "r.stage-two.json", "already exists")
def _(w: Work) -> list[str]:
    w.copy(RECORD, "r.stage-two.json")
    return run_args(w, "--then", w.copy(DATA / "suites" / "stage_two.yaml"), "--thresholds", w.copy(PASS_T, "t.yaml"))


@case("run-output-a-folder", 2, "r.json", "is a directory")
def _(w: Work) -> list[str]:
    (w.dir / "r.json").mkdir()
    return run_args(w)


@case("run-output-under-a-file", 2, "--output", "is a file, not a folder")
def _(w: Work) -> list[str]:
    args = run_args(w)
    args[args.index("--output") + 1] = w.text("runs", "a file where a folder should be") + "/ckpt.json"
    return args


@case("run-device-banana", 2, "--device", "banana")
def _(w: Work) -> list[str]:
    return run_args(w, "--device", "banana")


@case("run-device-cuda-n", 2, "--device cuda:7")
def _(w: Work) -> list[str]:
    return run_args(w, "--device", "cuda:7")


@case("run-batch-size-zero", 2, "--batch-size")
def _(w: Work) -> list[str]:
    return run_args(w, "--batch-size", "0")


@case("run-max-length-negative", 2, "--max-length")
def _(w: Work) -> list[str]:
    return run_args(w, "--max-length", "-5")


@case("run-sample-zero", 2, "--sample")
def _(w: Work) -> list[str]:
    return run_args(w, "--sample", "0")


@case("run-sample-and-items-from", 2, "--sample and --items-from")
def _(w: Work) -> list[str]:
    return run_args(w, "--sample", "3", "--items-from", w.copy(RECORD))


@case("run-items-from-corrupt", 2, "items.json", "tasks.0 (arc_easy).value")
def _(w: Work) -> list[str]:
    data = rec()
    data["tasks"][0]["value"] = float("nan")
    return run_args(w, "--items-from", w.json("items.json", data), sample=False)


@case("run-items-from-missing", 2, "gone.json", "record file not found")
def _(w: Work) -> list[str]:
    return run_args(w, "--items-from", str(w.dir / "gone.json"), sample=False)


@case("run-model-missing-folder", 2, "--model", "not a directory")
def _(w: Work) -> list[str]:
    args = run_args(w)
    args[args.index("--model") + 1] = str(w.dir / "no-such-ckpt")
    return args


def _ckpt(w: Work, *files: tuple[str, bytes]) -> list[str]:
    folder = w.dir / "ckpt"
    folder.mkdir()
    for name, content in files:
        (folder / name).write_bytes(content)
    args = run_args(w)
    args[args.index("--model") + 1] = str(folder)
    return args


def _safetensors(n_bytes: int) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [n_bytes // 4], "data_offsets": [0, n_bytes]}}).encode()
    return len(header).to_bytes(8, "little") + header + b"\0" * n_bytes


TOKENIZER = (("tokenizer.json", b"{}"), ("tokenizer_config.json", b"{}"))


@case("run-model-only-safetensors", 2, "ckpt", "config.json and the tokenizer missing")
def _(w: Work) -> list[str]:
    return _ckpt(w, ("model.safetensors", _safetensors(64)))


@case("run-model-no-tokenizer", 2, "ckpt", "the tokenizer missing")
def _(w: Work) -> list[str]:
    return _ckpt(w, ("model.safetensors", _safetensors(64)), ("config.json", b"{}"))


@case("run-model-truncated-safetensors", 3, "model.safetensors", "corrupt or truncated")
def _(w: Work) -> list[str]:
    return _ckpt(w, ("model.safetensors", _safetensors(4096)[:600]), ("config.json", b"{}"), *TOKENIZER)


@case("run-model-garbage-safetensors", 3, "model.safetensors", "corrupt or truncated")
def _(w: Work) -> list[str]:
    return _ckpt(w, ("model.safetensors", os.urandom(256)), ("config.json", b"{}"), *TOKENIZER)


@case("run-model-pickle-refused", 2, "--allow-pickle")
def _(w: Work) -> list[str]:
    return _ckpt(w, ("pytorch_model.bin", b"not a pickle"), ("config.json", b"{}"), *TOKENIZER)


@case("run-gguf-file-missing", 2, "--gguf-file", "nope.gguf")
def _(w: Work) -> list[str]:
    args = _ckpt(w, ("config.json", b"{}"))
    return [*args, "--gguf-file", "nope.gguf"]


@case("run-data-dir-missing", 2, "--data-dir", "no such directory")
def _(w: Work) -> list[str]:
    return run_args(w, "--data-dir", str(w.dir / "no-data"))


@case("run-data-file-missing", 2, "allenai/ai2_arc/ARC-Easy/test.jsonl", "not found")
def _(w: Work) -> list[str]:
    (w.dir / "data").mkdir()
    return run_args(w, "--data-dir", str(w.dir / "data"))


@case("run-hf-token-newline", 2, "HF_TOKEN", "whitespace or control characters")
def _(w: Work) -> list[str]:
    w.env["HF_TOKEN"] = "hf_AbCdEfGhIjKlMnOpQrSt\nUvWxYz0123456789"
    return run_args(w)


@case("run-mlflow-token-space", 2, "MLFLOW_TRACKING_TOKEN")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_TRACKING_TOKEN"] = "s3cr3t-part-one s3cr3t-part-two"
    return run_args(w)


@case("run-mlflow-unknown-scheme", 2, "tracking URI", "unknown scheme 'mlfow'")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_TRACKING_URI"] = "mlfow://tracking.internal"
    return run_args(w)[:-1]  # logs to MLflow: the store is checked before the model loads


@case("run-mlflow-unreachable", 3, "127.0.0.1", "unreachable")
def _(w: Work) -> list[str]:
    w.env.update(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed_port()}", MLFLOW_HTTP_REQUEST_TIMEOUT="2")
    return run_args(w)[:-1]


@case("run-thresholds-floor-nan", 2, "t.yaml", "tasks.arc_easy.floor", "not a finite number")
def _(w: Work) -> list[str]:
    return run_args(w, "--early-verdict", "--thresholds", w.text("t.yaml", RULE.format("floor: .nan")))


def _judged_suite(w: Work, optional: bool) -> str:
    inc = ROOT / "suites" / "domain" / "support_policy"
    return w.text(
        "judged.yaml",
        f"name: judged\nversion: 1\ninclude_paths: [{inc}]\ntasks:\n"
        f"  - {{task: domain_support_judged, num_fewshot: 0, metric: judge_pass, kind: domain, "
        f"optional: {str(optional).lower()}, judge_rubric: {RUBRIC}}}\n",
    )


@case("run-judge-spec-malformed", 2, "judge model", "BACKEND:ARGS")
def _(w: Work) -> list[str]:
    return run_args(w, "--judge-model", "a-judge", suite=_judged_suite(w, optional=True))


@case("run-judge-spec-key-in-args", 2, "judge model", "OPENAI_API_KEY")
def _(w: Work) -> list[str]:
    spec = "local-chat-completions:model=m,base_url=http://127.0.0.1:1,api_key=sk-1"
    return run_args(w, "--judge-model", spec, suite=_judged_suite(w, optional=True))


@case("run-judged-task-without-judge", 2, "domain_support_judged", "--judge-model")
def _(w: Work) -> list[str]:
    return run_args(w, suite=_judged_suite(w, optional=False))


# MLflow -------------------------------------------------------------------------------------------------


@case("mlflow-unknown-scheme", 2, "tracking URI", "unknown scheme 'foo'")
def _(w: Work) -> list[str]:
    return ["baseline", "list", "--tracking-uri", "foo://bar"]


@case("mlflow-sqlite-in-no-folder", 2, "tracking URI", "does not exist")
def _(w: Work) -> list[str]:
    return ["baseline", "list", "--tracking-uri", f"sqlite:///{w.dir / 'no' / 'such' / 'mlflow.db'}"]


@case("mlflow-sqlite-two-slashes", 2, "tracking URI", "three slashes")
def _(w: Work) -> list[str]:
    return ["baseline", "list", "--tracking-uri", "sqlite://mlflow.db"]


@case("mlflow-http-without-host", 2, "tracking URI", "no host")
def _(w: Work) -> list[str]:
    return ["baseline", "list", "--tracking-uri", "http://"]


@case("mlflow-uri-with-whitespace", 2, "tracking URI", "whitespace")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_TRACKING_URI"] = f"{w.uri}\n"
    return ["baseline", "list"]


@case("mlflow-password-newline", 2, "MLFLOW_TRACKING_PASSWORD", "whitespace or control characters")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_TRACKING_PASSWORD"] = "hunter2\nhunter2hunter2"
    return ["baseline", "list", "--tracking-uri", w.uri]


@case("mlflow-unreachable-diff", 3, "127.0.0.1", "unreachable")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "2"
    cand = w.copy(PAIR / "candidate.json", "cand.json")
    return ["diff", cand, "--baseline", "main", "--tracking-uri", f"http://127.0.0.1:{closed_port()}"]


@case("mlflow-unreachable-freeze", 3, "127.0.0.1", "unreachable")
def _(w: Work) -> list[str]:
    w.env["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "2"
    b = w.copy(PAIR / "baseline.json", "b.json")
    return ["baseline", "freeze", b, "--name", "main", "--tracking-uri", f"http://127.0.0.1:{closed_port()}"]


@case("mlflow-history-suite-quote", 2, "--suite", "not a suite name")
def _(w: Work) -> list[str]:
    return ["baseline", "history", "--suite", "fast' or '1'='1", "--tracking-uri", w.uri]


@case("mlflow-unknown-baseline", 2, "no baseline named 'nope'", "known: bad, legacy, main")
def _(w: Work) -> list[str]:
    return ["diff", w.copy(PAIR / "candidate.json", "cand.json"), "--baseline", "nope", "--tracking-uri", w.uri]


@case("mlflow-reserved-name", 2, "baseline name 'latest'")
def _(w: Work) -> list[str]:
    return ["baseline", "freeze", w.copy(PAIR / "baseline.json", "b.json"), "--name", "latest", "--tracking-uri", w.uri]


@case("mlflow-name-exists", 2, "baseline 'main' already exists", "--replace")
def _(w: Work) -> list[str]:
    return ["baseline", "freeze", w.copy(PAIR / "baseline.json", "b.json"), "--name", "main", "--tracking-uri", w.uri]


@case("mlflow-freeze-corrupt-record", 2, "b.json", "tasks.0 (arc_easy).value")
def _(w: Work) -> list[str]:
    base = _pair_json("baseline.json")
    base["tasks"][0]["value"] = 0.01
    return ["baseline", "freeze", w.json("b.json", base), "--name", "other", "--tracking-uri", w.uri]


@case("mlflow-freeze-edited-sealed-record", 2, "b.json", "digest")
def _(w: Work) -> list[str]:
    data = json.loads(records.dumps(records.load(PAIR / "baseline.json")))  # sealed
    data["model"]["id"] = "someone/else"
    return ["baseline", "freeze", w.json("b.json", data), "--name", "other", "--tracking-uri", w.uri]


@case("mlflow-freeze-require-digest", 2, "b.json", "digest: missing")
def _(w: Work) -> list[str]:
    b = w.copy(PAIR / "baseline.json", "b.json")
    return ["baseline", "freeze", b, "--name", "other", "--require-digest", "--tracking-uri", w.uri]


@case("mlflow-baseline-without-digest", 2, "baseline 'legacy'", "digest: missing", "--no-require-digest")
def _(w: Work) -> list[str]:
    return ["diff", w.copy(PAIR / "candidate.json", "cand.json"), "--baseline", "legacy", "--tracking-uri", w.uri]


@case("mlflow-baseline-inconsistent", 2, "baseline 'bad'", "tasks.0 (arc_easy).value")
def _(w: Work) -> list[str]:
    return ["diff", w.copy(PAIR / "candidate.json", "cand.json"), "--baseline", "bad", "--tracking-uri", w.uri]


@case("mlflow-show-baseline-inconsistent", 2, "baseline 'bad'", "tasks.0 (arc_easy).value")
def _(w: Work) -> list[str]:
    return ["baseline", "show", "bad", "--tracking-uri", w.uri, "--no-require-digest"]


@case("mlflow-artifact-tampered", 3, "baseline 'main'", "changed after it was frozen")
def _(w: Work) -> list[str]:
    from gate.store.tracking import Store

    own = w.dir / "own-store"
    own.mkdir()
    uri = f"sqlite:///{own / 'mlflow.db'}"
    Store(uri).freeze("main", record=records.load(PAIR / "baseline.json"), who="ci")
    (artifact,) = own.glob("mlartifacts/*/artifacts/record.json")
    artifact.write_text(artifact.read_text().replace('"created_at": "', '"created_at": "1', 1))
    return ["diff", w.copy(PAIR / "candidate.json", "cand.json"), "--baseline", "main", "--tracking-uri", uri]


# GitHub (`gate comment`) --------------------------------------------------------------------------------


def comment_args(w: Work, *extra: str) -> list[str]:
    return ["comment", "--comparison", w.comparison(), *extra]


def token_case(id: str, name: str, value: str, *, drop_github: bool = False) -> None:
    def build(w: Work) -> list[str]:
        w.github(**({"GITHUB_TOKEN": None} if drop_github else {}))
        w.env[name] = value
        return comment_args(w)

    case(f"github-{id}", 2, name, "copy-paste accident" if value.strip() else "empty")(build)


token_case("token-newline", "GITHUB_TOKEN", TOKEN[:20] + "\n" + TOKEN[20:])
token_case("token-trailing-text", "GITHUB_TOKEN", TOKEN + "\nexport OTHER=1")
token_case("token-space", "GITHUB_TOKEN", TOKEN[:10] + " " + TOKEN[10:])
token_case("token-tab", "GITHUB_TOKEN", TOKEN + "\tcomment")
token_case("token-control-char", "GITHUB_TOKEN", TOKEN + "\x07")
token_case("token-blank", "GITHUB_TOKEN", "   ")
token_case("gh-token-newline", "GH_TOKEN", TOKEN[:20] + "\n" + TOKEN[20:], drop_github=True)


@case("github-no-token", 2, "no GitHub token", "GITHUB_TOKEN")
def _(w: Work) -> list[str]:
    w.github(GITHUB_TOKEN=None)
    return comment_args(w)


@case("github-wrong-token", 3, "401 Bad credentials", "GITHUB_TOKEN", posts=True, writes=("summary.md",))
def _(w: Work) -> list[str]:
    w.github(GITHUB_TOKEN="ghp_Wrong0Token00000000000000000000000000")
    return comment_args(w)


@case("github-api-url-not-a-url", 2, "--api-url", "notaurl")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--api-url", "notaurl")


@case("github-api-url-env-ftp", 2, "GITHUB_API_URL", "not an http(s) URL")
def _(w: Work) -> list[str]:
    w.github(GITHUB_API_URL="ftp://api.github.com")
    return comment_args(w)


@case("github-api-url-with-password", 2, "--api-url", "user name or password")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--api-url", "https://me:hunter2hunter2@api.github.com")


@case("github-server-url-not-a-url", 2, "GITHUB_SERVER_URL")
def _(w: Work) -> list[str]:
    w.github(GITHUB_SERVER_URL="github.com")
    return comment_args(w)


@case("github-summary-a-folder", 2, "GITHUB_STEP_SUMMARY", "is a folder")
def _(w: Work) -> list[str]:
    (w.dir / "summary").mkdir()
    w.github(GITHUB_STEP_SUMMARY=str(w.dir / "summary"))
    return comment_args(w)


@case("github-summary-in-no-folder", 2, "GITHUB_STEP_SUMMARY", "does not exist")
def _(w: Work) -> list[str]:
    w.github(GITHUB_STEP_SUMMARY=str(w.dir / "gone" / "summary.md"))
    return comment_args(w)


@case("github-report-a-folder", 2, "report-dir", "is a folder")
def _(w: Work) -> list[str]:
    w.github()
    (w.dir / "report-dir").mkdir()
    return comment_args(w, "--report", str(w.dir / "report-dir"))


@case("github-report-not-utf8", 2, "r.md", "not UTF-8")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--report", w.bytes("r.md", b"### verdict \xff\xfe\n"))


@case("github-report-missing", 2, "gone.md", "report file not found")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--report", str(w.dir / "gone.md"))


def comparison_case(id: str, text: str | bytes, *needles: str) -> None:
    def build(w: Work) -> list[str]:
        w.github()
        cmp = w.bytes("c.json", text) if isinstance(text, bytes) else w.text("c.json", text)
        return ["comment", "--comparison", cmp]

    case(f"github-comparison-{id}", 2, "c.json", *needles)(build)


comparison_case("not-json", "### a markdown report\n", "not valid JSON")
comparison_case("a-list", "[]", "not an object")
comparison_case("key-twice", '{"passed": true, "passed": false}', "'passed' appears twice")
comparison_case("not-utf8", b'{"passed": \xff}', "not UTF-8")
comparison_case("not-a-comparison", '{"passed": true}', "not the JSON of `gate diff --format json`")


@case("github-comparison-nan", 2, "c.json", "not a finite number")
def _(w: Work) -> list[str]:
    w.github()
    data = json.loads(Path(w.comparison()).read_text())
    data["alpha"] = float("nan")
    return ["comment", "--comparison", w.json("c.json", data)]


@case("github-comparison-a-folder", 2, "c.json", "is a directory")
def _(w: Work) -> list[str]:
    w.github()
    (w.dir / "c.json").mkdir()
    return ["comment", "--comparison", str(w.dir / "c.json")]


@case("github-event-missing", 2, "gone-event.json", "GITHUB_EVENT_PATH")
def _(w: Work) -> list[str]:
    w.github(GITHUB_EVENT_PATH=str(w.dir / "gone-event.json"))
    return comment_args(w)


@case("github-event-not-json", 2, "ev.json", "not valid JSON")
def _(w: Work) -> list[str]:
    w.github(GITHUB_EVENT_PATH=w.text("ev.json", "{pull_request: 12"))
    return comment_args(w)


@case("github-event-not-utf8", 2, "ev.json", "not UTF-8")
def _(w: Work) -> list[str]:
    w.github(GITHUB_EVENT_PATH=w.bytes("ev.json", b'{"x": "\xff"}'))
    return comment_args(w)


@case("github-repo-malformed", 2, "repository", "owner/name")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--repo", "not a repo")


@case("github-sha-malformed", 2, "commit sha", "40 lower-case hex")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--sha", "HEAD~1")


@case("github-pr-zero", 2, "PR number 0")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--pr", "0")


@case("github-annotation-malformed", 2, "--error", "TASK: message")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--error", "no colon here")


@case("github-comparison-and-state", 2, "--comparison gives the verdict")
def _(w: Work) -> list[str]:
    w.github()
    return comment_args(w, "--state", "success")


# Checkpoint pointers, the judge's calibration inputs, the command line itself -------------------------------


def checkpoint_case(id: str, body: str | bytes, *needles: str) -> None:
    def build(w: Work) -> list[str]:
        path = w.bytes("ck.yaml", body) if isinstance(body, bytes) else w.text("ck.yaml", body)
        return ["checkpoint", "show", path]

    case(f"checkpoint-{id}", 2, "ck.yaml", *needles)(build)


CK = CHECKPOINT.read_text()
checkpoint_case("key-twice", CK + "dtype: bfloat16\n", "'dtype' appears twice")
checkpoint_case("empty", "", "empty")
checkpoint_case("relative-model", CK.replace("/opt/models/", "./models/"), "model", "relative")
checkpoint_case("hub-without-revision", CK.replace("/opt/models/smollm2-135m-instruct", "acme/sft-v3"), "revision")
checkpoint_case("trust-remote-code", CK + "trust_remote_code: true\n", "trust_remote_code")
checkpoint_case("batch-size-nan", CK.replace("batch_size: 16", "batch_size: .nan"), "batch_size", "finite")
checkpoint_case("not-utf8", CK.encode().replace(b"SmolLM2", b"\xffmolLM2", 1), "not UTF-8")


@case("judge-labels-not-utf8", 2, "labels.jsonl", "not UTF-8")
def _(w: Work) -> list[str]:
    labels = w.bytes("labels.jsonl", LABELS.read_bytes()[:200] + b"\xff\n")
    return ["judge", "calibrate", "--labels", labels, "--rubric", str(RUBRIC), "--replies", w.text("rep.jsonl", "")]


@case("judge-labels-key-twice", 2, "labels.jsonl:1", "'human_pass' appears twice")
def _(w: Work) -> list[str]:
    line = '{"id": "a", "input": "q", "response": "r", "human_pass": true, "human_pass": false}\n'
    labels = w.text("labels.jsonl", line)
    return ["judge", "calibrate", "--labels", labels, "--rubric", str(RUBRIC), "--replies", w.text("rep.jsonl", "")]


@case("judge-labels-a-list", 2, "labels.jsonl:1", "one JSON object a line")
def _(w: Work) -> list[str]:
    labels = w.text("labels.jsonl", '["a", "q", "r", true]\n')
    return ["judge", "calibrate", "--labels", labels, "--rubric", str(RUBRIC), "--replies", w.text("rep.jsonl", "")]


@case("judge-rubric-key-twice", 2, "rubric.yaml", "appears twice")
def _(w: Work) -> list[str]:
    rubric = w.text("rubric.yaml", RUBRIC.read_text() + "version: 9\n")
    return ["judge", "calibrate", "--labels", str(LABELS), "--rubric", rubric, "--replies", w.text("rep.jsonl", "")]


PAIRWISE_JUDGE = {"model": "hf:judge", "prompt_version": 1, "prompt_hash": "sha256:x", "rubric_id": "pairwise_default",
                  "rubric_version": 1, "n_judged": 2, "n_invalid": 0}  # fmt: skip


def _pairwise_result(**over: Any) -> str:
    item = {"task": "qa", "doc_id": 0, "group": None, "candidate_first": "tie", "baseline_first": "tie",
            "outcome": "tie", "reason": "r"}  # fmt: skip
    data = {"candidate_digest": "sha256:" + "0" * 64, "baseline_digest": "sha256:" + "1" * 64,
            "candidate_model": "c", "baseline_model": "b", "judge": PAIRWISE_JUDGE, "tasks": ["qa"], "items": [item],
            "alpha": 0.05, "win_rate": 0.5, "ci_low": 0.1, "ci_high": 0.9, "method": "wilson"}  # fmt: skip
    return json.dumps({**data, **over})


@case("judge-pairwise-no-generation-task", 2, "r.json", "tasks: no generation task")
def _(w: Work) -> list[str]:
    r = w.copy(RECORD, "r.json")
    out = str(w.dir / "p.json")
    return ["judge", "pairwise", "--candidate", r, "--baseline", r, "--judge-model", "hf:/no/judge", "-o", out]


@case("judge-pairwise-labels-bad-winner", 2, "labels.jsonl:1", "human_winner", "'A'")
def _(w: Work) -> list[str]:
    line = '{"id": "a", "input": "q", "answer_1": "x", "answer_2": "y", "human_winner": "A"}\n'
    return ["judge", "calibrate", "--pairwise", "--labels", w.text("labels.jsonl", line), "--replies", w.text("r", "")]


def _diff_pairwise(w: Work, body: str) -> list[str]:
    cand, base = w.copy(PAIR / "candidate.json"), w.copy(PAIR / "baseline.json")
    return ["diff", cand, "--baseline-record", base, "--pairwise", w.text("pairwise.json", body)]


@case("diff-pairwise-other-records", 2, "pairwise.json", "candidate_digest", "gate judge pairwise")
def _(w: Work) -> list[str]:
    return _diff_pairwise(w, _pairwise_result())


@case("diff-pairwise-win-rate-off-its-items", 2, "pairwise.json", "win_rate: 0.9")
def _(w: Work) -> list[str]:
    return _diff_pairwise(w, _pairwise_result(win_rate=0.9))


@case("diff-pairwise-unknown-outcome", 2, "pairwise.json", "items.0", "outcome")
def _(w: Work) -> list[str]:
    bad = json.loads(_pairwise_result())
    bad["items"][0]["outcome"] = "victory"
    return _diff_pairwise(w, json.dumps(bad))


@case("cli-unknown-command", 2, "No such command 'chekc'")
def _(w: Work) -> list[str]:
    return ["chekc", w.copy(RECORD)]


@case("cli-unknown-option", 2, "No such option", "--treshold")
def _(w: Work) -> list[str]:
    return ["check", w.copy(RECORD), "--treshold", "t.yaml"]


@case("cli-diff-two-baselines", 2, "exactly one of --baseline NAME or --baseline-record FILE")
def _(w: Work) -> list[str]:
    return ["diff", w.copy(RECORD), "--baseline", "main", "--baseline-record", w.copy(RECORD, "b.json")]


# Through the installed entry point (`python -m gate`, a real process): the same codes and the same one line.


@case("process-record-not-utf8", 2, "r.json", "not UTF-8", process=True)
def _(w: Work) -> list[str]:
    return ["check", w.bytes("r.json", b"\xff\xfe{}")]


@case("process-token-newline", 2, "GITHUB_TOKEN", "copy-paste accident", process=True)
def _(w: Work) -> list[str]:
    w.github(GITHUB_TOKEN=TOKEN[:20] + "\n" + TOKEN[20:])
    return comment_args(w)


@case("process-diff-output-exists", 2, "--output", "keep.json", "already exists", process=True)
def _(w: Work) -> list[str]:
    return [*_pair(w), "-o", w.copy(RECORD, "keep.json")]


@case("process-unknown-option", 2, "No such option", process=True)
def _(w: Work) -> list[str]:
    return ["diff", "--baseline-recrod", w.copy(RECORD)]


# Loading a real checkpoint folder's tokenizer, then weights that are not what they claim -----------------------


def _smol_folder(w: Work, weights: tuple[str, bytes]) -> list[str]:
    from gate.run.models import smollm2_dir

    src = smollm2_dir()
    files = [(f.name, f.read_bytes()) for f in src.iterdir() if f.is_file() and f.suffix != ".safetensors"]
    return _ckpt(w, weights, *files)


@case("run-model-garbage-pickle-allowed", 3, "--model", "failed to load", "UnpicklingError", slow=True)
def _(w: Work) -> list[str]:
    return [*_smol_folder(w, ("pytorch_model.bin", b"\x80\x04garbage, not a pickle")), "--allow-pickle"]


@case("run-model-safetensors-wrong-tensors", 3, "--model", "failed to load", slow=True)
def _(w: Work) -> list[str]:
    return _smol_folder(w, ("model.safetensors", _safetensors(64)))  # a valid file, of no tensor the model has


# -- running a case -------------------------------------------------------------------------------------


def _hashes(*roots: Path) -> dict[Path, str]:
    out = {}
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _mlflow_file(p: Path, root: Path) -> bool:
    return any(part in MLFLOW_FILES for part in p.relative_to(root).parts)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Path]:
    """A real MLflow store: `main` frozen from a record, `legacy` whose record has no digest (frozen before
    records carried one), `bad` whose record disagrees with itself (logged by something other than the gate)."""
    from mlflow import MlflowClient

    from gate.store.baselines import SHA_TAG
    from gate.store.tracking import Store

    root = tmp_path_factory.mktemp("store")
    s = Store(f"sqlite:///{root / 'mlflow.db'}")
    s.freeze("main", record=records.load(PAIR / "baseline.json"), who="ci")
    client: MlflowClient = s.client
    exp = client.get_experiment_by_name("checkpoint-gate").experiment_id
    legacy = json.loads(records.dumps(records.load(PAIR / "baseline.json")))
    legacy.pop("digest", None)
    bad = dict(legacy, tasks=[dict(legacy["tasks"][0], value=0.99), legacy["tasks"][1]])
    for name, data in (("legacy", legacy), ("bad", bad)):
        raw = (json.dumps(data, indent=1) + "\n").encode()
        run_id = client.create_run(exp).info.run_id
        with tempfile.TemporaryDirectory() as d:
            Path(d, "record.json").write_bytes(raw)
            client.log_artifacts(run_id, d)
        client.set_tag(run_id, SHA_TAG, hashlib.sha256(raw).hexdigest())
        client.set_terminated(run_id, "FINISHED")
        s.freeze(name, run_id=run_id, who="ci")
    yield root


@pytest.fixture(scope="module")
def gh() -> Iterator[GitHubServer]:
    with GitHubServer(token=TOKEN) as server:
        yield server


@dataclass(frozen=True)
class Ran:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def _in_process(argv: list[str], w: Work) -> Ran:
    r = CliRunner().invoke(cli, argv, env=w.env)
    return Ran(r.exit_code, r.stdout, r.stderr, r.exception)


def _subprocess(argv: list[str], w: Work) -> Ran:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's gate, whatever is installed
    for k, v in w.env.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    r = subprocess.run(
        [sys.executable, "-m", "gate", *argv], cwd=w.dir, env=env, capture_output=True, text=True, timeout=120
    )
    return Ran(r.returncode, r.stdout, r.stderr)


def _params() -> list:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]


@pytest.mark.parametrize("c", _params())
def test_bad_input_is_refused_with_one_line_and_nothing_changed(c: Case, tmp_path, store, gh, monkeypatch):
    w = Work(tmp_path / "case", store, gh)
    w.dir.mkdir()
    monkeypatch.chdir(w.dir)
    argv = c.build(w)
    before = _hashes(w.dir, store)
    posted = len(gh.requests)

    r = _in_process(argv, w) if not c.process else _subprocess(argv, w)

    out = f"exit {r.exit_code}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    assert r.exit_code == c.code, out
    assert r.exception is None or isinstance(r.exception, SystemExit), out
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("gate: error:")]
    assert len(errors) == 1, out
    assert "Traceback" not in r.stdout + r.stderr, out
    for needle in c.needles:
        assert needle in errors[0], f"{needle!r} not in: {errors[0]}"
    secrets = [v for k, v in w.env.items() if v and k.endswith(("TOKEN", "PASSWORD", "KEY"))] + ["hunter2hunter2"]
    for piece in (p for s in secrets for p in s.split() if len(p) >= 8):
        assert piece not in r.stdout + r.stderr, f"a credential was printed\n{out}"
    after = _hashes(w.dir, store)
    changed = sorted(str(p) for p, h in before.items() if after.get(p) != h)
    assert not changed, f"changed or removed: {changed}\n{out}"
    # MLflow may create an empty store of its own in the case's folder; nothing else may appear anywhere.
    allowed = {w.dir / name for name in c.writes}
    created = sorted(
        str(p) for p in set(after) - set(before) - allowed if not (p.is_relative_to(w.dir) and _mlflow_file(p, w.dir))
    )
    assert not created, f"written: {created}\n{out}"
    if not c.posts:
        assert len(gh.requests) == posted, f"posted to GitHub: {gh.requests[posted:]}"


def test_the_table_is_large_and_covers_every_kind_of_input():
    kinds = {c.id.split("-", 1)[0] for c in CASES}
    assert len(CASES) >= 100, len(CASES)
    assert {"record", "thresholds", "suite", "run", "diff", "mlflow", "github", "checkpoint"} <= kinds
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"
    assert {c.code for c in CASES} == {2, 3}, "a bad input is never 0 or 1"


# -- a store the gate may read but not write ----------------------------------------------------------------


def _as_nobody(cmd: list[str]) -> list[str] | None:
    """`cmd` run by an unprivileged user (root writes anywhere, so a read-only store needs one); None if impossible."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    wrapped = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    probe = subprocess.run([*wrapped[:-len(cmd)], sys.executable, "-c", "import gate"], capture_output=True, env={
        **os.environ, "PYTHONPATH": str(ROOT)}, cwd="/", timeout=60)  # fmt: skip
    return wrapped if probe.returncode == 0 else None


def test_a_read_only_store_is_exit_3_in_one_line_and_still_serves_its_baselines():
    root = Path(tempfile.mkdtemp(prefix="gate-ro-store-", dir="/tmp"))  # outside pytest's private tmp: others may read
    try:
        from gate.store.tracking import Store

        root.chmod(0o755)
        (root / "home").mkdir(mode=0o777)
        (root / "home").chmod(0o777)
        store = root / "store"
        store.mkdir()
        uri = f"sqlite:///{store / 'mlflow.db'}"
        Store(uri).freeze("main", record=records.load(PAIR / "baseline.json"), who="ci")
        rec_file = shutil.copy(PAIR / "candidate.json", root / "cand.json")
        os.chmod(rec_file, 0o644)
        for p in [store, *store.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        before = _hashes(store)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(root / "home"), "MLFLOW_TRACKING_URI": uri}
        env.pop("GITHUB_TOKEN", None)

        def gate(*args: str) -> subprocess.CompletedProcess[str]:
            cmd = _as_nobody([sys.executable, "-m", "gate", *args])
            if cmd is None:
                pytest.skip("no way to run the gate as an unprivileged user here (root ignores file modes)")
            return subprocess.run(cmd, cwd=root / "home", env=env, capture_output=True, text=True, timeout=180)

        r = gate("baseline", "freeze", str(rec_file), "--name", "other")
        assert r.returncode == 3, r.stderr
        assert r.stderr.splitlines() == [ln for ln in r.stderr.splitlines() if ln.startswith("gate: error:")], r.stderr
        assert len(r.stderr.splitlines()) == 1 and "readonly database" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "[SQL:" not in r.stderr
        shown = gate("baseline", "show", "main")
        assert shown.returncode == 0, shown.stderr
        assert _hashes(store) == before
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o666)
        shutil.rmtree(root, ignore_errors=True)


# -- the one place exceptions become exit codes ---------------------------------------------------------------


def _failing_cli():
    """A root group of the gate's kind with commands that fail the ways a command can; a test seam, not a patch."""
    import click

    from gate.cli import GateGroup
    from gate.errors import ConfigError

    @click.group(cls=GateGroup)
    @click.option("--debug", is_flag=True)
    def root(debug: bool) -> None:
        pass

    @root.command()
    def bug() -> None:
        raise RuntimeError(f"could not talk to https://x:{TOKEN}@example.com with Authorization: token {TOKEN}")

    @root.command()
    def config() -> None:
        raise ConfigError("thresholds.yaml: tasks.mmlu.floor: nan is not a finite number")

    @root.command()
    def file_error() -> None:
        raise click.FileError("f.txt", "gone")  # click's own says exit 1

    return root


def test_an_unexpected_exception_is_exit_3_with_one_redacted_line_and_the_traceback_only_with_debug():
    root = _failing_cli()
    r = CliRunner().invoke(root, ["bug"])
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines() == [r.stderr.splitlines()[0]] and r.stderr.startswith("gate: error: internal error:")
    assert "RuntimeError" in r.stderr and "--debug" in r.stderr and "Traceback" not in r.stderr
    assert TOKEN not in r.stderr and "***" in r.stderr
    debug = CliRunner().invoke(root, ["--debug", "bug"])
    assert debug.exit_code == 3 and "Traceback" in debug.stderr and TOKEN not in debug.stderr
    assert [ln for ln in debug.stderr.splitlines() if ln.startswith("gate: error:")]


def test_a_gate_error_keeps_its_code_and_click_s_own_errors_are_never_1():
    root = _failing_cli()
    r = CliRunner().invoke(root, ["config"])
    assert (r.exit_code, r.stderr) == (
        2,
        "gate: error: thresholds.yaml: tasks.mmlu.floor: nan is not a finite number\n",
    )
    assert "Traceback" in CliRunner().invoke(root, ["--debug", "config"]).stderr
    f = CliRunner().invoke(root, ["file-error"])
    assert f.exit_code == 2 and f.stderr.startswith("gate: error: Could not open file 'f.txt': gone"), f.output


def test_gate_debug_prints_the_traceback_of_a_real_command(tmp_path):
    r = CliRunner().invoke(cli, ["--debug", "check", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "Traceback" in r.stderr and "record file not found" in r.stderr


def test_a_baseline_frozen_before_digests_is_read_when_asked(store, tmp_path):
    uri = f"sqlite:///{store / 'mlflow.db'}"
    cand = str(PAIR / "candidate.json")
    r = CliRunner().invoke(cli, ["diff", cand, "--baseline", "legacy", "--tracking-uri", uri, "--no-require-digest"])
    assert r.exit_code == 1, r.output  # a verdict: the damaged candidate regressed
    assert "BLOCKED against baseline 'legacy'" in r.stdout
