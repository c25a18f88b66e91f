"""scripts/gpu_pack.py: the GPU bundle cut into parts a device call can carry, and joined back byte for byte."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parent.parent / "scripts" / "gpu_pack.py"


def test_parts_stay_under_the_limit_and_pieces_join_back_to_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    (out / "wheels").mkdir(parents=True)
    (out / "files" / "data").mkdir(parents=True)
    big = os.urandom(5 * 2**20 + 12345)  # over two parts of 2 MiB: travels in three pieces
    (out / "files" / "model.gguf").write_bytes(big)
    for i in range(6):
        (out / "wheels" / f"w{i}.whl").write_bytes(os.urandom(700_000))
    (out / "files" / "data" / "test.jsonl").write_bytes(b'{"q": 1}\n')
    before = {p.relative_to(out): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}

    subprocess.run([sys.executable, str(PACK), str(out), "2", "wheels", "files"], check=True, capture_output=True)

    parts = sorted(p for p in out.iterdir() if p.name.startswith("part"))
    assert {p.name for p in out.iterdir()} == {p.name for p in parts}  # the folders moved into the parts
    for part in parts:
        assert sum(f.stat().st_size for f in part.rglob("*") if f.is_file()) <= 2 * 2**20
    # Staging copies every part into one folder; gpu_check.sh joins NAME.split?? in name order.
    stage = tmp_path / "stage"
    stage.mkdir()
    for part in parts:
        subprocess.run(["cp", "-r", f"{part}/.", str(stage)], check=True)
    pieces = sorted((stage / "files").glob("model.gguf.split*"))
    assert len(pieces) == 3
    (stage / "files" / "model.gguf").write_bytes(b"".join(p.read_bytes() for p in pieces))
    for p in pieces:
        p.unlink()
    after = {p.relative_to(stage): hashlib.sha256(p.read_bytes()).hexdigest() for p in stage.rglob("*") if p.is_file()}
    assert after == before
