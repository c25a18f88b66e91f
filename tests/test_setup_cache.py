"""Requests are built once per suite and reused by later checkpoints; the key changes whenever they would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gate.lmeval.request_cache import (
    CacheStats,
    RequestCache,
    install_template_cache,
    request_key,
    reuse_requests,
)
from gate.lmeval.task_index import cached_task_manager


def _arc_task(data_dir: Path, shots: int = 2):
    """A fresh ARC-Easy task object from lm-eval's own YAML, reading the data dir (as a new process would)."""
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    from gate.lmeval.data import DataDir, rewrite_config

    cfg = load_yaml(Path(lm_eval.__file__).parent / "tasks/arc/arc_easy.yaml", resolve_func=True)
    cfg = rewrite_config(dict(cfg), DataDir(data_dir))
    cfg["num_fewshot"] = shots
    (task,) = TaskManager(include_defaults=False).load([cfg])["tasks"].values()
    task.set_fewshot_seed(1234)  # what simple_evaluate does before building requests
    return task


BUILD = {"limit": None, "samples": [3, 10, 40], "rank": 0, "world_size": 1, "apply_chat_template": False}


def _build(task, cache, stats, **over):
    reuse_requests(task, cache, stats)
    task.build_all_requests(**{**BUILD, **over})
    return task.instances


def _same(a, b):
    return [(i.args, i.doc_id, i.idx, i.doc) for i in a] == [(i.args, i.doc_id, i.idx, i.doc) for i in b]


def test_second_checkpoint_reuses_the_first_ones_requests(data_dir, tmp_path):
    cache, stats = RequestCache(tmp_path / "req"), CacheStats()
    first = _build(_arc_task(data_dir), cache, stats)
    second = _build(_arc_task(data_dir), cache, stats)
    assert (stats.misses, stats.hits) == (1, 1)
    plain = _arc_task(data_dir)
    plain.build_all_requests(**BUILD)  # lm-eval with no cache at all
    assert _same(first, plain.instances) and _same(second, plain.instances)
    assert len(second) == 3 * 4  # three docs, four options each
    # stored as JSON, with no answers in it
    (f,) = (tmp_path / "req").rglob("*.json")
    stored = json.loads(f.read_text())
    assert "resps" not in json.dumps(stored["instances"])


@pytest.mark.parametrize(
    "change",
    [
        {"samples": [3, 10, 41]},  # other items
        {"apply_chat_template": True},  # never cached: depends on the model's tokenizer
    ],
)
def test_other_build_arguments_do_not_hit(data_dir, tmp_path, change):
    cache, stats = RequestCache(tmp_path / "req"), CacheStats()
    _build(_arc_task(data_dir), cache, stats)
    key_a = request_key(_arc_task(data_dir), BUILD)
    key_b = request_key(_arc_task(data_dir), {**BUILD, **change})
    assert key_a is not None and key_a != key_b


def test_fewshot_count_seed_and_data_are_part_of_the_key(data_dir, tmp_path):
    base = request_key(_arc_task(data_dir), BUILD)
    assert request_key(_arc_task(data_dir, shots=3), BUILD) != base
    reseeded = _arc_task(data_dir)
    reseeded.set_fewshot_seed(99)
    assert request_key(reseeded, BUILD) != base
    # the same task over a data dir where one training item (a few-shot candidate) was edited
    copy = tmp_path / "data"
    src = data_dir / "allenai/ai2_arc/ARC-Easy"
    shutil.copytree(src, copy / "allenai/ai2_arc/ARC-Easy")
    train = copy / "allenai/ai2_arc/ARC-Easy/train.jsonl"
    rows = train.read_text().splitlines()
    row = json.loads(rows[0])
    row["question"] += " (edited)"
    train.write_text("\n".join([json.dumps(row), *rows[1:]]) + "\n")
    assert request_key(_arc_task(copy), BUILD) != base
    assert request_key(_arc_task(data_dir), BUILD) == base  # and the key is stable across task objects


def test_template_cache_renders_the_same_prompts(data_dir):
    before = _arc_task(data_dir)
    before.build_all_requests(**BUILD)
    install_template_cache()
    install_template_cache()  # idempotent
    after = _arc_task(data_dir)
    after.build_all_requests(**BUILD)
    assert _same(before.instances, after.instances)


def test_task_index_is_cached_and_follows_yaml_changes(tmp_path):
    from lm_eval.tasks._index import TaskIndex

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    y = tasks / "mine.yaml"
    y.write_text("task: my_task\ndataset_path: json\noutput_type: multiple_choice\ntag: [mine]\n")
    cache = tmp_path / "cache"
    a = cached_task_manager([tasks], cache_dir=cache, include_defaults=False)
    b = cached_task_manager([tasks], cache_dir=cache, include_defaults=False)  # read from disk
    assert len(list((cache / "task-index").glob("*.json"))) == 1
    ref = TaskIndex.build([tasks])
    for tm in (a, b):
        assert tm.all_tasks == sorted(ref) and tm.all_tags == ["mine"] and tm.all_subtasks == ["my_task"]
        assert tm._index["my_task"].yaml_path == y
    y.write_text("task: renamed_task\ndataset_path: json\noutput_type: multiple_choice\n")
    c = cached_task_manager([tasks], cache_dir=cache, include_defaults=False)
    assert c.all_tasks == ["renamed_task"]
