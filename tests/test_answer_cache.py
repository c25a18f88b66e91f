"""The answer cache (gate.lmeval.answer_cache): scoped by the weights and settings, safe across checkpoints.

Two real checkpoints of the small model: the bundled one and a copy whose weights are perturbed here.
Log-likelihoods (ARC-Easy) and greedy generation (GSM8K) go through lm-eval and the cache.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from gate.config import ModelSpec, load_suite
from gate.record import EvalRecord
from tests.variants import variant

SUITE = Path(__file__).parent / "data" / "suites" / "answer_cache.yaml"
SAMPLE = 3


def run(out: Path, model: Path, cache: Path | None, data_dir: Path, max_gen_toks: int | None = None, **spec):
    from gate.run.pipeline import RunRequest, evaluate_checkpoint

    req = RunRequest(
        spec=ModelSpec(model=str(model), batch_size=4, backend=spec.pop("backend", "gate-hf"), **spec),
        suite=load_suite(SUITE),
        output=out,
        data_dir=data_dir,
        sample=SAMPLE,
        max_gen_toks=max_gen_toks,
        log_to_mlflow=False,
        answer_cache=cache,
    )
    return evaluate_checkpoint(req).record


def stored(cache: Path) -> dict[str, dict[str, object]]:
    """Every cache file under `cache`: its folder name -> request hash -> answer, read straight from SQLite."""
    out = {}
    for f in sorted(cache.glob("*/answers.sqlite")):
        con = sqlite3.connect(f)
        out[f.parent.name] = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM answers")}
        con.close()
    return out


def outcomes(r: EvalRecord) -> dict[str, list[tuple[int, float, str]]]:
    return {t.name: [(i.doc_id, i.score, i.prediction) for i in t.items] for t in r.tasks}


@pytest.fixture(scope="module")
def filled(tmp_path_factory, smol_dir, data_dir):
    """A cache filled by one cold run of the bundled model, and that run's record."""
    root = tmp_path_factory.mktemp("answers")
    record = run(root / "cold.json", smol_dir, root / "cache", data_dir)
    return root, record


@pytest.fixture(scope="module")
def perturbed(tmp_path_factory, smol_dir) -> Path:
    """Another checkpoint of the same model: every weight moved by seeded noise of 2% of its tensor's spread."""
    return variant(smol_dir, tmp_path_factory.mktemp("perturbed") / "m", noise=0.02, seed=16)


@pytest.mark.slow
def test_a_rerun_of_the_same_weights_reads_every_answer_and_gives_the_same_record(filled, smol_dir, data_dir):
    root, cold = filled
    assert cold.timing.answers_from_cache == 0
    assert cold.timing.answers_computed > 0
    again = run(root / "again.json", smol_dir, root / "cache", data_dir)
    assert again.timing.answers_from_cache == cold.timing.answers_computed
    assert again.timing.answers_computed == 0
    assert _answers(again) == _answers(cold)
    assert again.model == cold.model


@pytest.mark.slow
def test_a_second_checkpoint_never_receives_the_first_ones_answers(filled, perturbed, data_dir):
    root, cold = filled
    first = stored(root / "cache")
    assert len(first) == 1
    (first_answers,) = first.values()
    other = run(root / "other.json", perturbed, root / "cache", data_dir)
    assert other.model.fingerprint != cold.model.fingerprint
    assert other.timing.answers_from_cache == 0, "the perturbed checkpoint was served cached answers"
    assert other.timing.answers_computed == cold.timing.answers_computed
    both = stored(root / "cache")
    (mine,) = (answers for folder, answers in both.items() if folder not in first)
    assert mine.keys() == first_answers.keys()  # the same requests: only the weights differ
    # Every log-likelihood the second checkpoint has is its own, none the first one's
    same = [k for k, v in mine.items() if isinstance(v, list) and v == first_answers[k]]
    assert not same, f"{len(same)} answers of the perturbed checkpoint equal the bundled one's"
    assert sum(isinstance(v, list) for v in mine.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    [{"dtype": "bfloat16"}, {"max_gen_toks": 12}],
    ids=["dtype", "generation-settings"],
)
def test_changing_what_shapes_an_answer_misses_the_cache(change, filled, smol_dir, data_dir, tmp_path):
    root, cold = filled
    r = run(tmp_path / "changed.json", smol_dir, root / "cache", data_dir, **change)
    assert r.timing.answers_from_cache == 0
    assert r.timing.answers_computed == cold.timing.answers_computed


