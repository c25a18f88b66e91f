"""The verdict policy end to end on the real small model (issue: verdicts a reviewer agrees with).

Baseline: SmolLM2-135M-Instruct on 120 ARC-Easy and 40 HellaSwag items (tests/data/suites/policy-e2e.yaml).
Candidate "noisy": every weight perturbed by 12% of its own size (seed 0). Measured on these items:
ARC-Easy 52.5% -> 37.5%, 95% CI -24.8 to -5.2 pts, 28 newly wrong against 10 newly right, p = 0.01.
With an allowed drop of 6 points that is a significant drop whose estimate (-15) is beyond the
allowance while its interval reaches inside it (-5.2): the old rule called it inconclusive and let it
merge; it must block as likely regressed.
Candidate "damaged": the final norm's sign flipped, which makes the model rank answers backwards. The
thresholds file names only ARC-Easy (as a user easily writes it); HellaSwag, the stand-in domain task,
is gated by `defaults.max_drop` and must block on its own regression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ModelSpec, Policy, TaskThreshold, Thresholds, load_suite
from gate.config.thresholds import Defaults
from gate.decide.compare import compare, file_baseline_ref
from gate.errors import ConfigError
from gate.run.models import load_lm
from gate.run.runner import RunOptions, run_suite
from tests.variants import variant

pytestmark = pytest.mark.slow

SUITE = Path(__file__).parent / "data" / "suites" / "policy-e2e.yaml"


@pytest.fixture(scope="module")
def runs(smol_dir, data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policy-e2e")
    suite = load_suite(SUITE)

    def run(folder: Path, **kw):
        lm = load_lm(ModelSpec(model=str(folder), dtype="float32", batch_size=8, backend=suite.backend))
        return run_suite(lm, suite, RunOptions(data_dir=data_dir, seed=3, **kw))

    base = run(smol_dir)
    return {
        "baseline": base,
        "noisy": run(variant(smol_dir, tmp / "noisy", noise=0.12, noise_scale="abs"), items_from=base),
        "damaged": run(variant(smol_dir, tmp / "damaged", flip_norm=True), items_from=base),
    }


def _arc_only(**policy) -> Thresholds:
    return Thresholds(
        tasks={"arc_easy": TaskThreshold("acc", True, max_drop=0.06)},
        defaults=Defaults(max_drop=0.05),
        policy=Policy(**policy),
    )


def test_a_significant_drop_beyond_the_allowance_blocks_as_likely_regressed(runs):
    base = runs["baseline"]
    r = compare(runs["noisy"], base, _arc_only(), file_baseline_ref(base, "baseline.json"))
    arc = next(t for t in r.tasks if t.name == "arc_easy")
    assert arc.decision == "likely_regressed" and arc.blocking, arc.reason
    assert arc.delta < -0.06 < arc.ci_high and arc.p_adjusted < 0.05  # estimate beyond, interval inside
    assert "more items would tell" in arc.reason
    assert r.exit_code == 1 and r.state == "failure"
    assert any(x.startswith("arc_easy likely regressed") for x in r.blocking_reasons)
    # The same result under the old rule (likely regressions not blocking) would have passed: the change matters.
    lenient = compare(runs["noisy"], base, _arc_only(block_on_likely_regression=False), file_baseline_ref(base, "b"))
    assert not next(t for t in lenient.tasks if t.name == "arc_easy").blocking


def test_a_domain_task_left_out_of_the_thresholds_is_gated_by_the_default_and_blocks(runs):
    base = runs["baseline"]
    r = compare(runs["damaged"], base, _arc_only(), file_baseline_ref(base, "baseline.json"))
    hs = next(t for t in r.tasks if t.name == "hellaswag")
    assert hs.kind == "domain" and hs.gated and hs.allowance == 0.05
    assert hs.decision in ("regressed", "likely_regressed") and hs.blocking, hs.reason
    assert any(x.startswith("hellaswag") for x in r.blocking_reasons)
    # Without a default the file cannot leave the task ungated: it is a config error naming the task.
    no_default = Thresholds(tasks={"arc_easy": TaskThreshold("acc", True, max_drop=0.06)})
    with pytest.raises(ConfigError, match="'hellaswag' is evaluated but has no rule"):
        compare(runs["damaged"], base, no_default, file_baseline_ref(base, "b"))
