"""One checkpoint through one suite: load, evaluate, write the record, log it to MLflow.

The record is written to disk before anything that can fail afterwards (MLflow), so a
measurement that took an hour is never lost to a tracking-server hiccup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gate import record as records
from gate.config import SERVED_BACKENDS, ModelSpec, Suite, Thresholds, resolve_backend
from gate.decide.floors import check, task_interval
from gate.decide.stats import near_chance
from gate.domain.cases import judge_missing
from gate.errors import ConfigError, EvalFailed
from gate.files import check_output
from gate.github.actions import check_credentials
from gate.metrics import UNIT, base_name, metric_range
from gate.record import EvalRecord
from gate.report.operational import run_operational_line
from gate.results import Verdict, fmt_delta, fmt_score
from gate.run.models import DEFAULT_MODEL, LoadedModel, check_model_options, check_spread, load_lm
from gate.run.runner import RunOptions, run_suite, validate_suite
from gate.run.shards import Shard
from gate.run.spread import current

# Credentials a run may send (the hub, MLflow, an API judge): checked for shape before the model loads.
RUN_CREDENTIALS = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "OPENAI_API_KEY",
)


@dataclass(frozen=True)
class RunRequest:
    spec: ModelSpec
    suite: Suite
    output: Path
    data_dir: Path | None = None
    sample: int | None = None
    seed: int = 0
    items_from: Path | None = None
    max_gen_toks: int | None = None
    price_per_hour: float | None = None  # of the runner: the record's estimated cost
    log_to_mlflow: bool = True
    overwrite: bool = False
    judge_model: str | None = None  # judge spec for domain tasks with a judge_rubric (gate.domain.judge_model)
    early_verdict: bool = False  # stop floored tasks once an anytime-valid interval decides them
    pointer: str | None = None  # the checkpoint pointer file this run gates, for MLflow's run name and tags
    early_diff: bool = False  # stop gated tasks once the paired diff against `baseline` is decided
    baseline: str | None = None  # the early diff's baseline: a frozen baseline's name in MLflow
    baseline_record: Path | None = None  # or a record file
    answer_cache: Path | None = None  # folder of the answer caches (gate.lmeval.answer_cache); None: off
    then: Suite | None = None  # the next stage, run only when this one clears its floors
    thresholds: Thresholds | None = None  # the floors that decide whether `then` runs
    shard: Shard | None = None  # evaluate only this shard's share of every task (gate.run.shards); `gate merge` joins

    @property
    def then_output(self) -> Path:
        """Where the next stage's record goes: beside the first, named for its suite."""
        assert self.then is not None
        return self.output.with_name(f"{self.output.stem}.{self.then.name}{self.output.suffix or '.json'}")


@dataclass(frozen=True)
class RunResult:
    record: EvalRecord
    path: Path
    verdict: Verdict | None = None  # this stage's floors, when a next stage depended on them
    next: RunResult | None = None  # the stage that ran because this one passed

    @property
    def exit_code(self) -> int:
        if self.verdict is not None and not self.verdict.passed:
            return self.verdict.exit_code
        return self.next.exit_code if self.next else 0

    @property
    def summary(self) -> str:
        r = self.record
        lines = [
            f"{r.suite.name} on {r.model.id} ({r.model.fingerprint[:19]}): "
            f"{sum(t.n for t in r.tasks)} items in {r.timing.wall_seconds:.1f}s" + _cache_note(r)
        ]
        for t in r.tasks:
            if t.status != "ok":
                lines.append(f"  {t.name}: {t.skip_reason}")
                continue
            pc = metric_range(t.metric) == UNIT  # proportions in percent, their stderr in points, as gate diff
            se = f" ± {fmt_delta(t.stderr, pc, signed=False)}" if t.stderr is not None else ""
            line = f"  {t.name} {base_name(t.metric)} = {fmt_score(t.value, pc)}{se} (n={t.n}, {t.num_fewshot}-shot)"
            if t.early_stop is None and near_chance(task_interval(t), t.chance, t.higher_is_better):
                line += f"  near chance ({fmt_score(t.chance, pc)}): no signal for this model"
            lines.append(line)
        if (ops := run_operational_line(r)) is not None:
            lines.append(f"  {ops}")
        lines.append(f"record: {self.path}" + (f"  mlflow run: {r.mlflow_run_id}" if r.mlflow_run_id else ""))
        if self.verdict is not None:
            lines.append(f"floors of {r.suite.name}: {self.verdict.headline}")
            lines += [f"  - {reason}" for reason in self.verdict.reasons]
            if not self.verdict.passed:
                lines.append("next stage not run: this stage did not clear its floors")
        if self.next is not None:
            lines += ["", self.next.summary]
        return "\n".join(lines)