@pytest.mark.slow
def test_every_setting_that_shapes_an_answer_is_in_the_key(smol_lm):
    from dataclasses import replace

    from gate.lmeval.answer_cache import answer_key

    info = smol_lm.info
    base = answer_key(info, None, None).digest()
    changed = [
        answer_key(replace(info, fingerprint="sha256:" + "0" * 64), None, None),
        answer_key(replace(info, backend="gate-hf"), None, None),
        answer_key(replace(info, dtype="bfloat16"), None, None),
        answer_key(replace(info, quantization="8bit"), None, None),
        answer_key(replace(info, device="cuda:0"), None, None),
        answer_key(replace(info, batch_size=info.batch_size + 1), None, None),
        answer_key(info, 512, None),
        answer_key(info, None, 12),
    ]
    digests = {k.digest() for k in changed}
    assert base not in digests and len(digests) == len(changed)
    # which GPU of a kind does not change answers: cuda:0 and cuda:1 share a cache
    gpu0, gpu1 = (answer_key(replace(info, device=d), None, None) for d in ("cuda:0", "cuda:1"))
    assert gpu0 == gpu1


@pytest.mark.slow
def test_a_damaged_cache_file_is_set_aside_with_a_warning_and_never_read(filled, smol_lm, tmp_path):
    from gate.lmeval.answer_cache import answer_key, model_digest, open_cache

    root, cold = filled
    key = answer_key(cold.model, None, None, model_digest(smol_lm.lm, smol_lm.setup.tokenizer_hash))
    source = root / "cache" / key.digest()[:32]
    answers = stored(root / "cache")[source.name]
    cache = tmp_path / "cache"
    shutil.copytree(source, cache / source.name)
    f = cache / source.name / "answers.sqlite"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated, as a full disk or a kill mid-copy leaves it
    warnings: list[str] = []
    lm = open_cache(smol_lm.lm, key, cache, warnings.append)
    try:
        assert len(warnings) == 1 and "SQLite" in warnings[0], warnings
        assert not any(k in lm.dbdict for k in answers), "answers were read from a damaged file"
        assert list(cache.glob(f"{source.name}.unusable-*/answers.sqlite")), "the damaged file was not kept aside"
    finally:
        lm.close()


def test_a_row_that_is_not_an_answer_is_recomputed_not_returned(smol_lm, tmp_path):
    from gate.lmeval.answer_cache import answer_key, open_cache

    key = answer_key(smol_lm.info, None, None)
    lm = open_cache(smol_lm.lm, key, tmp_path)
    lm.dbdict["good"] = (-1.5, True)
    lm.dbdict.commit()
    lm.close()
    f = next(tmp_path.glob("*/answers.sqlite"))
    con = sqlite3.connect(f)
    con.execute("INSERT INTO answers (key, value) VALUES ('bad', ?)", (json.dumps({"not": "an answer"}),))
    con.commit()
    con.close()
    lm = open_cache(smol_lm.lm, key, tmp_path)
    try:
        assert "good" in lm.dbdict and lm.dbdict["good"] == (-1.5, True)
        assert "bad" not in lm.dbdict
        assert lm.dbdict.rejected == 1
    finally:
        lm.close()


def _answers(record):
    """The record's tasks without their operational measurements: latencies are timed anew on every run,
    while every item, value and interval must come out the same."""
    from dataclasses import replace

    return tuple(replace(t, operational=None) for t in record.tasks)


@pytest.mark.slow
def test_a_new_generation_config_or_tokenizer_misses_the_cache(smol_lm):
    """Same weights, same fingerprint: another end-of-sequence token or tokenizer still gives other answers."""
    from gate.lmeval.answer_cache import model_digest

    before = model_digest(smol_lm.lm, smol_lm.setup.tokenizer_hash)
    config = smol_lm.lm.model.generation_config
    saved = config.eos_token_id
    config.eos_token_id = 0
    try:
        assert model_digest(smol_lm.lm, smol_lm.setup.tokenizer_hash) != before
    finally:
        config.eos_token_id = saved
    assert model_digest(smol_lm.lm, smol_lm.setup.tokenizer_hash) == before
    assert model_digest(smol_lm.lm, "sha256:" + "0" * 64) != before
