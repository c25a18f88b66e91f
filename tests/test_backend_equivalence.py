"""`gate-hf` gives lm-eval's `hf` answers on real items, while forwarding far fewer tokens.

Real MMLU (5-shot), ARC-Challenge (few-shot) and HellaSwag items from the data dir, built by
lm-eval's own task YAMLs, scored by the real SmolLM2-135M in fp32 with both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# (task YAML under lm_eval/tasks, few-shot, items): small enough for two busy CPU cores
TASKS = [
    ("mmlu/default/mmlu_world_religions.yaml", 5, 3),  # 3 questions share one 5-shot block
    ("mmlu/default/mmlu_management.yaml", 5, 1),
    ("arc/arc_challenge.yaml", 2, 2),
    ("hellaswag/hellaswag.yaml", 0, 2),
]


@pytest.fixture(scope="module")
def requests_(data_dir):
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    from gate.lmeval.data import DataDir, rewrite_config

    root = Path(lm_eval.__file__).parent / "tasks"
    tm = TaskManager(include_defaults=False)  # inline configs only: skips indexing every task YAML
    reqs = []
    for path, shots, n in TASKS:
        cfg = rewrite_config(dict(load_yaml(root / path, resolve_func=True)), DataDir(data_dir))
        cfg.pop("_gate_missing_fewshot", None)  # HellaSwag has no few-shot pool; it runs 0-shot
        cfg["num_fewshot"] = shots
        (task,) = tm.load([cfg])["tasks"].values()
        task.set_fewshot_seed(1234)
        task.build_all_requests(limit=n)
        reqs += task.instances
    return reqs


@pytest.fixture(scope="module")
def both(smol_lm, requests_):
    import torch
    from lm_eval.api.registry import get_model

    import gate.lmeval.gate_hf  # noqa: F401  (registers gate-hf)

    hf = smol_lm.lm  # lm-eval's own `hf` backend, fp32 on CPU
    assert type(hf).__name__ == "HFLM" and str(hf.model.dtype) == "torch.float32"
    gate_lm = get_model("gate-hf")(pretrained=hf.model, tokenizer=hf.tokenizer, device="cpu", batch_size=8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on shared CI cores, two threads per process fight and run slower than one
    try:
        plain = hf.loglikelihood(requests_, disable_tqdm=True)
        ours = gate_lm.loglikelihood(requests_, disable_tqdm=True)
    finally:
        torch.set_num_threads(threads)
    return plain, ours, gate_lm


def test_loglikelihoods_and_greedy_equal_hf(both, requests_):
    plain, ours, _ = both
    assert len(plain) == len(ours) == len(requests_)
    for req, (ll_hf, greedy_hf), (ll, greedy) in zip(requests_, plain, ours, strict=True):
        assert ll == pytest.approx(ll_hf, abs=1e-4), (req.task_name, req.doc_id, req.args[1])
        assert greedy == greedy_hf, (req.task_name, req.doc_id, req.args[1])


def test_every_per_item_answer_is_the_same(both, requests_):
    plain, ours, _ = both
    picks: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for req, (a, _), (b, _) in zip(requests_, plain, ours, strict=True):
        picks.setdefault((req.task_name, req.doc_id), []).append((a, b))
    assert {k[0] for k in picks} == {"mmlu_world_religions", "mmlu_management", "arc_challenge", "hellaswag"}
    for key, pairs in picks.items():
        hf_choice = max(range(len(pairs)), key=lambda i: pairs[i][0])
        our_choice = max(range(len(pairs)), key=lambda i: pairs[i][1])
        assert hf_choice == our_choice, key


def test_shared_prefixes_are_forwarded_once(both, requests_):
    from gate.lmeval.prefix_tree import count_unique_tokens

    _, _, gate_lm = both
    hf_tokens = 0
    inputs = set()
    for req in requests_:
        ctx, cont = gate_lm._encode_pair(*req.args)
        inputs.add(tuple(ctx + cont[:-1]))  # hf forwards each distinct input once (its one-token cache)
    hf_tokens = sum(len(x) for x in inputs)
    unique = count_unique_tokens(list(inputs))
    st = gate_lm.forward_stats
    assert st.fallback_requests == 0
    assert st.tokens <= 1.3 * unique
    assert st.tokens < hf_tokens / 2, (st.tokens, hf_tokens)
