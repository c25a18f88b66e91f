"""One typed call of `lm_eval.evaluator.simple_evaluate`: chosen task objects, chosen doc ids, one results dict.

`simple_evaluate` takes some thirty arguments, strings or objects alike; the gate always calls it
the same way: task objects it built, the exact doc ids to evaluate (`samples=`), per-item samples
logged, and no environment probing. The dict it returns is read by `gate.lmeval.results` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gate.errors import EvalFailed

BOOTSTRAP_ITERS = 1000  # stderr of non-mean metrics; lm-eval's 100k default costs minutes per task


class _Ids(list):
    """Doc ids for lm-eval's `samples=`: still a list (lm-eval indexes it), but `in` is O(1): lm-eval
    tests membership once per document of the task, quadratic with a plain list (seconds for MMLU).

    Written against lm-eval 0.4.13, which uses each task's `samples` list as given: iterates it,
    indexes it (`indices[doc_id]`) and tests `i in samples` in `Task.doc_iterator`.
    """

    def __init__(self, ids: list[int]):
        super().__init__(ids)
        self._set = frozenset(ids)

    def __contains__(self, x: object) -> bool:
        return x in self._set


@contextmanager
def _without_env_probes() -> Iterator[None]:
    """lm-eval ends every `simple_evaluate` by running git and torch's collect_env (pip, nvidia-smi, ...)
    as subprocesses: about a second per task on every checkpoint, and "fatal: not a git repository" on
    stderr outside a checkout. The gate never reads that block; the record carries its own versions.

    A runtime patch written against lm-eval 0.4.13: `simple_evaluate` calls the names
    `add_env_info` and `get_git_commit_hash` it imported into `lm_eval.evaluator`, looked up there at
    call time, so replacing them for the call's duration silences both.
    """
    import lm_eval.evaluator as ev

    saved = ev.add_env_info, ev.get_git_commit_hash
    ev.add_env_info, ev.get_git_commit_hash = (lambda storage: None), (lambda: None)
    try:
        yield
    finally:
        ev.add_env_info, ev.get_git_commit_hash = saved


def evaluate(
    lm: Any,
    tasks: list[Any],
    doc_ids: Mapping[str, list[int]],
    *,
    task: str,
    num_fewshot: int,
    task_manager: Any,
    apply_chat_template: bool,
    fewshot_as_multiturn: bool,
) -> dict[str, Any]:
    """Evaluate the documents `doc_ids` (by leaf name) of lm-eval task objects on `lm`; lm-eval's results dict.

    A crash inside lm-eval is EvalFailed naming the suite `task`: the gate failed to measure, which
    says nothing about the model.
    """
    import lm_eval.evaluator

    from gate.lmeval.terminal import task_bar

    try:
        with _without_env_probes(), task_bar(task, sum(len(ids) for ids in doc_ids.values())):
            results = lm_eval.evaluator.simple_evaluate(
                model=lm,
                tasks=tasks,
                num_fewshot=num_fewshot,
                samples={name: _Ids(ids) for name, ids in doc_ids.items() if ids},
                task_manager=task_manager,
                apply_chat_template=apply_chat_template,
                fewshot_as_multiturn=fewshot_as_multiturn,
                bootstrap_iters=BOOTSTRAP_ITERS,
                log_samples=True,
            )
    except (RuntimeError, ValueError, KeyError, IndexError, TypeError, AssertionError, OSError) as e:
        raise EvalFailed(f"task '{task}': lm-eval failed: {type(e).__name__}: {e}") from e
    if getattr(lm, "world_size", 1) > 1:
        results = _from_rank0(results)
    if results is None:
        raise EvalFailed(f"task '{task}': lm-eval returned no results (not rank 0?)")
    return results


def _from_rank0(results: dict[str, Any] | None) -> dict[str, Any] | None:
    """Rank 0's results (every rank's items, gathered by lm-eval) on every rank of a data-parallel run.

    lm-eval returns None on the other ranks; with rank 0's dict they take the same steps on the same data
    as rank 0 (parsing, the item checks, the next task or stage) and fail where it fails, instead of
    waiting at the next task's gather for a rank 0 that stopped.
    """
    import torch.distributed as dist

    box = [results]
    dist.broadcast_object_list(box, src=0)
    return box[0]
