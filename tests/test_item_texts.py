"""Items as the reports show them, from a real evaluation of the bundled SmolLM2-135M: the prediction is
the choice `acc_norm` scored, and the whole prompt is kept (compressed) where the excerpt cut it."""

from __future__ import annotations

import json

import pytest

from gate import record as records
from gate.config import load_suite
from gate.item_text import full_texts, pack, unpack
from gate.run.runner import RunOptions, run_suite

pytestmark = pytest.mark.slow

SUITE = """name: items
version: 1
tasks:
  - task: arc_easy
    num_fewshot: 2
    metric: acc_norm
    kind: general
"""


@pytest.fixture(scope="module")
def items_record(smol_lm, data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "items.yaml"
    path.write_text(SUITE)
    return run_suite(smol_lm, load_suite(path), RunOptions(data_dir=data_dir, sample=20, seed=3))


def _gold(data_dir) -> dict[str, str]:
    rows = [json.loads(line) for line in (data_dir / "allenai/ai2_arc/ARC-Easy/test.jsonl").open()]
    return {r["question"]: r["choices"]["text"][r["choices"]["label"].index(r["answerKey"])] for r in rows}


def test_the_prediction_shown_is_the_choice_acc_norm_scored(items_record, data_dir):
    gold = _gold(data_dir)
    task = items_record.task("arc_easy")
    assert task.metric == "acc_norm" and task.n == 20
    for it in task.items:
        prompt = full_texts(it.excerpt, it.prediction, it.full)[0]
        question = prompt.rsplit("Question: ", 1)[1].rsplit("\nAnswer:", 1)[0]
        # Right exactly when the choice shown is the gold one: the shown choice is the one scored.
        assert (it.score == 1.0) == (it.prediction == gold[question]), (it.doc_id, it.prediction, gold[question])


def test_a_prompt_longer_than_its_excerpt_is_kept_whole(items_record, tmp_path):
    task = items_record.task("arc_easy")
    cut = [it for it in task.items if it.full]
    assert cut, "2-shot ARC-Easy prompts are longer than the 300-character excerpt"
    for it in cut:
        prompt, answer = full_texts(it.excerpt, it.prediction, it.full)
        assert len(prompt) > len(it.excerpt) and prompt.endswith(it.excerpt) and answer == it.prediction
        assert prompt.count("Question: ") == 3  # two shots and the question
    # And it survives the record's JSON: written, read back and checked like any record.
    path = records.save(records.seal(items_record), tmp_path / "r.json")
    again = records.load(path, require_digest=True)
    assert again.task("arc_easy").items == task.items


def test_a_broken_full_field_is_one_error_line():
    assert unpack(pack("p" * 1000, "a")) == ("p" * 1000, "a")
    with pytest.raises(Exception, match="'full' field is not base64 gzip JSON"):
        unpack("bm90IGd6aXA=", "r.json")
