"""gate/lmeval/ is the one folder that touches lm-eval: no other module imports it, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GATE = REPO / "gate"
BOUNDARY = GATE / "lmeval"


def lm_eval_imports(path: Path, root: Path = REPO) -> list[str]:
    """`file:line: statement` for every import of lm_eval or a submodule of it, anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n == "lm_eval" or n.startswith("lm_eval.") for n in names):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_gate_lmeval_imports_lm_eval():
    modules = sorted(GATE.rglob("*.py"))
    assert len(modules) > 10, f"expected the gate package under {GATE}"
    offending = [hit for p in modules if BOUNDARY not in p.parents for hit in lm_eval_imports(p)]
    assert not offending, "lm_eval imported outside gate/lmeval/ (move that code there):\n" + "\n".join(offending)


def test_the_check_finds_imports_inside_functions(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text(
        "import os\nimport lm_evaluation\n\n\ndef f():\n"
        "    from lm_eval.api.registry import get_model\n    import lm_eval as le\n"
    )
    assert lm_eval_imports(mod, tmp_path) == [
        "m.py:6: from lm_eval.api.registry import get_model",
        "m.py:7: import lm_eval as le",
    ]
