"""A unicode sparkline: a series of past values in one short cell of a table (`▂▃▂▆█`).

Light (no numpy): the PR comment renders it in the publish job. Each bar is scaled between the
series' own minimum and maximum, so the line shows the shape of the history, not its level; the
numbers themselves go beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"  # a point with no value (a baseline that did not measure the task)


def sparkline(values: Sequence[float | None]) -> str:
    """One bar per value, lowest `▁`, highest `█`; a flat series is all `▄`; a missing value is `·`."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return GAP * len(values)
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(GAP)
        elif hi - lo < 1e-12:
            out.append(BARS[3])
        else:
            out.append(BARS[round((v - lo) / (hi - lo) * (len(BARS) - 1))])
    return "".join(out)
