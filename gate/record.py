"""EvalRecord: the one artifact of a run, and its JSON form.

Every later step (check, diff, report, comment) is a pure function of records, so this
module imports no model, MLflow or GitHub code. Per-item outcomes are what make paired
statistics possible: they are always kept.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.files import parse_json, read_text, write_output
from gate.record_checks import check_digest, problems, record_digest
from gate.record_operational import (
    RunOperational,
    TaskOperational,
    run_operational_from_dict,
    task_operational_from_dict,
)
from gate.schemas import validate

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ItemOutcome:
    """One evaluated item: which doc, how it scored, and hashes that prove it is the same item."""

    doc_id: int
    score: float
    doc_hash: str
    prompt_hash: str
    group: str | None = None  # e.g. the MMLU subject (lm-eval subtask name)
    excerpt: str = ""  # end of the prompt, truncated, for reports of flipped items
    prediction: str = ""  # the model's choice or generation, truncated
    full: str = ""  # the whole prompt and answer where those two were cut: gzip+base64 (gate.item_text)


@dataclass(frozen=True)
class GenerationSettings:
    """Generation settings of a generative task; records that differ here are not comparable."""

    max_gen_toks: int | None = None
    until: tuple[str, ...] = ()
    do_sample: bool = False
    temperature: float | None = None


# The early diff's decisions (gate.run.early_diff), beside the floor check's "above_floor" | "below_floor"
EARLY_DIFF_REGRESSED, EARLY_DIFF_OK = "diff_regressed", "diff_ok"


@dataclass(frozen=True)
class EarlyStop:
    """Why an anytime-valid sequential check stopped a task before all its items."""

    items_used: int
    items_available: int
    decision: str  # "above_floor" | "below_floor" | EARLY_DIFF_REGRESSED | EARLY_DIFF_OK
    reason: str


@dataclass(frozen=True)
class JudgeInfo:
    """What an LLM-judged score depends on; records whose judge differs are not comparable."""

    model: str
    prompt_version: int
    prompt_hash: str  # covers the prompt template and the rubric text
    rubric_id: str
    rubric_version: int
    n_judged: int
    n_invalid: int  # replies that broke the judge schema; counted as "not passed"


@dataclass(frozen=True)
class CaseResult:
    """One domain case as scored: its id from the JSONL, category, severity and score (`gate.domain.cases`)."""

    doc_id: int
    case_id: str
    category: str | None
    severity: str | None
    score: float

    @property
    def passed(self) -> bool:
        return self.score >= 1.0


@dataclass(frozen=True)
class TaskResult:
    """One task of a suite, as measured."""

    name: str
    kind: str  # "general" | "domain"
    metric: str
    higher_is_better: bool
    value: float | None
    stderr: float | None
    n: int
    n_requested: int
    num_fewshot: int
    task_hash: str
    output_type: str = "multiple_choice"
    chance: float | None = None  # expected score of random guessing, where defined
    subtasks: tuple[str, ...] = ()
    items: tuple[ItemOutcome, ...] = ()
    generation: GenerationSettings | None = None
    status: str = "ok"  # "ok" | "skipped"
    skip_reason: str | None = None
    early_stop: EarlyStop | None = None
    category_scores: dict[str, float] = field(default_factory=dict)
    blocking_failures: tuple[str, ...] = ()  # e.g. high-severity domain cases that failed
    judge: JudgeInfo | None = None  # set when an LLM judge produced the scores
    notes: tuple[str, ...] = ()  # how this run departs from the task's reference settings, for every report
    operational: TaskOperational | None = None  # latency, output tokens, requests (gate.record_operational)
    # Set on a contamination probe's companion (`<task>_permuted`, gate.lmeval.probe): the task it permutes.
    # Informational: never gated, never a general task for forgetting or jagged profiles (gate.decide.contamination).
    probe_of: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """Which weights were measured, and how they were run."""

    id: str
    revision: str | None
    fingerprint: str
    dtype: str
    device: str
    batch_size: int
    quantization: str = "none"
    backend: str = "hf"
    gguf_file: str | None = None
    chat_template: bool = False
    fewshot_as_multiturn: bool = False


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    version: int
    hash: str


@dataclass(frozen=True)
class Versions:
    gate: str
    lm_eval: str
    transformers: str
    torch: str
    python: str


@dataclass(frozen=True)
class Sampling:
    """How items were chosen: a stratified seeded sample, or doc ids reused from a record."""

    n: int | None
    seed: int | None
    source: str = "all"  # "all" | "sample" | "items-from"


@dataclass(frozen=True)
class Timing:
    wall_seconds: float
    items_per_second: float
    # lm-eval requests answered from the answer cache and computed by the model; None: no cache was used
    answers_from_cache: int | None = None
    answers_computed: int | None = None


@dataclass(frozen=True)
class BaselineRef:
    """Names the frozen baseline a comparison used, so every verdict can say what it compared against."""

    name: str
    run_id: str
    frozen_at: str  # ISO 8601, UTC
    frozen_by: str
    tracking_uri: str


@dataclass(frozen=True)
class RunSetup:
    """Where and how the run ran (`gate.run.setup`); `gate diff` compares it (`gate.decide.pairing`)."""

    accelerator: str  # "cpu", or the GPU model (e.g. "NVIDIA H200")
    device_count: int  # GPUs the model ran on (0 on CPU)
    driver: str | None  # NVIDIA driver version
    cuda: str | None  # the CUDA version torch was built with
    max_length: int  # the context window in tokens (--max-length, else the model config's)
    tokenizer_hash: str  # sha256 of the tokenizer's definition and chat template
    processes: int = 1  # data-parallel processes (spread: not a setup difference)
    shards: int = 1  # runners the items were spread over (`gate merge`; spread: not a setup difference)


@dataclass(frozen=True)
class ShardTask:
    """One task of a shard: its whole (unsharded) item pool, and what merging needs beyond the items."""

    task: str
    pool: dict[str, int]  # items per leaf of the unsharded run, in its order
    pool_digest: str  # sha256 of the pool's doc ids (`gate.run.shards.pool_digest`): the merge must give exactly these
    leaf_hashes: dict[str, str]  # the task hash of each leaf this shard ran (a group's hash covers all its leaves)
    cases: tuple[CaseResult, ...] = ()  # a domain task's cases: category scores are recomputed from all shards'


@dataclass(frozen=True)
class ShardInfo:
    """Set on the record of `gate run --shard I/N`: a share of a run, to be combined by `gate merge`."""

    index: int  # 1..count
    count: int
    tasks: tuple[ShardTask, ...]


@dataclass(frozen=True)
class EvalRecord:
    model: ModelInfo
    suite: SuiteInfo
    versions: Versions
    tasks: tuple[TaskResult, ...]
    timing: Timing
    sampling: Sampling
    created_at: str
    mlflow_run_id: str | None = None
    schema_version: int = SCHEMA_VERSION
    # sha256 of the record's JSON as `gate run` wrote it (gate.record_checks.record_digest); checked on
    # read. A checksum of the contents, so two records that differ only here are the same measurement.
    digest: str | None = field(default=None, compare=False)
    # A shard's share of a run (`gate run --shard`); None for a whole run, whose JSON has no `shard` key.
    shard: ShardInfo | None = None
    setup: RunSetup | None = None  # where and how it ran; None in records written before it was recorded
    operational: RunOperational | None = None  # hardware, peak memory, cost, latency over the run

    def task(self, name: str) -> TaskResult:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def with_run_id(self, run_id: str) -> EvalRecord:
        return replace(self, mlflow_run_id=run_id)

    def doc_ids(self) -> dict[str, dict[str, list[int]]]:
        """Doc ids per task and per group (subtask), for `--items-from`."""
        out: dict[str, dict[str, list[int]]] = {}
        for t in self.tasks:
            per: dict[str, list[int]] = {}
            for it in t.items:
                per.setdefault(it.group or t.name, []).append(it.doc_id)
            out[t.name] = per
        return out


def to_dict(record: EvalRecord) -> dict[str, Any]:
    data = asdict(record)
    for key in ("shard", "setup"):  # absent, the JSON (and digest) is what it was before these fields existed
        if data.get(key) is None:
            data.pop(key, None)
    for task in data["tasks"]:
        if task.get("probe_of") is None:
            task.pop("probe_of", None)
    return data


def seal(record: EvalRecord) -> EvalRecord:
    """The record with its digest: the sha256 of its contents, which every read checks."""
    return replace(record, digest=record_digest(to_dict(record)))


def same_measurement(a: EvalRecord, b: EvalRecord) -> bool:
    """Whether two records hold the same measurement: equal in everything but digest and MLflow run id."""
    return record_digest(to_dict(a)) == record_digest(to_dict(b))


def self_comparison(candidate: EvalRecord, baseline: EvalRecord) -> str | None:
    """What is wrong with comparing these two records, when the candidate is the baseline itself."""
    if same_measurement(candidate, baseline):
        return (
            "the candidate is the baseline's own record (the same measurement): this diff compares it with "
            "itself and cannot fail; pass the candidate's record"
        )
    if candidate.model.fingerprint == baseline.model.fingerprint:
        return (
            f"the candidate's weights are the baseline's ({candidate.model.fingerprint[:19]}…): this diff measures "
            "evaluation noise, not a new checkpoint"
        )
    return None


def check(record: EvalRecord, source: str) -> None:
    """ConfigError naming the first inconsistency of the record (`gate.record_checks.problems`), if any."""
    found = list(problems(record))
    if found:
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ConfigError(f"{source}: {found[0]}{more}")


def require_whole(record: EvalRecord, source: str) -> None:
    """ConfigError for a shard's record where a whole run is needed: its floors and diff would judge part of a run."""
    if record.shard is not None:
        raise ConfigError(
            f"{source}: shard: {record.shard.index}/{record.shard.count}; this record holds one shard of a run; "
            "combine every shard with `gate merge` first"
        )


