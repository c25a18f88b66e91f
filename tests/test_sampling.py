from gate.run.sampling import allocate, stratified


def test_allocation_is_proportional_and_exact():
    sizes = {"a": 100, "b": 50, "c": 10}
    alloc = allocate(sizes, 16)
    assert sum(alloc.values()) == 16
    assert alloc == {"a": 10, "b": 5, "c": 1}


def test_allocation_never_exceeds_a_stratum():
    assert allocate({"a": 3, "b": 1}, 100) == {"a": 3, "b": 1}


def test_stratified_sample_is_seeded_and_spread_over_groups():
    sizes = {f"s{i}": 50 + i for i in range(10)}
    one = stratified(sizes, 40, seed=7)
    again = stratified(sizes, 40, seed=7)
    other = stratified(sizes, 40, seed=8)
    assert one == again
    assert one != other
    assert one.total == 40
    assert all(len(ids) == 4 for ids in one.doc_ids.values())
    # Not lm-eval's --limit: the first N docs of each subject are not what we take.
    assert any(ids != list(range(len(ids))) for ids in one.doc_ids.values())
    for leaf, ids in one.doc_ids.items():
        assert len(set(ids)) == len(ids) and max(ids) < sizes[leaf]


def test_adding_a_stratum_keeps_the_others_items():
    base = stratified({"a": 100, "b": 100}, None, seed=1)
    assert base.doc_ids["a"] == list(range(100))
    s1 = stratified({"a": 100}, 10, seed=3)
    s2 = stratified({"a": 100, "z": 100}, 20, seed=3)
    assert s1.doc_ids["a"] == s2.doc_ids["a"]
