"""The fast-stage runner on the real small model and real benchmark items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate import record as records
from gate.config import ModelSpec, load_suite
from gate.run.models import fingerprint, load_lm
from gate.run.runner import RunOptions, run_suite

pytestmark = pytest.mark.slow

SMOKE = Path(__file__).parent / "data" / "suites" / "smoke.yaml"


@pytest.fixture(scope="module")
def smoke_record(smol_lm, data_dir):
    suite = load_suite(SMOKE)
    return run_suite(smol_lm, suite, RunOptions(data_dir=data_dir, sample=12, seed=5))


def test_record_validates_and_has_the_items_asked_for(smoke_record):
    data = records.to_dict(smoke_record)
    again = records.from_dict(json.loads(json.dumps(data)))  # schema-checked round trip
    assert again == smoke_record
    for t in smoke_record.tasks:
        assert t.n == t.n_requested == 12, t.name
        assert len({(i.group, i.doc_id) for i in t.items}) == 12


def test_task_score_is_the_mean_of_item_outcomes(smoke_record):
    for t in smoke_record.tasks:
        assert t.value == pytest.approx(sum(i.score for i in t.items) / t.n, abs=1e-9), t.name


def test_mmlu_is_sampled_across_subjects_not_the_first_docs(smoke_record):
    mmlu = smoke_record.task("mmlu")
    subjects = {i.group for i in mmlu.items}
    assert len(subjects) >= 6  # 12 items over 57 subjects: spread, not one subject's first docs
    assert all(s.startswith("mmlu_") for s in subjects)
    assert mmlu.chance == pytest.approx(0.25)


def test_record_carries_fingerprint_versions_and_setup(smoke_record, smol_dir):
    m = smoke_record.model
    assert m.fingerprint == fingerprint(smol_dir)
    assert m.device == "cpu" and m.dtype == "float32" and m.batch_size == 8
    assert smoke_record.versions.lm_eval == "0.4.13"
    assert smoke_record.sampling.source == "sample" and smoke_record.sampling.seed == 5
    arc = smoke_record.task("arc_easy")
    assert arc.task_hash.startswith("sha256:") and arc.num_fewshot == 0
    assert all(i.prompt_hash and i.doc_hash for i in arc.items)


def test_items_from_reuses_exactly_the_same_items(smoke_record, smol_lm, data_dir):
    suite = load_suite(SMOKE)
    again = run_suite(smol_lm, suite, RunOptions(data_dir=data_dir, items_from=smoke_record))
    for a, b in zip(smoke_record.tasks, again.tasks, strict=True):
        assert [(i.group, i.doc_id, i.prompt_hash) for i in a.items] == [
            (i.group, i.doc_id, i.prompt_hash) for i in b.items
        ]
        assert [i.score for i in a.items] == [i.score for i in b.items]  # same weights, same answers


def test_item_outcomes_equal_plain_lm_eval(smoke_record, smol_dir, data_dir):
    """Plain lm-eval (its own hf backend, its own arc_easy YAML with only the data source swapped) agrees per item."""
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    tm = TaskManager()
    cfg = load_yaml(tm.task_index["arc_easy"].yaml_path, resolve_func=True)
    base = data_dir / "allenai/ai2_arc/ARC-Easy"
    cfg.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": {s: str(base / f"{s}.jsonl") for s in ("train", "validation", "test")}},
    )
    cfg.pop("tag", None)
    ids = [i.doc_id for i in smoke_record.task("arc_easy").items]
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(smol_dir), "dtype": "float32"},
        tasks=[cfg],
        samples={"arc_easy": ids},
        num_fewshot=0,
        batch_size=8,
        device="cpu",
        task_manager=tm,
        log_samples=True,
    )
    plain = {s["doc_id"]: (s["acc"], s["prompt_hash"], s["doc_hash"]) for s in out["samples"]["arc_easy"]}
    ours = {i.doc_id: (i.score, i.prompt_hash, i.doc_hash) for i in smoke_record.task("arc_easy").items}
    assert ours == plain


def test_fingerprint_is_stable_and_changes_with_one_weight(smol_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    assert fingerprint(smol_dir) == fingerprint(smol_dir)
    copy = tmp_path / "copy"
    shutil.copytree(smol_dir, copy)
    assert fingerprint(copy) == fingerprint(smol_dir)
    tensors = load_file(copy / "model.safetensors")
    name = sorted(tensors)[0]
    tensors[name].view(-1)[0] += 1e-3
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert fingerprint(copy) != fingerprint(smol_dir)
    # and a reload of the changed copy reports the new fingerprint
    assert load_lm(ModelSpec(model=str(copy))).info.fingerprint == fingerprint(copy)


def test_task_hash_is_the_same_in_another_process(data_dir, repo):
    """HellaSwag's config holds Python functions; their memory addresses must not leak into the task hash."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(repo)}
    code = (
        "import json,sys; from pathlib import Path; from gate.lmeval.data import task_manager; "
        "from gate.lmeval.results import config_hash; tm = task_manager(Path(sys.argv[1])); "
        "t = tm.load(['hellaswag'])['tasks']['hellaswag']; "
        "print(config_hash(t.dump_config(), 1, 'x'))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True, check=True, env=env
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(runs) == 1 and next(iter(runs)).startswith("sha256:")
