"""The whole prompt and answer of an item, kept in the record beside its excerpts, compressed.

`ItemOutcome.excerpt` (the prompt's end) and `.prediction` (the answer) are cut for display; a reviewer
of a flipped MATH or IFEval item needs the whole text. `ItemOutcome.full` holds it, only where a cut
lost something, as base64 of gzip of `{"prompt": ..., "answer": ...}`: a 5-shot prompt shrinks to about
a third, and records written before the field existed read the same (the field is empty).
Light (stdlib only): the HTML report and the publish job read it.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

from gate.errors import ConfigError


def pack(prompt: str, answer: str) -> str:
    """The `full` field of an item: base64(gzip(JSON)); mtime 0, so the same text packs the same."""
    blob = json.dumps({"prompt": prompt, "answer": answer}, ensure_ascii=False).encode()
    return base64.b64encode(gzip.compress(blob, 9, mtime=0)).decode("ascii")


def unpack(full: str, source: str = "record") -> tuple[str, str]:
    """(prompt, answer) from a `full` field; a field that is not such a blob is one error line."""
    try:
        data: Any = json.loads(gzip.decompress(base64.b64decode(full, validate=True)))
        return str(data["prompt"]), str(data["answer"])
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"{source}: an item's 'full' field is not base64 gzip JSON of prompt and answer ({type(e).__name__}); "
            "rewrite the record with `gate run`"
        ) from None


def full_texts(excerpt: str, prediction: str, full: str, source: str = "record") -> tuple[str, str]:
    """The whole prompt and answer where the record keeps them, else its excerpt and prediction."""
    if not full:
        return excerpt, prediction
    return unpack(full, source)
