"""The forgetting demo's domain task: well-formed items, and lm-eval loads it through the suite's include path."""

from __future__ import annotations

import json
from pathlib import Path

from gate.config import load_suite

ROOT = Path(__file__).resolve().parents[1]
TASK_DIR = ROOT / "suites" / "domain" / "demo_policy"
CORPUS = ROOT / "scripts" / "data" / "harbor_finch_policy.txt"


def _items() -> list[dict]:
    return [json.loads(line) for line in (TASK_DIR / "demo_policy.jsonl").read_text().splitlines()]


def test_items_are_well_formed_multiple_choice() -> None:
    items = _items()
    assert len(items) >= 40
    assert [it["id"] for it in items] == list(range(len(items)))
    assert len({it["question"] for it in items}) == len(items)
    for it in items:
        assert len(it["choices"]) == 4 and len(set(it["choices"])) == 4, it
        assert 0 <= it["answer"] < 4, it


def test_every_right_answer_is_taught_by_the_fine_tuning_corpus() -> None:
    corpus = CORPUS.read_text().lower()
    missing = [it["choices"][it["answer"]] for it in _items() if it["choices"][it["answer"]].lower() not in corpus]
    # A few answers are paraphrased rather than quoted; most must appear word for word.
    assert len(missing) <= 8, missing


def test_demo_suite_points_lm_eval_at_the_task(tmp_path: Path) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    suite = load_suite(ROOT / "suites" / "demo.yaml")
    assert [t.kind for t in suite.tasks] == ["general", "general", "domain"]
    assert Path.cwd() == tmp_path  # (conftest) the task's data file is found from any directory
    tm = TaskManager(include_path=[str(p) for p in suite.include_paths])
    task = get_task_dict(["demo_policy"], tm)["demo_policy"]
    docs = list(task.test_docs())
    assert len(docs) == len(_items())
    assert task.doc_to_text(docs[0]).startswith("Question: ")
