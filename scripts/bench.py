#!/usr/bin/env python
"""Plain lm-eval against the gate, on the same machine, model, items, few-shot and batch size.

Runs three fresh processes one after another: plain lm-eval (`hf` backend, `simple_evaluate`),
the gate on a first checkpoint (cold request cache) and the gate on a second checkpoint (the same
weights, warm cache: a new checkpoint only changes the answers, never the requests). Prints per task
and in total: wall time, setup time (all but the model's log-likelihood calls), tokens forwarded,
unique tokens (a token prefix tree over every context + continuation), the gate/lm-eval ratios, and
whether every per-item answer agrees (plus the largest log-likelihood difference per request).

Examples:
    # CI smoke: a few items of the smoke suite, SmolLM2-135M on CPU (< 1 min when the machine is idle)
    python scripts/bench.py --suite tests/data/suites/smoke.yaml --items 4
    # the issue's measurement: the first 20% of each task of the fast stage, batch 32, on a GPU
    python scripts/bench.py --model HuggingFaceTB/SmolLM2-1.7B --fraction 0.2 --batch-size 32 --json bench.json

The answer cache (re-run of the same checkpoint against a cold run; killed halfway and resumed against
uninterrupted), real `gate run` processes, with its own options (scripts/bench_answers.py):
    python scripts/bench.py --answers --items 100

The diff's early verdict on the real model (items used and wall against the full diff, per candidate:
same weights, lightly noised, heavily noised), real `gate run` processes (scripts/bench_early_diff.py):
    python scripts/bench.py --early-diff --items 600

Exit code: 0 when every answer agrees, 1 when one differs, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data"


# ---------------------------------------------------------------- one measured process


def _selection(spec, tm_load, args) -> dict[str, list[int]]:
    """Doc ids per leaf: a seeded stratified sample of --items, or the first --fraction of every leaf."""
    from gate.run.sampling import stratified

    sizes = {name: len(t.eval_docs) for name, t in tm_load.items()}
    if args.items:
        return {k: v for k, v in stratified(sizes, args.items, args.seed).doc_ids.items() if v}
    frac = args.fraction
    return {k: list(range(max(1, round(n * frac)))) for k, n in sizes.items()}


class _Meter:
    """Observes a loaded lm-eval LM: time in loglikelihood, time in forward passes, tokens, requests."""

    def __init__(self, lm):
        import torch

        self.lm, self.ll_s, self.fwd_s, self.padded, self.seqs = lm, 0.0, 0.0, 0, []
        self._cuda = torch.cuda.is_available() and str(getattr(lm, "device", "cpu")).startswith("cuda")
        self.handles = []
        model = getattr(lm, "model", None)

        def pre(mod, a, kw):
            x = a[0] if a else kw.get("input_ids")
            self.padded += int(x.numel())
            self._sync()
            self._t = time.perf_counter()

        def post(mod, a, kw, out):
            self._sync()
            self.fwd_s += time.perf_counter() - self._t

        if model is not None:
            self.handles = [
                model.register_forward_pre_hook(pre, with_kwargs=True),
                model.register_forward_hook(post, with_kwargs=True),
            ]
        ll, tok = lm.loglikelihood, getattr(lm, "_loglikelihood_tokens", None)

        def loglikelihood(requests, *a, **k):
            t = time.perf_counter()
            try:
                return ll(requests, *a, **k)
            finally:
                self.ll_s += time.perf_counter() - t

        def loglikelihood_tokens(requests, *a, **k):
            self.seqs += [(list(c), list(x)) for _, c, x in requests]
            return tok(requests, *a, **k)

        lm.loglikelihood = loglikelihood
        if tok is not None:
            lm._loglikelihood_tokens = loglikelihood_tokens

    def _sync(self):
        if self._cuda:
            import torch

            torch.cuda.synchronize()

    def take(self) -> dict:
        from gate.lmeval.prefix_tree import count_unique_tokens

        distinct = {tuple(c + x[:-1]) for c, x in self.seqs}  # hf computes each distinct input once
        out = {
            "ll_s": self.ll_s,
            "forward_s": self.fwd_s,
            "padded_tokens": self.padded,
            "requests": len(self.seqs),
            "unique_tokens": count_unique_tokens([c + x for c, x in self.seqs]),
            "hf_input_tokens": sum(len(s) for s in distinct),
        }
        stats = getattr(self.lm, "forward_stats", None)
        out["forwarded_tokens"] = stats.tokens if stats is not None else out["hf_input_tokens"]
        if stats is not None:
            stats.tokens = 0
        self.ll_s, self.fwd_s, self.padded, self.seqs = 0.0, 0.0, 0, []
        return out


def _lls(lm) -> dict:
    """Record each request's log-likelihood by its (context, continuation) text."""
    store: dict[str, float] = {}
    ll = lm.loglikelihood

    def loglikelihood(requests, *a, **k):
        res = ll(requests, *a, **k)
        for r, (v, _) in zip(requests, res, strict=True):
            store[json.dumps(list(r.args))] = v
        return res

    lm.loglikelihood = loglikelihood
    return store


