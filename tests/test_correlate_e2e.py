"""`gate correlate` end to end: a real MLflow sqlite store filled by real `gate run`s of five
checkpoint variants of SmolLM2-135M made here (the model itself, its bf16 copy, weight noise of 5% and
20% of each tensor's spread, and a sign-flipped final norm), on a few ARC-Easy items (general) and demo
policy questions (domain).

The correlation is checked against scipy on the scores of the records those runs wrote, not against
any expected value: with this few items the small model's rho is whatever it is (the variants must
score differently, or there is no rank to correlate).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from scipy import stats as st

import gate.cli.correlate  # noqa: F401  (registers the command)
import gate.cli.run  # noqa: F401
from gate import record as records
from gate.cli import cli
from tests.variants import variant

pytestmark = pytest.mark.slow

SUITE = Path(__file__).parent / "data" / "suites" / "correlate.yaml"
N_ITEMS = 12  # per task and checkpoint: with fewer, the five variants can score alike on both tasks


@pytest.fixture(scope="module")
def store(smol_dir, data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("correlate-e2e")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    models = {
        "base": str(smol_dir),
        "bf16": str(variant(smol_dir, tmp / "bf16", dtype=torch.bfloat16)),
        "noise5": str(variant(smol_dir, tmp / "noise5", noise=0.05, seed=7)),
        "noise20": str(variant(smol_dir, tmp / "noise20", noise=0.2, seed=7)),
        "flipped": str(variant(smol_dir, tmp / "flipped", flip_norm=True)),
    }
    out = {}
    for name, model in models.items():
        path = tmp / f"{name}.json"
        args = ["run", "--model", model, "--dtype", "float32", "--suite", str(SUITE), "--data-dir", str(data_dir)]
        args += ["--sample", str(N_ITEMS), "--seed", "1", "--output", str(path)]
        r = CliRunner().invoke(cli, args, env={"MLFLOW_TRACKING_URI": uri})
        assert r.exit_code == 0, r.output
        out[name] = records.load(path)
    return uri, out


def test_correlation_over_real_runs_is_scipys_on_the_recorded_scores(store):
    uri, recs = store
    assert len({r.model.fingerprint for r in recs.values()}) == 5  # five distinct checkpoints
    r = CliRunner().invoke(cli, ["correlate", "--suite", "correlate", "--format", "json", "--tracking-uri", uri])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    (pair,) = data["pairs"]
    assert (pair["general"], pair["domain"], pair["n"]) == ("arc_easy", "demo_policy", 5)
    by_fp = {p["fingerprint"]: (p["general"], p["domain"]) for p in pair["points"]}
    for rec in recs.values():  # each point is that checkpoint's recorded score
        task = {t.name: t.value for t in rec.tasks}
        assert by_fp[rec.model.fingerprint] == pytest.approx((task["arc_easy"], task["demo_policy"]))
    xs, ys = zip(*by_fp.values(), strict=True)
    assert len(set(xs)) > 1 and len(set(ys)) > 1, f"the variants scored alike: {by_fp}"
    want = st.spearmanr(xs, ys)
    assert (pair["rho"], pair["p_value"]) == (pytest.approx(want.statistic), pytest.approx(want.pvalue))
    size = abs(want.statistic)
    assert pair["band"] == ("strong" if size > 0.7 else "moderate" if size > 0.4 else "weak")
    assert data["warnings"] == []  # five checkpoints: enough to report

    md = CliRunner().invoke(cli, ["correlate", "--format", "markdown", "--tracking-uri", uri])
    assert md.exit_code == 0 and md.stdout.count("<circle") == 5, md.output
    few = CliRunner().invoke(cli, ["correlate", "--until", "2000-01-01", "--tracking-uri", uri])
    assert few.exit_code == 0 and "fewer than 5" in few.output