def from_dict(
    data: dict[str, Any], source: str = "<record>", *, require_digest: bool = False, why: str = ""
) -> EvalRecord:
    """Build a record from its JSON form, after checking it: schema, finite numbers, consistency, digest.

    A digest the record carries is always checked; `require_digest` also refuses a record without
    one (`why` says who requires it, for the message). Every failure is a ConfigError naming `source`.
    """
    validate(data, "record", source)
    tasks = []
    for t in data["tasks"]:
        t = dict(t)
        t["items"] = tuple(ItemOutcome(**i) for i in t["items"])
        t["subtasks"] = tuple(t["subtasks"])
        t["blocking_failures"] = tuple(t.get("blocking_failures", ()))
        t["notes"] = tuple(t.get("notes", ()))
        if t.get("generation") is not None:
            g = dict(t["generation"])
            g["until"] = tuple(g.get("until", ()))
            t["generation"] = GenerationSettings(**g)
        if t.get("early_stop") is not None:
            t["early_stop"] = EarlyStop(**t["early_stop"])
        if t.get("judge") is not None:
            t["judge"] = JudgeInfo(**t["judge"])
        t["operational"] = task_operational_from_dict(t.get("operational"))
        tasks.append(TaskResult(**t))
    record = EvalRecord(
        model=ModelInfo(**data["model"]),
        suite=SuiteInfo(**data["suite"]),
        versions=Versions(**data["versions"]),
        tasks=tuple(tasks),
        timing=Timing(**data["timing"]),
        sampling=Sampling(**data["sampling"]),
        created_at=data["created_at"],
        mlflow_run_id=data.get("mlflow_run_id"),
        schema_version=data["schema_version"],
        digest=data.get("digest"),
        shard=_shard(data.get("shard")),
        setup=RunSetup(**data["setup"]) if data.get("setup") is not None else None,
        operational=run_operational_from_dict(data.get("operational")),
    )
    check(record, source)
    if (problem := check_digest(data, required=require_digest, why=why)) is not None:
        raise ConfigError(f"{source}: {problem}")
    return record


