#!/usr/bin/env python
"""Cut folders of files into parts of at most N MiB, each small enough for one device call.

A file larger than a part is cut into pieces named NAME.split00, NAME.split01, ... (scripts/gpu_check.sh
joins them); then the largest first, each into the first part with room (first fit decreasing). The
folders' layout is kept under each part: OUT/wheels/x.whl lands in OUT/partK/wheels/x.whl.

Usage: python scripts/gpu_pack.py OUT MIB FOLDER...   (FOLDERs inside OUT; they are moved into the parts)
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Piece:
    source: Path
    name: Path  # relative to a part
    offset: int
    size: int


def pieces(out: Path, folders: list[str], limit: int) -> list[Piece]:
    found = []
    for folder in folders:
        for f in sorted(p for p in (out / folder).rglob("*") if p.is_file()):
            rel, n = f.relative_to(out), f.stat().st_size
            if n <= limit:
                found.append(Piece(f, rel, 0, n))
                continue
            k = -(-n // limit)
            step = -(-n // k)
            found += [
                Piece(f, rel.with_name(f"{rel.name}.split{i:02d}"), i * step, min(step, n - i * step)) for i in range(k)
            ]
    return found


def main() -> int:
    out, limit, folders = Path(sys.argv[1]), int(sys.argv[2]) << 20, sys.argv[3:]
    parts: list[list[Piece]] = []
    sizes: list[int] = []
    for p in sorted(pieces(out, folders, limit), key=lambda p: -p.size):
        i = next((i for i, s in enumerate(sizes) if s + p.size <= limit), None)
        if i is None:
            parts.append([])
            sizes.append(0)
            i = len(parts) - 1
        parts[i].append(p)
        sizes[i] += p.size
    for i, ps in enumerate(parts, 1):
        for p in ps:
            dest = out / f"part{i}" / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with p.source.open("rb") as a, dest.open("wb") as b:
                a.seek(p.offset)
                b.write(a.read(p.size))
        print(f"part{i}: {sizes[i - 1] / 2**20:.1f} MiB, {len(ps)} files")
    for folder in folders:
        shutil.rmtree(out / folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
