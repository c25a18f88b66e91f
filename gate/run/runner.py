"""Run a Suite on a loaded model through lm-eval and build the EvalRecord.

Each suite task is expanded to its leaf tasks (MMLU's 57 subjects, `gate.lmeval.tasks`), items are
chosen per leaf, and only the chosen leaves run, on exactly those items (`gate.lmeval.evaluate`). A
group's score is lm-eval's size-weighted mean over all its items, computed here from the same
per-item outcomes; domain tasks then get their category scores, blocking failures or judge verdicts
(`gate.domain.cases`).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from gate import __version__
from gate.config import Suite, TaskSpec
from gate.domain.cases import ScoredTask, judge_missing, post_process
from gate.domain.judge import Judge
from gate.errors import ConfigError, DataMissing, EvalFailed
from gate.lmeval.evaluate import evaluate
from gate.lmeval.probe import check_probeable, companion, companion_name
from gate.lmeval.results import LeafResult, parse_leaf
from gate.lmeval.tasks import LoadedTask, cap_generation, check_task_names, draws_fewshot_from, load_task
from gate.lmeval.timing import gathered, metered, timing_method
from gate.record import EvalRecord, Sampling, SuiteInfo, TaskResult, Timing, Versions
from gate.run.merge import combined_hash, group_stderr, weighted_chance
from gate.run.models import LoadedModel
from gate.run.operational import run_operational, task_operational
from gate.run.sampling import Selection, from_doc_ids, stratified


@dataclass(frozen=True)
class RunOptions:
    data_dir: Path | None = None
    sample: int | None = None
    seed: int = 0
    items_from: EvalRecord | None = None
    max_gen_toks: int | None = None
    progress: Callable[[str], None] | None = None
    judge: Judge | None = None  # scores domain tasks that have a judge_rubric
    # Exact doc ids per suite task and leaf (gate.run.early evaluates chunks of a seeded order this way).
    doc_ids: dict[str, dict[str, list[int]]] | None = None
    # Called with the leaf task objects right before lm-eval evaluates them (gate.lmeval.request_cache hooks in here).
    prepare_tasks: Callable[[list[Any]], None] | None = None
    price_per_hour: float | None = None  # of the runner: the record's estimated cost (`--price-per-hour`)


def versions() -> Versions:
    return Versions(
        gate=__version__,
        lm_eval=version("lm_eval"),
        transformers=version("transformers"),
        torch=version("torch"),
        python=platform.python_version(),
    )


def validate_suite(suite: Suite, data_dir: Path | None) -> None:
    """Fail on unknown task names and on missing data files before any model is loaded.

    Loading a task's objects reads its data (about half a second for MMLU's 57 subjects); an optional
    task whose data is missing is skipped later, visibly, so it is not an error here.
    """
    check_task_names(suite, data_dir)
    for spec in suite.tasks:
        try:
            task = load_task(spec, suite, data_dir)
        except DataMissing:
            if not spec.optional:
                raise
            continue
        if spec.probe_seed is not None:
            check_probeable(task, suite.path)  # a probe on a generative task is refused before the model loads


def sample_note(spec: TaskSpec, sizes: dict[str, int], opts: RunOptions) -> str | None:
    """The note of a task that has fewer items than --sample (or the suite's limit) asked for."""
    if opts.items_from is not None or (opts.doc_ids is not None and spec.task in opts.doc_ids):
        return None
    asked = [(x, why) for x, why in ((opts.sample, "--sample"), (spec.limit, "limit")) if x is not None]
    if not asked:
        return None
    n, why = min(asked)
    total = sum(sizes.values())
    if n <= total:
        return None
    return f"{why} {n} asked for more items than the task has ({total}); all {total} were evaluated"


def select_items(spec: TaskSpec, sizes: dict[str, int], opts: RunOptions) -> Selection:
    """Which doc ids of each leaf to evaluate: given ids, a previous record's, a seeded sample, or all."""
    if opts.doc_ids is not None and spec.task in opts.doc_ids:
        return from_doc_ids(sizes, opts.doc_ids[spec.task], spec.task)
    if opts.items_from is not None:
        try:
            wanted = opts.items_from.doc_ids()[spec.task]
        except KeyError:
            raise ConfigError(
                f"--items-from: that record has no task '{spec.task}'; it has {', '.join(opts.items_from.task_names())}"
            ) from None
        for leaf, ids in wanted.items():
            if leaf not in sizes:
                raise ConfigError(f"--items-from: subtask '{leaf}' of '{spec.task}' is not in this suite's task")
            if ids and max(ids) >= sizes[leaf]:
                raise ConfigError(
                    f"--items-from: doc id {max(ids)} of '{leaf}' is past its {sizes[leaf]} items; "
                    "the data differ from the record's"
                )
        return from_doc_ids(sizes, wanted, spec.task)
    n = min(x for x in (spec.limit, opts.sample) if x is not None) if (spec.limit or opts.sample) else None
    return stratified(sizes, n, opts.seed)


def _combine(
    spec: TaskSpec, leaves: list[LeafResult], is_group: bool, weight_by_size: bool, n_requested: int
) -> TaskResult:
    items = tuple(i for leaf in leaves for i in leaf.items)
    n = len(items)
    if not is_group:
        value, stderr = leaves[0].value, leaves[0].stderr
    else:
        sizes = [len(leaf.items) for leaf in leaves]
        if weight_by_size:
            value = sum(leaf.value * s for leaf, s in zip(leaves, sizes, strict=True)) / n
        else:
            value = sum(leaf.value for leaf in leaves) / len(leaves)
        stderr = group_stderr([(leaf.stderr, s) for leaf, s in zip(leaves, sizes, strict=True)], items)
    first = leaves[0]
    return TaskResult(
        name=spec.task,
        kind=spec.kind,
        metric=spec.metric,
        higher_is_better=first.higher_is_better,
        value=value,
        stderr=stderr,
        n=n,
        n_requested=n_requested,
        num_fewshot=spec.num_fewshot,
        # a group's hash covers every leaf it ran, even one (a group of one is not the leaf itself)
        task_hash=combined_hash(leaf.task_hash for leaf in leaves) if is_group else first.task_hash,
        output_type=first.output_type,
        chance=weighted_chance((leaf.chance, len(leaf.items)) for leaf in leaves),
        subtasks=tuple(leaf.name for leaf in leaves) if is_group else (),
        items=items,
        generation=first.generation,
    )


def measure_task(
    loaded: LoadedModel, suite: Suite, spec: TaskSpec, opts: RunOptions, task: LoadedTask | None = None
) -> ScoredTask:
    """Evaluate one suite task (or the given lm-eval task objects of it), and keep the domain cases behind its
    scores (parts of a task merge by them)."""
    try:
        task = task or load_task(spec, suite, opts.data_dir)
    except DataMissing as e:
        if not spec.optional:
            raise
        return ScoredTask(_skipped(spec, f"skipped: no data ({e})"))
    if (reason := judge_missing(spec, opts.judge)) is not None:
        return ScoredTask(_skipped(spec, reason))
    selection = select_items(spec, task.sizes(), opts)
    names = selection.leaves()
    if not names:
        raise ConfigError(f"{suite.path}: task '{spec.task}': no items selected; check --sample and the data")
    short = sample_note(spec, task.sizes(), opts)
    if short and opts.progress:
        opts.progress(f"warning: {spec.task}: {short}")
    chosen = [task.leaves[name] for name in names]
    max_gen = opts.max_gen_toks or spec.max_gen_toks
    if max_gen:
        cap_generation(chosen, max_gen)
    if opts.progress:
        opts.progress(f"{spec.task}: {selection.total} items over {len(chosen)} task(s), {spec.num_fewshot}-shot")
    if opts.prepare_tasks is not None:
        opts.prepare_tasks(chosen)
    with metered(loaded.lm) as meter:  # per-request latency and output tokens, timed at the backend
        results = evaluate(
            loaded.lm,
            chosen,
            selection.doc_ids,
            task=spec.task,
            num_fewshot=spec.num_fewshot,
            task_manager=task.manager,
            apply_chat_template=suite.apply_chat_template,
            fewshot_as_multiturn=suite.fewshot_as_multiturn,
        )
    parsed = []
    for name in names:
        leaf = parse_leaf(results, name, spec.metric, spec.filter, group=name if task.is_group else None)
        asked = len(selection.doc_ids[name])
        if len(leaf.items) != asked:
            raise EvalFailed(f"task '{name}': lm-eval returned {len(leaf.items)} items, {asked} were asked for")
        parsed.append(leaf)
    result = _combine(spec, parsed, task.is_group, task.weight_by_size(spec.metric), selection.total)
    result = replace(result, operational=task_operational([gathered(loaded.lm, meter)]))
    scored = post_process(spec, [s for leaf in parsed for s in leaf.samples], result, opts.judge)
    scored = replace(scored, leaf_hashes={leaf.name: leaf.task_hash for leaf in parsed})
    if spec.fewshot_split and draws_fewshot_from(chosen, spec.fewshot_split):
        scored = replace(scored, result=replace(scored.result, notes=(*scored.result.notes, _fewshot_note(spec))))
    if short:
        scored = replace(scored, result=replace(scored.result, notes=(*scored.result.notes, short)))
    return scored


def run_task(loaded: LoadedModel, suite: Suite, spec: TaskSpec, opts: RunOptions) -> TaskResult:
    """Evaluate one suite task; fail closed on a crash or on fewer items than asked."""
    return measure_task(loaded, suite, spec, opts).result


def run_probe(loaded: LoadedModel, suite: Suite, spec: TaskSpec, opts: RunOptions, original: TaskResult) -> TaskResult:
    """The contamination probe of a measured task: its very items again, options permuted (`<task>_permuted`)."""
    assert spec.probe_seed is not None
    task = companion(load_task(spec, suite, opts.data_dir), spec.probe_seed, suite.path)
    ids: dict[str, list[int]] = {}
    for it in original.items:  # the original's items, leaf by leaf, in its order: paired by doc id
        ids.setdefault(companion_name(it.group or original.name), []).append(it.doc_id)
    probe_spec = replace(spec, task=task.name, limit=None, probe_seed=None)
    # The answer cache and request hooks see the companion as a task of its own (its prompts differ).
    result = measure_task(loaded, suite, probe_spec, replace(opts, doc_ids={task.name: ids}), task).result
    note = f"contamination probe of {original.name}: its items with the options permuted (seed {spec.probe_seed})"
    return replace(result, probe_of=original.name, notes=(*result.notes, note))


def run_spec(loaded: LoadedModel, suite: Suite, spec: TaskSpec, opts: RunOptions) -> list[TaskResult]:
    """One suite task's results: the task, then its contamination probe when the suite asks for one."""
    result = run_task(loaded, suite, spec, opts)
    if spec.probe_seed is None or result.status != "ok":
        return [result]
    return [result, run_probe(loaded, suite, spec, opts, result)]


def _fewshot_note(spec: TaskSpec) -> str:
    return (
        f"few-shot examples drawn first-n from the '{spec.fewshot_split}' split (the task's own pool is not in the "
        "data dir); the evaluated item is left out of its own prompt; not comparable with published scores"
    )


def _skipped(spec: TaskSpec, reason: str) -> TaskResult:
    return TaskResult(
        name=spec.task,
        kind=spec.kind,
        metric=spec.metric,
        higher_is_better=True,
        value=None,
        stderr=None,
        n=0,
        n_requested=0,
        num_fewshot=spec.num_fewshot,
        task_hash="",
        status="skipped",
        skip_reason=reason,
    )


def run_suite(loaded: LoadedModel, suite: Suite, opts: RunOptions) -> EvalRecord:
    """Evaluate every task of the suite with one loaded model; returns the record (not yet written)."""
    start = time.perf_counter()
    tasks = [r for spec in suite.tasks for r in run_spec(loaded, suite, spec, opts)]
    return build_record(loaded, suite, tasks, time.perf_counter() - start, opts)


def build_record(
    loaded: LoadedModel, suite: Suite, tasks: list[TaskResult], wall: float, opts: RunOptions
) -> EvalRecord:
    """The EvalRecord of a finished run: model, suite, versions, how items were chosen, timing."""
    n_items = sum(t.n for t in tasks)
    if opts.items_from is not None:
        sampling = Sampling(n=None, seed=None, source="items-from")
    elif opts.sample is not None:
        sampling = Sampling(n=opts.sample, seed=opts.seed, source="sample")
    else:
        sampling = Sampling(n=None, seed=None, source="all")
    model = replace(
        loaded.info, chat_template=suite.apply_chat_template, fewshot_as_multiturn=suite.fewshot_as_multiturn
    )
    return EvalRecord(
        model=model,
        suite=SuiteInfo(name=suite.name, version=suite.version, hash=suite.hash),
        versions=versions(),
        tasks=tuple(tasks),
        timing=Timing(wall_seconds=round(wall, 3), items_per_second=round(n_items / wall, 3) if wall > 0 else 0.0),
        sampling=sampling,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        setup=loaded.setup,
        operational=run_operational(tasks, model, timing_method(loaded.lm), wall, opts.price_per_hour),
    )