def _shard(data: dict[str, Any] | None) -> ShardInfo | None:
    if data is None:
        return None
    tasks = tuple(
        ShardTask(**{**t, "cases": tuple(CaseResult(**c) for c in t.get("cases", ()))}) for t in data["tasks"]
    )
    return ShardInfo(index=data["index"], count=data["count"], tasks=tasks)


def dumps(record: EvalRecord) -> str:
    """The record's JSON, sealed with its digest; never NaN or Infinity (they are not JSON)."""
    return json.dumps(to_dict(seal(record)), indent=1, sort_keys=False, allow_nan=False) + "\n"


def loads(text: str, source: str, *, require_digest: bool = False, why: str = "") -> EvalRecord:
    """A record from its JSON text: a key written twice is refused, then everything `from_dict` checks."""
    data = parse_json(text, source, "record (the JSON `gate run --output` writes)")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): {type(data).__name__} is not a record; is this an EvalRecord?")
    return from_dict(data, source, require_digest=require_digest, why=why)


def load(path: str | Path, *, require_digest: bool = False, why: str = "") -> EvalRecord:
    """A record file, checked on read (`from_dict`); every failure is one ConfigError line naming the file."""
    text = read_text(path, "record", "pass the JSON written by `gate run --output`")
    return loads(text, str(path), require_digest=require_digest, why=why)


def save(record: EvalRecord, path: str | Path, *, overwrite: bool = False, option: str = "--output") -> Path:
    """Write atomically (`gate.files.write_output`), sealed; an existing file only with overwrite=True."""
    return write_output(path, dumps(record), overwrite=overwrite, option=option)
