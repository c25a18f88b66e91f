"""The sparkline the comment draws (the trend read from MLflow: tests/test_store.py)."""

from __future__ import annotations

from gate.report.sparkline import sparkline


def test_sparkline_of_flat_and_missing_values():
    assert sparkline([0.5, 0.5, None, 0.5]) == "▄▄·▄"
    assert sparkline([]) == "" and sparkline([None]) == "·"