def _no_forward_model():
    """--setup-only: an LM that answers every request with 0 at once, so only the setup is timed."""
    from lm_eval.api.model import LM

    from gate.record import ModelInfo
    from gate.run.models import LoadedModel

    class NoForwardLM(LM):
        tokenizer = None

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            return [(0.0, False) for _ in requests]

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            return [0.0 for _ in requests]

        def generate_until(self, requests, disable_tqdm: bool = False):
            return ["" for _ in requests]

    info = ModelInfo(id="setup-only", revision=None, fingerprint="none", dtype="none", device="cpu", batch_size=1)
    return LoadedModel(lm=NoForwardLM(), info=info)


def measure(args, loaded=None) -> dict:
    """The body of one child process (`--role plain|gate`), or of one role of an in-process --smoke run."""
    import torch

    from gate.config import ModelSpec, load_suite
    from gate.run.models import load_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    suite = load_suite(args.suite)
    t0 = time.perf_counter()
    if loaded is None and args.setup_only:
        loaded = _no_forward_model()
    if loaded is None:
        spec = ModelSpec(
            model=args.model,
            dtype=args.dtype,
            device=args.device,
            batch_size=args.batch_size,
            backend=args.role_backend,
        )
        loaded = load_lm(spec)
    load_s = time.perf_counter() - t0
    store = _lls(loaded.lm)
    meter = _Meter(loaded.lm)
    out: dict = {"model_load_s": load_s, "tasks": {}, "device": str(getattr(loaded.lm, "device", "none"))}
    # imports are process start-up, the same for both: not counted as setup
    import lm_eval.evaluator
    from lm_eval.tasks import TaskManager

    from gate.lmeval.data import DataDir, _DataDirFactory, expect_fewshot
    from gate.lmeval.request_cache import CacheStats, RequestCache, reuse_hook
    from gate.lmeval.results import parse_leaf
    from gate.lmeval.task_index import cached_task_manager
    from gate.run.runner import RunOptions, run_task

    t_suite = time.perf_counter()
    if args.role == "plain":
        # lm-eval's own TaskManager, with only the datasets' source pointed at the data dir
        # (--smoke reuses the gate's cached index: it checks the plumbing, not the timings)
        tm = TaskManager() if not args.smoke else cached_task_manager()
        tm._factory = _DataDirFactory(DataDir(Path(args.data_dir).resolve()), meta=tm.metadata)
        out["index_s"] = time.perf_counter() - t_suite
        selections = {}
        for ts in suite.tasks:
            t = time.perf_counter()
            expect_fewshot(tm, ts.num_fewshot)
            leaves = tm.load([ts.task])["tasks"]
            sel = selections[ts.task] = _selection(ts, leaves, args)
            res = lm_eval.evaluator.simple_evaluate(
                model=loaded.lm,
                tasks=[leaves[name] for name in sel],
                num_fewshot=ts.num_fewshot,
                samples=sel,
                task_manager=tm,
                log_samples=True,
            )
            wall = time.perf_counter() - t
            is_group = ts.task not in leaves or len(leaves) > 1
            items = []
            for leaf in sel:
                lr = parse_leaf(res, leaf, ts.metric, ts.filter, group=leaf if is_group else None)
                items += [[i.group or ts.task, i.doc_id, i.score, i.prediction] for i in lr.items]
            out["tasks"][ts.task] = {"wall_s": wall, "items": items, **meter.take()}
        out["selections"] = selections
    else:
        stats = CacheStats()
        hook = reuse_hook(RequestCache(Path(args.cache_dir) / "requests"), stats)
        selections = json.loads(Path(args.selections).read_text())  # the very items plain lm-eval ran
        opts = RunOptions(data_dir=Path(args.data_dir), doc_ids=selections, prepare_tasks=hook)
        for ts in suite.tasks:
            t = time.perf_counter()
            r = run_task(loaded, suite, ts, opts)
            wall = time.perf_counter() - t
            items = [[i.group or ts.task, i.doc_id, i.score, i.prediction] for i in r.items]
            out["tasks"][ts.task] = {"wall_s": wall, "items": items, **meter.take()}
        out["request_cache"] = {"hits": stats.hits, "misses": stats.misses, "uncacheable": stats.uncacheable}
    out["suite_s"] = time.perf_counter() - t_suite
    out["lls"] = store
    for h in meter.handles:
        h.remove()
    return out