def _cache_note(r: EvalRecord) -> str:
    if r.timing.answers_from_cache is None:
        return ""
    return f" ({r.timing.answers_from_cache} answers from the cache, {r.timing.answers_computed} computed)"


def evaluate_checkpoint(req: RunRequest, progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the suite (and, if it clears its floors, the next stage) with one loaded model."""
    if req.sample is not None and req.items_from is not None:
        raise ConfigError("--sample and --items-from: choose one; --items-from reuses an earlier record's items")
    if req.then is not None and req.items_from is not None:
        raise ConfigError("--then with --items-from: reuse items one stage at a time (run each suite separately)")
    if req.then is not None and req.thresholds is None:
        raise ConfigError("--then needs --thresholds: the floors decide whether the next stage runs")
    if req.shard is not None and (req.then is not None or req.early_verdict):
        raise ConfigError(
            f"--shard {req.shard} with {'--then' if req.then is not None else '--early-verdict'}: a shard holds "
            "part of a stage, so its floors decide nothing; run each stage's shards, `gate merge` them, then check"
        )
    if req.shard is not None and req.early_diff:
        raise ConfigError(
            f"--shard {req.shard} with --early-diff: a shard holds part of each task's items, so a diff cannot stop "
            "on it; run the shards whole, `gate merge` them, then `gate diff`"
        )
    if req.early_verdict and req.thresholds is None:
        raise ConfigError("--early-verdict needs --thresholds: it stops a task once its floor is decided")
    if req.early_diff and (req.baseline is None) == (req.baseline_record is None):
        raise ConfigError("--early-diff needs the baseline it stops against: --baseline NAME or --baseline-record FILE")
    if req.early_diff and (req.early_verdict or req.sample is not None or req.items_from is not None):
        raise ConfigError(
            "--early-diff evaluates the baseline's items: drop --early-verdict, --sample and --items-from"
        )
    if req.early_diff and req.thresholds is None:
        raise ConfigError("--early-diff needs --thresholds: their allowed drops are what it decides against")
    items_from = records.load(req.items_from) if req.items_from else None
    spec = resolve_backend(req.spec, req.suite, req.then)
    spread = current()
    if spread.parallel:
        check_parallel(req, spec, spread.processes)
    preflight(req, spec)
    if req.thresholds is not None:
        _plan(req, progress)
    if progress:
        progress(f"loading {spec.model}")
    loaded = load_lm(spec)
    if req.answer_cache is not None and loaded.info.backend in SERVED_BACKENDS and not spec.weights:
        # A served model is known by its name alone: another deployment under that name would be read as this
        # one. Its answers are cached only when --weights fingerprints what the server serves.
        if progress:
            progress("answer cache off for a served model without --weights (its name does not identify its weights)")
    elif req.answer_cache is not None:
        from gate.lmeval.answer_cache import answer_key, model_digest, open_cache

        digest = model_digest(loaded.lm, loaded.setup.tokenizer_hash if loaded.setup else "")
        key = answer_key(loaded.info, spec.max_length, req.max_gen_toks, digest)
        try:
            loaded = replace(loaded, lm=open_cache(loaded.lm, key, req.answer_cache, progress))
        except OSError as e:  # a cache that cannot be written only costs time; the measurement goes on
            if progress:
                progress(f"warning: answer cache {req.answer_cache}: {e}; running without it")
    judge = None
    judged = [t for s in (req.suite, req.then) if s for t in s.tasks if t.judge_rubric]
    if req.judge_model and judged:
        from gate.domain.judge_model import load_judge

        if progress:
            progress(f"loading judge {req.judge_model}")
        judge = load_judge(req.judge_model)
    from gate.lmeval.request_cache import reuse_hook

    opts = RunOptions(
        # Requests built for an earlier checkpoint of the same suite are reused (never answers).
        prepare_tasks=reuse_hook(),
        judge=judge,
        data_dir=req.data_dir,
        sample=req.sample,
        seed=req.seed,
        items_from=items_from,
        max_gen_toks=req.max_gen_toks,
        price_per_hour=req.price_per_hour,
        progress=progress,
    )
    result = _run_stage(loaded, req.suite, opts, req.output, req)
    if req.then is None:
        return result
    verdict = check(result.record, req.thresholds.only(result.record.task_names()))
    if not verdict.passed:
        return replace(result, verdict=verdict)
    if progress:
        progress(f"{req.suite.name} cleared its floors; running {req.then.name}")
    nxt = _run_stage(loaded, req.then, opts, req.then_output, req)
    return replace(result, verdict=verdict, next=nxt)


def check_parallel(req: RunRequest, spec: ModelSpec, processes: int) -> None:
    """What a data-parallel run (`accelerate launch`, `gate.run.spread`) cannot do, refused before the model
    loads (exit 2) rather than written as a record that is wrong."""
    check_spread(spec, processes)
    refused = {
        "--early-verdict": req.early_verdict,  # its chunks and stopping rule run on one process's items
        "--early-diff": req.early_diff,
        "--shard": req.shard is not None,  # shards spread a run over runners: run each shard as one process
        # ranks answer different requests: one cache file written by several processes, and a rank whose
        # answers all come from the cache would skip lm-eval's collective calls that the others make
        "--answer-cache": req.answer_cache is not None,
        # the judge would score every item once per process (an API judge: that many paid calls)
        "--judge-model": req.judge_model is not None,
    }
    for flag, given in refused.items():
        if given:
            raise ConfigError(
                f"{flag} with {processes} processes (accelerate launch): not supported under data parallel; "
                f"drop {flag} or run one process"
            )


def _plan(req: RunRequest, progress: Callable[[str], None] | None) -> None:
    """Before the model loads: can the sample resolve each gated task's allowance (policy.require_power)?"""
    from gate.run.plan import check_power, plan_run, unknown_rules

    suites = [s for s in (req.suite, req.then) if s is not None]
    assert req.thresholds is not None
    plan = plan_run(suites, req.thresholds, sample=req.sample, data_dir=req.data_dir, strict=False)
    if progress:
        for line in plan.lines():
            progress(f"plan: {line}")
        unknown = unknown_rules(suites, req.thresholds)
        if unknown:  # a file shared by both stages names the other stage's tasks: not an error here
            progress(f"plan: {req.thresholds.path}: no task {', '.join(unknown)} in this run (another stage's?)")
    check_power(plan, req.thresholds)


def preflight(req: RunRequest, spec: ModelSpec) -> None:
    """Everything a run needs that can be wrong, checked before the model loads: a bad argument never
    costs an evaluation, nor loses its result afterwards. The output paths, the device and dtype, the
    credentials in the environment, the judge spec, the suites' tasks and their data files, MLflow."""
    outputs = [req.output] + ([req.then_output] if req.then is not None else [])
    for out in outputs:
        check_output(out, overwrite=req.overwrite)
    check_model_options(spec)
    check_credentials(os.environ, RUN_CREDENTIALS)
    suites = [s for s in (req.suite, req.then) if s is not None]
    judged = [t for s in suites for t in s.tasks if t.judge_rubric]
    if req.judge_model and judged:
        from gate.domain.judge_model import check_judge_spec

        check_judge_spec(req.judge_model)
    elif not req.judge_model:
        for t in judged:
            judge_missing(t, None)  # a judged task that is not optional needs --judge-model
    for suite in suites:
        validate_suite(suite, req.data_dir)
    if spec.backend in SERVED_BACKENDS:  # the server, its model and its log-probabilities, before any item
        from gate.run.served import check_served, loglikelihood_tasks

        check_served(spec, loglikelihood_tasks(suites, req.data_dir))
    if req.log_to_mlflow and req.shard is None and current().main:  # only rank 0 logs
        from gate.store.tracking import Store

        Store().check()


def _run_stage(loaded: LoadedModel, suite: Suite, opts: RunOptions, output: Path, req: RunRequest) -> RunResult:
    before = _answers_so_far(loaded)
    probed = [t.task for t in suite.tasks if t.probe_seed is not None]
    if probed and (req.shard is not None or req.early_diff or req.early_verdict) and opts.progress:
        opts.progress(
            f"warning: contamination probe of {', '.join(probed)} not run: "
            "--shard, --early-verdict and --early-diff do not run it; run without them to probe"
        )
    if req.shard is not None:
        from gate.run.shards import run_shard

        record = run_shard(loaded, suite, opts, req.shard)
    elif req.early_diff:
        from gate.run.early_diff import run_early_diff

        record = run_early_diff(loaded, suite, req.thresholds, _early_diff_baseline(req), opts)
    elif req.early_verdict:
        from gate.run.early import run_early_verdict

        record = run_early_verdict(loaded, suite, req.thresholds.only([t.task for t in suite.tasks]), opts)
    else:
        record = run_suite(loaded, suite, opts)
        _report_probes(record, req, opts)
    if before is not None:
        after = _answers_so_far(loaded)
        timing = replace(
            record.timing, answers_from_cache=after.hits - before.hits, answers_computed=after.misses - before.misses
        )
        record = replace(record, timing=timing)
    if req.spec.model == DEFAULT_MODEL:
        record = replace(record, model=replace(record.model, id=DEFAULT_MODEL))
    # Sealed with its digest, and checked as every reader will check it: a record the gate cannot read
    # back is the gate failing (exit 3), never a verdict.
    record = records.seal(record)
    try:
        records.check(record, str(output))
    except ConfigError as e:
        raise EvalFailed(f"the evaluation produced an inconsistent record: {e}") from None
    if not current().main:  # data parallel: rank 0 holds the same record (every rank's items) and writes it
        return RunResult(record=record, path=output)
    # On disk first: a tracking-server failure must not lose an hour of evaluation.
    _save_measured(record, output, req.overwrite)
    if req.log_to_mlflow and req.shard is None:  # a shard is part of a run: MLflow logs the merged record
        from gate.store.tracking import Store

        record = Store().log_record(record, pointer=req.pointer)
        records.save(record, output, overwrite=True)  # the same record, now with its MLflow run id
    return RunResult(record=record, path=output)


def _report_probes(record: EvalRecord, req: RunRequest, opts: RunOptions) -> None:
    """Each probed task's drop under permuted options on stderr; a warning when flagged (`gate diff` decides)."""
    from gate.config.thresholds import ContaminationRule
    from gate.decide.contamination import record_probes

    if opts.progress is None:
        return
    rule = req.thresholds.contamination if req.thresholds is not None else ContaminationRule()
    for gap in record_probes(record, rule):
        opts.progress(f"{'warning: ' if gap.flagged else ''}contamination probe: {gap.message}")


def _early_diff_baseline(req: RunRequest) -> EvalRecord:
    if req.baseline_record is not None:
        return records.load(req.baseline_record)
    from gate.store.tracking import Store

    assert req.baseline is not None
    return Store().load_baseline(req.baseline).record


def _answers_so_far(loaded: LoadedModel):
    """The answer cache's counts so far (`gate.lmeval.answer_cache.CacheUse`), or None when the run has none."""
    from gate.lmeval.answer_cache import usage

    return usage(loaded.lm)


def _save_measured(record: EvalRecord, output: Path, overwrite: bool) -> None:
    """Save a finished measurement; if `output` cannot take it any more (a file appeared there during the
    run, the folder went away), keep it beside `output` under a new name and say where."""
    try:
        records.save(record, output, overwrite=overwrite)
    except ConfigError as e:
        kept = output.with_name(f"{output.stem}.{os.getpid()}.{int(time.time())}{output.suffix or '.json'}")
        try:
            records.save(record, kept)
        except ConfigError:
            raise e from None
        raise ConfigError(f"{e}; the measurement was kept in {kept}") from None
