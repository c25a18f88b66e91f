"""Suites (`suites/*.yaml`): which lm-eval tasks to run, how, and how they count (general or domain)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.config.read import canonical_hash, read_yaml
from gate.errors import ConfigError
from gate.schemas import validate

PROBE_SEED = 1234  # `contamination_probe: true`'s seed


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
    # The contamination probe's seed: the task also runs as `<task>_permuted` (gate.lmeval.probe); None: off
    probe_seed: int | None = None


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


def load_suite(path: str | Path) -> Suite:
    """Load a suite YAML such as `suites/fast.yaml`."""
    p = Path(path)
    data = read_yaml(p, "suite")
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
        hash=canonical_hash(hashed),
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
    probe = t.get("contamination_probe", False)  # true, false or {seed: N}
    t = {k: v for k, v in t.items() if k != "contamination_probe"}
    if probe:
        t["probe_seed"] = probe.get("seed", PROBE_SEED) if isinstance(probe, dict) else PROBE_SEED
    return TaskSpec(**t)


def _dir_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(folder)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()
