"""Suite, Thresholds and ModelSpec: validated against the shipped schemas, then frozen.

Nothing downstream of this module sees raw YAML.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from gate.errors import ConfigError
from gate.schemas import validate

QUANTIZATIONS = ("none", "8bit", "4bit")
DTYPES = ("auto", "float32", "float16", "bfloat16")
BACKENDS = ("hf", "gate-hf", "vllm")


@dataclass(frozen=True)
class TaskSpec:
    task: str
    num_fewshot: int
    metric: str
    kind: str
    filter: str = "none"
    limit: int | None = None
    optional: bool = False
    max_gen_toks: int | None = None
    judge_rubric: str | None = None  # absolute path once loaded; set for LLM-judged domain tasks
    fewshot_split: str | None = None  # few-shot pool when the task's own is not in the data dir


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    tasks: tuple[TaskSpec, ...]
    hash: str
    path: Path | None = None
    description: str = ""
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    include_paths: tuple[Path, ...] = ()
    backend: str | None = None  # the lm-eval backend this suite runs on unless --backend says otherwise


@dataclass(frozen=True)
class TaskThreshold:
    metric: str
    higher_is_better: bool
    floor: float | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class Policy:
    inconclusive_blocks: bool = False
    block_on_forgetting: bool = True
    block_on_not_comparable: bool = True


@dataclass(frozen=True)
class Thresholds:
    tasks: dict[str, TaskThreshold]
    alpha: float = 0.05
    inconclusive: str = "fail"
    policy: Policy = field(default_factory=Policy)
    path: Path | None = None

    def only(self, task_names: list[str]) -> Thresholds:
        """The rules for these tasks alone, e.g. the fast stage's floors out of a file that covers both stages."""
        return replace(self, tasks={k: v for k, v in self.tasks.items() if k in task_names})


@dataclass(frozen=True)
class ModelSpec:
    """What to load and how to run it."""

    model: str  # local dir, hub id, or dir holding a GGUF file
    revision: str | None = None
    gguf_file: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 8
    quantization: str = "none"
    backend: str | None = None  # None: the suite's `backend`, else hf (see resolve_backend)
    trust_remote_code: bool = False
    allow_pickle: bool = False
    max_length: int | None = None


def _read_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None


def _canonical_hash(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def load_suite(path: str | Path) -> Suite:
    """Load a suite YAML such as `suites/fast.yaml`."""
    p = Path(path)
    data = _read_yaml(p, "suite")
    validate(data, "suite", str(p))
    names = [t["task"] for t in data["tasks"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{p}: tasks: {', '.join(dupes)} listed twice; each task may appear once")
    if data.get("fewshot_as_multiturn") and not data.get("apply_chat_template"):
        raise ConfigError(f"{p}: fewshot_as_multiturn: needs apply_chat_template: true")
    includes = []
    for inc in data.get("include_paths", []):
        ip = (p.parent / inc).resolve()
        if not ip.is_dir():
            raise ConfigError(f"{p}: include_paths: folder {ip} does not exist")
        includes.append(ip)
    # The hash covers what changes the measurement, so two records of one suite hash agree
    # on tasks and settings; included task folders are hashed by content.
    hashed = dict(data)
    hashed["include_contents"] = [_dir_digest(ip) for ip in includes]
    return Suite(
        name=data["name"],
        version=data["version"],
        description=data.get("description", ""),
        tasks=tuple(_task_spec(t, p) for t in data["tasks"]),
        hash=_canonical_hash(hashed),
        path=p,
        apply_chat_template=data.get("apply_chat_template", False),
        fewshot_as_multiturn=data.get("fewshot_as_multiturn", False),
        include_paths=tuple(includes),
        backend=data.get("backend"),
    )


def _task_spec(t: dict[str, Any], suite_path: Path) -> TaskSpec:
    rubric = t.get("judge_rubric")
    if rubric is not None:
        rp = (suite_path.parent / rubric).resolve()
        if not rp.is_file():
            raise ConfigError(f"{suite_path}: tasks: {t['task']}: judge_rubric: file {rp} does not exist")
        if t["kind"] != "domain":
            raise ConfigError(f"{suite_path}: tasks: {t['task']}: judge_rubric is for domain tasks (kind: domain)")
        t = {**t, "judge_rubric": str(rp)}
    return TaskSpec(**t)


def _dir_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(folder)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def load_thresholds(path: str | Path) -> Thresholds:
    """Load a thresholds YAML such as `thresholds/default.yaml`."""
    p = Path(path)
    data = _read_yaml(p, "thresholds")
    validate(data, "thresholds", str(p))
    return Thresholds(
        tasks={name: TaskThreshold(**t) for name, t in data["tasks"].items()},
        alpha=data.get("alpha", 0.05),
        inconclusive=data.get("inconclusive", "fail"),
        policy=Policy(**data.get("policy", {})),
        path=p,
    )


def resolve_backend(spec: ModelSpec, *suites: Suite | None) -> ModelSpec:
    """The backend a run uses: --backend (or the checkpoint file's), else the suites' own, else hf.

    One model is loaded and wrapped once per run, so chained suites (--then) that name different
    backends are refused rather than silently run on one of them.
    """
    if spec.backend is not None:
        return spec
    named = {s.backend: s for s in suites if s is not None and s.backend is not None}
    if len(named) > 1:
        (a, sa), (b, sb) = list(named.items())[:2]
        raise ConfigError(
            f"{sb.path}: backend: {b} differs from {sa.path}'s {a}; one run loads the model once: "
            "give --backend, or make the suites agree"
        )
    return replace(spec, backend=next(iter(named), "hf"))
