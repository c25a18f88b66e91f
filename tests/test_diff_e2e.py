"""`gate diff` end to end on the real small model.

Baseline: SmolLM2-135M-Instruct. Candidate A: the same weights saved in bfloat16 and run in
float32 (must not block). Candidate B: the same model with visibly damaged weights, made here
(must block). All three run on the same real ARC-Easy items, where the model is clearly above
chance; MMLU/ARC-Challenge would not do, as the model is near chance there (see
test_compare.test_real_smollm2_record_says_mmlu_is_near_chance_and_arc_easy_is_not).

Why the damage is a sign-flipped final norm rather than random noise: noise drives this model
to chance (measured: 44% -> 28% on 100 items, McNemar p = 0.02), and ARC-Easy leaves only ~20
points above chance, so noise damage needs 150+ items per model to block reliably, several
minutes on 2 cores. A flipped final norm makes the model rank answers backwards (measured:
48% -> 12% on 60 items, p < 1e-4; 56% -> 14% on 50, p = 2e-4; 50% -> 18% on 40, p = 0.01),
so 50 items show it beyond doubt.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import gate.cli.diff  # noqa: F401  (registers the command)
from gate import record as records
from gate.cli import cli
from gate.config import ModelSpec, load_suite
from gate.run.models import load_lm
from gate.run.runner import RunOptions, run_suite
from tests.variants import variant

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
SUITE = DATA / "suites" / "diff-e2e.yaml"
THRESHOLDS = DATA / "configs" / "diff" / "thresholds-e2e.yaml"
N_ITEMS = 50  # one stratified sample of ARC-Easy test items, for the baseline and the damaged copy
N_BF16 = 25  # the bf16 copy runs on the first 25 of them: enough to show it answers the same


@pytest.fixture(scope="module")
def runs(smol_dir, smol_lm, data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff-e2e")
    suite = load_suite(SUITE)
    base = run_suite(smol_lm, suite, RunOptions(data_dir=data_dir, sample=N_ITEMS, seed=3))
    first = replace(base, tasks=tuple(replace(t, items=t.items[:N_BF16]) for t in base.tasks))
    out = {"baseline": base}
    for name, dtype, damage, items in (
        ("bf16", torch.bfloat16, False, first),
        ("damaged", torch.float32, True, base),
    ):
        folder = variant(smol_dir, tmp / name, dtype=dtype, flip_norm=damage)
        # Same compute dtype as the baseline: only the stored weights differ, so the setup is comparable.
        lm = load_lm(ModelSpec(model=str(folder), dtype="float32", batch_size=smol_lm.info.batch_size))
        out[name] = run_suite(lm, suite, RunOptions(data_dir=data_dir, items_from=items))
        del lm
    paths = {}
    for name, rec in out.items():
        paths[name] = records.save(rec, tmp / f"{name}.json")
    return out, paths


def _diff(*args: str):
    return CliRunner().invoke(cli, ["diff", *args])


def test_records_measure_different_weights_in_the_same_setup(runs):
    recs, _ = runs
    fps = {r.model.fingerprint for r in recs.values()}
    assert len(fps) == 3
    assert {r.model.dtype for r in recs.values()} == {"float32"}
    base = recs["baseline"].task("arc_easy")
    assert base.n == N_ITEMS and base.value > 0.35  # well above chance (0.25), so a drop can show


def test_bf16_copy_does_not_block(runs):
    recs, paths = runs
    r = _diff(str(paths["bf16"]), "--baseline-record", str(paths["baseline"]), "--thresholds", str(THRESHOLDS))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("PASSED against baseline")
    t = json.loads(
        _diff(
            str(paths["bf16"]), "--baseline-record", str(paths["baseline"]), "--thresholds", str(THRESHOLDS),
            "--format", "json",
        ).stdout
    )["tasks"][0]  # fmt: skip
    assert t["n_paired"] == N_BF16 and t["decision"] == "ok", t["reason"]
    assert t["newly_wrong"] <= 1  # bf16 rounding may flip a near-tie, not more


def test_damaged_weights_block_against_the_frozen_mlflow_baseline(runs):
    from gate.store.tracking import Store

    recs, paths = runs
    ref = Store().freeze("smol-e2e", record=recs["baseline"], who="ci")
    r = _diff(str(paths["damaged"]), "--baseline", "smol-e2e", "--thresholds", str(THRESHOLDS), "--format", "markdown")
    assert r.exit_code == 1, r.output
    md = r.stdout
    lines = md.splitlines()
    assert lines[0].startswith("### ❌ blocked — arc_easy −")  # the state and the main cause, one line
    assert f"vs baseline **smol-e2e** (run `{ref.run_id}`" in lines[2]
    assert lines[6].startswith("| ❌ | `arc_easy` acc |") and "regressed (blocks)" in md
    assert "80% power for" in md
    assert "<details>" in md and "Question:" in md  # the real ARC items that flipped, prompts shown
    data = json.loads(
        _diff(
            str(paths["damaged"]), "--baseline", "smol-e2e", "--thresholds", str(THRESHOLDS), "--format", "json"
        ).stdout
    )
    t = data["tasks"][0]
    assert t["decision"] == "regressed" and t["ci_high"] < -0.05
    assert t["newly_wrong"] > 3 * t["newly_right"]
    assert t["mde"] is not None and 0.05 < t["mde"] < 1  # power is reported: what this n can see
