"""The contamination probe on real items: a companion task with the options permuted, paired item by item,
its gold mapped to the same answer text, and a model taught to always answer "A" flagged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gate.config import load_suite, load_thresholds
from gate.errors import ConfigError
from tests.variants import fine_tune

SUBJECT = "mmlu_high_school_geography"  # 168 test items, options written in the prompt as A..D
N_ITEMS = 8
# The untouched small model already answers "A" to most MMLU questions 0-shot (its usual position bias),
# so the tuned one is taught the last position, D, and evaluated on items whose gold is D.
FIXED = 3


def _suite(tmp_path: Path, task: str, probe: object = True, fewshot: int = 0) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(
        "name: probe\nversion: 1\ntasks:\n"
        f"  - task: {task}\n    num_fewshot: {fewshot}\n    metric: acc\n    kind: general\n"
        f"    contamination_probe: {json.dumps(probe)}\n"
    )
    return p


def _loaded(task: str, data_dir: Path, folder: Path, seed: int = 1234):
    from gate.config import TaskSpec
    from gate.lmeval.probe import companion
    from gate.lmeval.tasks import load_task

    suite = load_suite(_suite(folder, task))
    original = load_task(TaskSpec(task=task, num_fewshot=0, metric="acc", kind="general"), suite, data_dir)
    return original, companion(original, seed, suite.path)


def _gold_text(task, doc) -> str:
    # lm-eval's own reading of the doc: the gold's index into doc_to_choice; MMLU's choices are letters, so
    # the answer text is the doc's option at that index.
    choices, target = task.doc_to_choice(doc), task.doc_to_target(doc)
    target = choices.index(target) if isinstance(target, str) else target
    return doc["choices"][target] if choices == ["A", "B", "C", "D"] else choices[target]


@pytest.mark.parametrize("task", ["arc_easy", SUBJECT])
def test_the_permuted_companion_keeps_every_items_answer_text_and_moves_its_position(task, data_dir, tmp_path):
    from gate.lmeval.probe import permute_doc

    original, permuted = _loaded(task, data_dir, tmp_path)
    (leaf,) = original.leaves.values()
    (name, comp) = next(iter(permuted.leaves.items()))
    assert name == f"{task}_permuted" and permuted.name == f"{task}_permuted"
    docs, pdocs = list(leaf.eval_docs), list(comp.eval_docs)
    assert len(docs) == len(pdocs) > 100
    for d, p in zip(docs, pdocs, strict=True):
        assert _gold_text(comp, p) == _gold_text(leaf, d)  # the mapped gold is the same answer
        assert comp.doc_to_target(p) != leaf.doc_to_target(d)  # ...in another position
        assert sorted(map(str, comp.doc_to_choice(p))) == sorted(map(str, leaf.doc_to_choice(d)))
    # seeded by the doc: the same order on every run, another with another seed
    assert [comp.doc_to_target(permute_doc(d, 1234)) for d in docs] == [comp.doc_to_target(p) for p in pdocs]
    assert [comp.doc_to_target(permute_doc(d, 7)) for d in docs] != [comp.doc_to_target(p) for p in pdocs]


def test_a_probe_on_a_generation_task_is_refused_naming_the_file_task_and_field(tmp_path, data_dir):
    from gate.run.runner import validate_suite

    path = _suite(tmp_path, "gsm8k")
    with pytest.raises(ConfigError) as e:
        validate_suite(load_suite(path), data_dir)
    msg = str(e.value)
    assert str(path) in msg and "gsm8k" in msg and "contamination_probe" in msg and "generate_until" in msg


def test_the_probe_seed_is_the_suites(tmp_path):
    assert load_suite(_suite(tmp_path, SUBJECT, {"seed": 9})).tasks[0].probe_seed == 9
    assert load_suite(_suite(tmp_path, SUBJECT, False)).tasks[0].probe_seed is None
    with pytest.raises(ConfigError, match="contamination_probe"):
        load_suite(_suite(tmp_path, SUBJECT, {"sed": 9}))


# ---------------------------------------------------------------- a model that always answers "D"


def _always_d(smol_dir: Path, prompts: list[str], steps: int = 3):
    """The small model fine-tuned for a few CPU steps to answer " D" after any MMLU-style prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gate.lmeval.backends import lm_class

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(smol_dir)
    model = AutoModelForCausalLM.from_pretrained(smol_dir, dtype=torch.float32)
    # Only the last layers learn: the lesson is one answer token, and backward through 4 of 30 layers is cheap.
    model.requires_grad_(False)
    for w in [*model.model.layers[-4:].parameters(), *model.model.norm.parameters()]:
        w.requires_grad_(True)
    answer = tok(" D", add_special_tokens=False)["input_ids"]
    examples = []
    for p in prompts:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        examples.append((ids + answer, [-100] * len(ids) + answer))
    model = fine_tune(model, tok.pad_token_id, examples, steps, lr=3e-4)
    return lm_class("hf")(pretrained=model, tokenizer=tok, batch_size=8, device="cpu")


