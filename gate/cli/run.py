"""`gate run`: evaluate a checkpoint on a suite and write its EvalRecord."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli import cli, console
from gate.cli.options import data_dir_option
from gate.config import BACKENDS, DTYPES, ModelSpec, load_suite, load_thresholds


@cli.command()
@click.option(
    "--model", required=True, help="Checkpoint folder, hub id, or 'smollm2-135m' for the bundled small default model."
)
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit).")
@click.option("--gguf-file", default=None, help="GGUF file inside --model to load (dequantised once and cached).")
@click.option("--dtype", type=click.Choice(DTYPES), default="auto", show_default=True)
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if present, else cpu), cpu, cuda, cuda:N."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    help="Context window in tokens (default: the model config's).",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="lm-eval model backend: hf, gate-hf (shared-prefix scoring), vllm (GPU), or a served model through "
    "lm-eval's API models: local-completions, local-chat-completions (with --base-url; --model is the served "
    "name). Default: the suite's `backend:`, else hf.",
)
@click.option(
    "--base-url",
    default=None,
    help="A served model's OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1. The API key, if any, is read "
    "from OPENAI_API_KEY and never printed.",
)
@click.option(
    "--weights",
    default=None,
    help="With a served model: the folder of the weights it serves, where this runner can read it (the record's "
    "fingerprint and the tokenizer). Default: the served model id and --revision identify it.",
)
@click.option(
    "--num-concurrent",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Served model: requests in flight (lm-eval's num_concurrent).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Served model: attempts per request before the run fails (lm-eval's max_retries).",
)
@click.option(
    "--tensor-parallel-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="vLLM: split the model over this many GPUs of the runner (a model too big for one GPU).",
)
@click.option(
    "--data-parallel-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="vLLM: run this many copies of the model, one per GPU (or per --tensor-parallel-size GPUs).",
)
@click.option(
    "--gpu-memory-utilization",
    type=click.FloatRange(min=0.05, max=1.0),
    default=None,
    help="vLLM: the share of each GPU's memory it may take (default: vLLM's).",
)
@click.option(
    "--quantize",
    type=click.Choice(["none", "8bit", "4bit"]),
    default="none",
    show_default=True,
    help="bitsandbytes quantisation (needs CUDA).",
)
@click.option(
    "--suite",
    "suite_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("suites/fast.yaml"),
    show_default=True,
)
@data_dir_option
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate a seeded random sample of N items per task, stratified by subtask (e.g. MMLU subject).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option(
    "--items-from",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Evaluate exactly the items of an earlier record.",
)
@click.option(
    "--max-gen-toks",
    type=click.IntRange(min=1),
    default=None,
    help="Cap generation length of generative tasks (recorded; records that differ are not comparable).",
)
@click.option(
    "--price-per-hour",
    type=click.FloatRange(min=0),
    default=None,
    envvar="GATE_PRICE_PER_HOUR",
    help="Price of the runner per hour: the record's estimated cost (wall time x price). Env: GATE_PRICE_PER_HOUR.",
)
@click.option(
    "--judge-model",
    default=None,
    help="LLM judge for domain tasks with a judge_rubric: hf:PATH or local-chat-completions:model=NAME,base_url=URL.",
)
@click.option(
    "--then",
    "then_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Next stage's suite (e.g. suites/full.yaml), run with the same loaded model only if this suite clears its "
    "floors; its record goes beside --output as <stem>.<suite name>.json.",
)
@click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("thresholds/default.yaml"),
    show_default=True,
    help="Floors that decide whether --then runs and that --early-verdict stops against; its allowed drops give "
    "the power plan printed before the model loads (policy.require_power refuses an under-powered run).",
)
@click.option(
    "--early-verdict",
    is_flag=True,
    help="Evaluate items in a seeded order in chunks and stop each floored task once an anytime-valid interval "
    "is wholly above or below its floor (error bounded by alpha). Not for baselines.",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Evaluate shard I of N: a deterministic share of every task's items, spread evenly over its groups, "
    "each with the prompt the unsharded run gives it. Writes a shard record (not logged to MLflow); "
    "`gate merge` combines all N into the unsharded run's record.",
)
@click.option(
    "--early-diff",
    is_flag=True,
    help="Evaluate the baseline's items in a seeded order in chunks and stop each gated task once an anytime-valid "
    "paired test shows it regressed beyond its allowed drop or not (error bounded by alpha). Not for baselines.",
)
@click.option("--baseline", metavar="NAME", default=None, help="--early-diff's baseline: a frozen baseline in MLflow.")
@click.option(
    "--baseline-record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="--early-diff's baseline as a record file.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write the record."
)
@click.option(
    "--answer-cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the answer caches (default: $GATE_CACHE_DIR/answers): answers of these exact weights and "
    "settings are reused, so a retried or killed run pays only for what is new.",
)
@click.option("--no-answer-cache", is_flag=True, help="Compute every answer; read and write no answer cache.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option("--trust-remote-code", is_flag=True, help="Run the checkpoint's own Python code (off by default).")
@click.option("--allow-pickle", is_flag=True, help="Load pickle (.bin) weights (off by default: unpickling runs code).")
@click.option("--no-mlflow", is_flag=True, help="Do not log the run to MLflow.")
def run(
    model,
    revision,
    gguf_file,
    dtype,
    device,
    batch_size,
    max_length,
    backend,
    base_url,
    weights,
    num_concurrent,
    max_retries,
    tensor_parallel_size,
    data_parallel_size,
    gpu_memory_utilization,
    quantize,
    suite_path,
    data_dir,
    sample,
    seed,
    items_from,
    max_gen_toks,
    price_per_hour,
    judge_model,
    then_path,
    thresholds_path,
    early_verdict,
    shard,
    early_diff,
    baseline,
    baseline_record,
    output,
    answer_cache,
    no_answer_cache,
    overwrite,
    trust_remote_code,
    allow_pickle,
    no_mlflow,
):
    """Evaluate a checkpoint on a suite and write its EvalRecord.

    \b
    Example:
      gate run --model smollm2-135m --suite suites/fast.yaml \\
               --data-dir ../shared/data --sample 50 --seed 1 --output runs/candidate.json
      gate run --model ./ckpt --suite suites/fast.yaml --then suites/full.yaml \\
               --thresholds thresholds/default.yaml --output runs/ckpt.json
    """
    from gate.errors import GateError
    from gate.run.models import cache_dir
    from gate.run.pipeline import RunRequest, evaluate_checkpoint
    from gate.run.shards import parse_shard
    from gate.run.spread import agree, current

    spread = current()  # under accelerate launch: rank 0 reports, the other ranks print only errors
    if not spread.main:
        console.setup(quiet=True, verbose=False)
    if spread.parallel and answer_cache is None and not no_answer_cache:
        no_answer_cache = True  # the default cache: off under data parallel (an explicit --answer-cache is refused)
        if spread.main:
            console.progress(f"answer cache off: {spread.processes} data-parallel processes answer different requests")

    spec = ModelSpec(
        model=model,
        revision=revision,
        gguf_file=gguf_file,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        quantization=quantize,
        backend=backend,
        max_length=max_length,
        base_url=base_url,
        weights=weights,
        num_concurrent=num_concurrent,
        max_retries=max_retries,
        tensor_parallel_size=tensor_parallel_size,
        data_parallel_size=data_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
    )
    request = RunRequest(
        spec=spec,
        suite=load_suite(suite_path),
        data_dir=data_dir,
        sample=sample,
        seed=seed,
        items_from=items_from,
        max_gen_toks=max_gen_toks,
        price_per_hour=price_per_hour,
        output=output,
        log_to_mlflow=not no_mlflow,
        judge_model=judge_model,
        overwrite=overwrite,
        then=load_suite(then_path) if then_path else None,
        thresholds=_thresholds(thresholds_path, needed=bool(then_path or early_verdict or early_diff)),
        early_verdict=early_verdict,
        shard=parse_shard(shard) if shard is not None else None,
        early_diff=early_diff,
        baseline=baseline,
        baseline_record=baseline_record,
        answer_cache=None if no_answer_cache else answer_cache or cache_dir() / "answers",
    )
    try:
        result = evaluate_checkpoint(request, progress=console.progress if spread.main else None)
    except GateError as e:
        agree(e.exit_code)  # the other ranks end with this rank's failure, not with a success
        raise
    code = agree(result.exit_code)
    if not spread.main:
        click.get_current_context().exit(code)
    if code != result.exit_code:
        console.progress(f"warning: another data-parallel process failed (exit {code}); see its error above")
        click.get_current_context().exit(code)
    click.echo(result.summary)
    floors = [r.verdict for r in _stages(result) if r.verdict is not None]
    failed = next((v for v in floors if not v.passed), None)
    state = failed.state if failed else "recorded"
    console.finish(state, failed.headline if failed else f"record {result.path}")
    click.get_current_context().exit(result.exit_code)


def _stages(result):
    while result is not None:
        yield result
        result = result.next


def _thresholds(path: Path, *, needed: bool):
    """The thresholds file: always when given or needed; the default one only where it exists."""
    explicit = click.get_current_context().get_parameter_source("thresholds_path") != click.core.ParameterSource.DEFAULT
    if explicit or needed or path.is_file():
        return load_thresholds(path)
    return None
