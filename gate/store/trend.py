"""The trend of a baseline name: each gated task's value in its last N freezes, oldest first.

Read from what `Store` already records (every freeze of a name, current and replaced, and each frozen
run's metrics); `tracking.py` is not changed for it. The reports draw it as a sparkline (PR comment) or
a small chart (HTML report).
"""

from __future__ import annotations

from collections.abc import Sequence

from gate.store.keys import metric_key
from gate.store.tracking import Store


def baseline_trend(
    store: Store, name: str, tasks: Sequence[tuple[str, str]], n: int = 8
) -> dict[str, list[float | None]]:
    """task -> its metric in the last `n` freezes of baseline `name`, oldest first (None: not measured there).

    `tasks` are (task, metric) pairs as a record names them, e.g. ("arc_easy", "acc_norm,none").
    """
    freezes = sorted((e for e in store.list_baselines() if e.name == name), key=lambda e: e.version)[-n:]
    out: dict[str, list[float | None]] = {task: [] for task, _ in tasks}
    with store._guard("reading the baseline trend"):  # the store's own error line (exit 3), as every read
        runs = [store.client.get_run(e.run_id).data.metrics for e in freezes]
    for metrics in runs:
        for task, metric in tasks:
            out[task].append(metrics.get(metric_key(task, metric)))
    return out