@pytest.fixture(scope="module")
def runs(smol_lm, smol_dir, data_dir, tmp_path_factory):
    """The untouched and the always-"D" model on the same items, all with their gold originally at D."""
    from gate.run.models import LoadedModel
    from gate.run.runner import RunOptions, run_suite

    folder = tmp_path_factory.mktemp("suite")
    suite = load_suite(_suite(folder, SUBJECT))
    original, _ = _loaded(SUBJECT, data_dir, folder)
    (leaf,) = original.leaves.values()
    docs = list(leaf.eval_docs)
    ids = [i for i, d in enumerate(docs) if d["answer"] == FIXED][:N_ITEMS]
    # Taught on other items of the subject (every gold position), so the lesson is the position, not the answers.
    prompts = sorted((leaf.doc_to_text(d) for d in docs if d["answer"] != FIXED), key=len)[:24]  # short: cheap steps
    opts = RunOptions(data_dir=data_dir, doc_ids={SUBJECT: {SUBJECT: ids}})
    base = run_suite(smol_lm, suite, opts)
    tuned = LoadedModel(lm=_always_d(smol_dir, prompts), info=replace(smol_lm.info, fingerprint="sha256:" + "a" * 64))
    return base, run_suite(tuned, suite, opts), ids


@pytest.mark.slow
def test_the_companion_is_recorded_paired_item_by_item(runs):
    base, _, ids = runs
    assert base.task_names() == [SUBJECT, f"{SUBJECT}_permuted"]
    orig, perm = base.task(SUBJECT), base.task(f"{SUBJECT}_permuted")
    assert perm.probe_of == SUBJECT and orig.probe_of is None
    assert [i.doc_id for i in perm.items] == [i.doc_id for i in orig.items] == ids
    # the same question, its options in another order: a different prompt for every item
    assert all(p.prompt_hash != o.prompt_hash for p, o in zip(perm.items, orig.items, strict=True))


@pytest.mark.slow
def test_a_model_that_always_answers_one_position_is_flagged_and_the_diff_says_its_gap_grew(runs, tmp_path):
    from gate import record
    from gate.decide.compare import compare, file_baseline_ref
    from gate.decide.contamination import record_probes
    from gate.report.comparison import comparison_dict, render_comparison
    from gate.results import Comparison

    base, tuned, _ = runs
    rule = load_thresholds(_thresholds(tmp_path)).contamination
    (tuned_gap,) = record_probes(tuned, rule)
    (base_gap,) = record_probes(base, rule)
    assert tuned_gap.original > 0.9 and tuned_gap.flagged, tuned_gap.message
    assert not base_gap.flagged, base_gap.message  # the untouched model on the same items
    assert tuned_gap.gap < base_gap.gap
    assert "possible memorisation" in tuned_gap.message

    thresholds = load_thresholds(_thresholds(tmp_path))
    cmp = compare(tuned, base, thresholds, file_baseline_ref(base, "base.json"))
    (check,) = cmp.contamination
    assert check.task == SUBJECT and check.flagged and not check.blocking and check.n == tuned_gap.n
    assert check.growth is not None and check.growth_high < -rule.max_gap
    assert [t.name for t in cmp.tasks] == [SUBJECT]  # the companion is no task of its own: never gated
    assert "option order" in render_comparison(cmp, "text")
    assert "Option order (contamination probe)" in render_comparison(cmp, "markdown")
    assert Comparison.from_dict(json.loads(json.dumps(comparison_dict(cmp)))) == cmp
    # through the CLI, from record files: a warning (exit 0) in the report and its JSON
    from click.testing import CliRunner

    import gate.cli.diff  # noqa: F401  (registers the command on the root group)
    from gate.cli import cli

    path = record.save(tuned, tmp_path / "tuned.json")
    assert record.load(path).task(f"{SUBJECT}_permuted").probe_of == SUBJECT  # kept through a write and read
    base_path = record.save(base, tmp_path / "base.json")
    args = ["diff", str(path), "--baseline-record", str(base_path), "--thresholds", str(_thresholds(tmp_path))]
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    (probe,) = json.loads(r.stdout)["contamination"]
    assert probe["flagged"] and probe["task"] == SUBJECT

    blocking = compare(tuned, base, replace(thresholds, contamination=replace(rule, blocks=True)), cmp.baseline)
    assert blocking.exit_code == 1 and any("contamination probe" in r for r in blocking.blocking_reasons)
    same = compare(base, tuned, thresholds, file_baseline_ref(tuned, "tuned.json"))  # the other way: no growth
    assert not same.contamination[0].flagged


def _thresholds(tmp_path: Path) -> Path:
    p = tmp_path / "thresholds.yaml"
    p.write_text(f"tasks:\n  {SUBJECT}:\n    metric: acc\n    higher_is_better: true\n    informational: true\n")
    return p
