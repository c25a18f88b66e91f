"""The one boundary with lm-evaluation-harness (written against lm-eval 0.4.13).

No module outside this folder imports `lm_eval` (tests/test_layout_lmeval.py checks it). Here:

    tasks          a suite's tasks as lm-eval task objects: names checked, leaves and groups loaded
    evaluate       the one `simple_evaluate` call: chosen task objects and doc ids in, results dict out
    results        that results dict as frozen dataclasses (LeafResult, ItemOutcome, Sample)
    backends       the LM class of a backend name, API backends from an argument string, plain generation
    data           hub datasets served from a local data directory
    task_index     lm-eval's TaskManager with its index of task YAMLs cached on disk
    request_cache  built requests reused across checkpoints, and compiled prompt templates
    chunks         a chunk of an item pool evaluated with the prompts the whole pool gives it
    gate_hf        the `gate-hf` backend: lm-eval's `hf`, scoring shared prompt prefixes once
    prefix_tree    the token prefix trees `gate_hf` runs (pure)

Everything that relies on lm-eval's private attributes, or patches it at run time, says so beside
the code, with what it relies on.
"""