# ---------------------------------------------------------------- the comparison


def _child(role: str, backend: str, args, cache_dir: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--_role", role, "--_backend", backend, "--_out", str(out)]
    cmd += ["--_cache-dir", str(cache_dir), "--_selections", str(args.selections)] + args.passthrough
    env = {**os.environ, "GATE_CACHE_DIR": str(cache_dir), "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    print(f"bench: running {role} ({backend}) ...", file=sys.stderr)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=REPO, capture_output=not args.verbose, text=True)
    if r.returncode != 0:
        tail = (r.stderr or "")[-3000:] if not args.verbose else ""
        raise SystemExit(f"bench: the {role} run failed (exit {r.returncode})\n{tail}")
    data = json.loads(out.read_text())
    data["process_s"] = time.perf_counter() - t
    return data


def _in_process(args, cache_dir: Path) -> tuple[dict, dict, dict]:
    """--smoke: all three roles in this process on one loaded model (plumbing and answers; timings not meaningful)."""
    import copy

    from lm_eval.api.registry import get_model

    import gate.lmeval.gate_hf  # noqa: F401
    from gate.config import ModelSpec
    from gate.run.models import LoadedModel, load_lm

    os.environ["GATE_CACHE_DIR"] = str(cache_dir)
    spec = ModelSpec(model=args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size)
    plain_lm = load_lm(spec)
    a = copy.copy(args)
    a.role, a.role_backend = "plain", "hf"
    plain = measure(a, plain_lm)
    args.selections.write_text(json.dumps(plain["selections"]))
    runs = []
    for _ in range(2):
        hf = plain_lm.lm
        lm = get_model("gate-hf")(
            pretrained=hf.model, tokenizer=hf.tokenizer, device=str(hf.device), batch_size=args.batch_size
        )
        a = copy.copy(args)
        a.role, a.role_backend = "gate", "gate-hf"
        a.cache_dir = str(cache_dir)
        runs.append(measure(a, LoadedModel(lm=lm, info=plain_lm.info)))
    return plain, runs[0], runs[1]


def _row(name, plain, first, second) -> dict:
    def setup(x):
        return x["wall_s"] - x["ll_s"]

    p_items = {(a, b): (s, pred) for a, b, s, pred in plain["items"]}
    g_items = {(a, b): (s, pred) for a, b, s, pred in first["items"]}
    agree = p_items.keys() == g_items.keys() and all(p_items[k] == g_items[k] for k in p_items)
    return {
        "task": name,
        "items": len(p_items),
        "lmeval_wall_s": plain["wall_s"],
        "gate_wall_s": first["wall_s"],
        "gate2_wall_s": second["wall_s"],
        "lmeval_setup_s": setup(plain),
        "gate_setup_s": setup(first),
        "gate2_setup_s": setup(second),
        "gate2_overhead_s": second["wall_s"] - second["forward_s"],
        "lmeval_tokens": plain["forwarded_tokens"],
        "lmeval_padded": plain["padded_tokens"],
        "gate_tokens": first["forwarded_tokens"],
        "gate_padded": first["padded_tokens"],
        "unique_tokens": plain["unique_tokens"],
        "answers_agree": agree,
        "differing_items": sorted(f"{k[0]}:{k[1]}" for k in p_items if g_items.get(k) != p_items[k])[:20],
    }


def _print(rows: list[dict], total: dict, max_dll: float, meta: dict) -> None:
    def r(a, b):
        return f"{a / b:.3f}" if b else "-"

    head = (
        f"{'task':<16}{'items':>6}{'lm-eval s':>11}{'gate s':>9}{'gate2 s':>9}{'ratio':>7}{'ratio2':>8}"
        f"{'setup lm':>10}{'setup g2':>10}{'tok lm':>10}{'tok gate':>10}{'unique':>9}{'lm/u':>6}{'g/u':>6}{'agree':>7}"
    )
    print(head)
    for x in [*rows, total]:
        print(
            f"{x['task']:<16}{x['items']:>6}{x['lmeval_wall_s']:>11.1f}{x['gate_wall_s']:>9.1f}{x['gate2_wall_s']:>9.1f}"
            f"{r(x['gate_wall_s'], x['lmeval_wall_s']):>7}{r(x['gate2_wall_s'], x['lmeval_wall_s']):>8}"
            f"{x['lmeval_setup_s']:>10.1f}{x['gate2_setup_s']:>10.1f}{x['lmeval_tokens']:>10}{x['gate_tokens']:>10}"
            f"{x['unique_tokens']:>9}{r(x['lmeval_tokens'], x['unique_tokens']):>6}"
            f"{r(x['gate_tokens'], x['unique_tokens']):>6}"
            f"{'yes' if x['answers_agree'] else 'NO':>7}"
        )
    print(
        f"max |log-likelihood difference| over {meta['requests']} requests: {max_dll:.2e}; "
        f"gate overhead (all but forward passes) on the 2nd checkpoint: {meta['overhead_share']:.1%} of its wall; "
        f"setup 2nd checkpoint / lm-eval: {meta['setup_ratio']:.3f}; model load lm-eval {meta['load_plain']:.1f}s, "
        f"gate {meta['load_gate']:.1f}s (not counted above); device {meta['device']}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--answers" in argv:
        from bench_answers import main as answers

        return answers([a for a in argv if a != "--answers"])
    if "--early-diff" in argv:
        from bench_early_diff import main as early_diff

        return early_diff([a for a in argv if a != "--early-diff"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="local dir or hub id (default: the bundled SmolLM2-135M)")
    ap.add_argument("--suite", default=str(REPO / "suites" / "fast.yaml"))
    ap.add_argument("--data-dir", default=os.environ.get("GATE_DATA_DIR", str(DEFAULT_DATA)))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--items", type=int, help="a seeded stratified sample of this many items per task")
    g.add_argument("--fraction", type=float, default=0.2, help="the first fraction of every (sub)task (default 0.2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per process (0: torch's default)")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--verbose", action="store_true", help="show the child processes' output")
    ap.add_argument(
        "--setup-only",
        action="store_true",
        help="answer every request with 0 instantly: times only the setup, at any scale, on any machine",
    )
    ap.add_argument(
        "--smoke", action="store_true", help="one process, one model load: checks plumbing and answers, not timings"
    )
    ap.add_argument("--_role", help=argparse.SUPPRESS)
    ap.add_argument("--_backend", help=argparse.SUPPRESS)
    ap.add_argument("--_out", help=argparse.SUPPRESS)
    ap.add_argument("--_cache-dir", dest="cache_dir", help=argparse.SUPPRESS)
    ap.add_argument("--_selections", dest="selections", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._role:
        args.role, args.role_backend = args._role, args._backend
        Path(args._out).write_text(json.dumps(measure(args)))
        return 0
    if not Path(args.data_dir).is_dir():
        print(f"bench: --data-dir {args.data_dir}: no such directory", file=sys.stderr)
        return 2
    args.passthrough = [
        "--model", args.model, "--suite", args.suite, "--data-dir", args.data_dir, "--seed", str(args.seed),
        "--batch-size", str(args.batch_size), "--device", args.device, "--dtype", args.dtype,
        "--threads", str(args.threads), *(["--setup-only"] if args.setup_only else []),
    ]  # fmt: skip
    args.passthrough += ["--items", str(args.items)] if args.items else ["--fraction", str(args.fraction)]
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        tmp_p = Path(tmp)
        shared_models = os.environ.get("GATE_CACHE_DIR")
        cache = tmp_p / "cache"  # a cold request cache and task index: the first checkpoint pays for them
        for d in (cache, tmp_p / "plain-cache"):
            d.mkdir()
            shared = Path(shared_models or Path.home() / ".cache" / "checkpoint-gate")
            # converted models are shared (and, in --smoke, lm-eval's task index); requests never are
            for sub in ("models", "task-index") if args.smoke else ("models",):
                if (shared / sub).is_dir():
                    (d / sub).symlink_to(shared / sub)
        args.selections = tmp_p / "selections.json"
        if args.smoke:
            plain, first, second = _in_process(args, cache)
        else:
            plain = _child("plain", "hf", args, tmp_p / "plain-cache", tmp_p / "plain.json")
            args.selections.write_text(json.dumps(plain["selections"]))
            first = _child("gate", "gate-hf", args, cache, tmp_p / "gate1.json")
            second = _child("gate", "gate-hf", args, cache, tmp_p / "gate2.json")
    rows = [_row(name, plain["tasks"][name], first["tasks"][name], second["tasks"][name]) for name in plain["tasks"]]
    total = {"task": "total", "answers_agree": all(x["answers_agree"] for x in rows), "differing_items": []}
    for k in rows[0]:
        if k.endswith(("_s", "_tokens", "_padded")) or k == "items":
            total[k] = sum(x[k] for x in rows)
    # Whole-process setup (task index, imports of the suite) is part of the wall too: add it to the totals.
    for key, run in (("lmeval", plain), ("gate", first), ("gate2", second)):
        extra = run["suite_s"] - sum(t["wall_s"] for t in run["tasks"].values())
        total[f"{key}_wall_s"] += extra
        total[f"{key}_setup_s"] += extra
    total["gate2_overhead_s"] += second["suite_s"] - sum(t["wall_s"] for t in second["tasks"].values())
    common = plain["lls"].keys() & first["lls"].keys()
    max_dll = max((abs(plain["lls"][k] - first["lls"][k]) for k in common), default=0.0)
    meta = {
        "requests": len(common),
        "overhead_share": total["gate2_overhead_s"] / total["gate2_wall_s"] if total["gate2_wall_s"] else 0.0,
        "setup_ratio": total["gate2_setup_s"] / total["lmeval_setup_s"] if total["lmeval_setup_s"] else 0.0,
        "load_plain": plain["model_load_s"],
        "load_gate": first["model_load_s"],
        "device": first["device"],
        "request_cache": [first["request_cache"], second["request_cache"]],
        "missing_lls": len(plain["lls"].keys() ^ first["lls"].keys()),
    }
    _print(rows, total, max_dll, meta)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"tasks": rows, "total": total, "max_abs_dll": max_dll, **meta}, indent=1)
        )
    return 0 if total["answers_agree"] and meta["missing_lls"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
