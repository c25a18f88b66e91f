"""The model's answers to lm-eval requests, kept on disk per weights and settings: lm-eval's `CachingLM`, scoped.

lm-eval's own `--use_cache` keys an answer by the request alone, so a second checkpoint would get the
first one's answers. Here the SQLite file's path is derived from everything that can change an answer
(`AnswerKey`: the weights' fingerprint, backend, dtype, quantisation, device type, batch size, context
length, the generation cap, the versions of lm-eval, transformers and torch), so a file only ever holds
answers of one set of weights run one way. Within it, lm-eval's `hash_args` keys each request.

Written against lm-eval 0.4.13's `CachingLM` and `CacheHook` (lm_eval/api/model.py). What differs from
`CachingLM` as lm-eval builds it, and why:
- answers are stored as JSON, not pickle (sqlitedict's default): reading a cache never runs code;
- answers are committed every `COMMIT_EVERY` answers, as the backend computes them (through the cache
  hook HFLM calls per request), and requests go to the backend in chunks of `CHUNK`, each committed
  when done, not once per request type: a run killed halfway resumes from what it had computed;
- sampled generation bypasses the cache both ways (lm-eval skips reading it but still writes it);
- a file that fails SQLite's integrity check, or whose key file does not match, is set aside with a
  warning and never read; a row that does not decode to an answer is recomputed;
- hits and misses are counted, for the record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM, CacheHook, CachingLM

from gate.files import atomic_write
from gate.record import ModelInfo

FORMAT = 1  # bump when what is stored changes, so older files are not read
COMMIT_EVERY = 64  # answers per commit: at most this many are recomputed after a kill
COMMIT_SECONDS = 5.0  # and at most this much work
# Requests sent to the backend per call. gate-hf hands its answers to the cache hook only when a call
# ends, so this bounds what a kill loses there; its cost is a shared few-shot prefix forwarded once per
# chunk instead of once per call (about +6% on MMLU 5-shot).
CHUNK = 256
CACHED = ("loglikelihood", "loglikelihood_rolling", "generate_until")


@dataclass(frozen=True)
class AnswerKey:
    """Everything an answer depends on besides the request itself; one cache file per distinct key."""

    fingerprint: str
    backend: str
    dtype: str
    quantization: str
    device_type: str  # cpu, cuda, mps: kernels differ; which GPU of a kind does not matter
    batch_size: int  # padding and batched kernels can change the last bits of a log-likelihood
    max_length: int | None
    max_gen_toks: int | None
    lm_eval: str
    transformers: str
    torch: str
    # The model's config and generation config as loaded, and its tokenizer (`model_digest`): a new
    # generation_config.json (say, another end-of-sequence token) or tokenizer keeps the weights' fingerprint
    # but changes the answers.
    model: str = ""
    format: int = FORMAT

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def model_digest(lm: Any, tokenizer_hash: str) -> str:
    """sha256 of what shapes answers besides the weights and the request: the transformers model's config and
    generation config as loaded (whatever files or defaults they came from), and the tokenizer's hash."""
    model = getattr(lm, "model", None)  # HFLM's transformers model; vLLM's and API models' hold none we can read
    parts = [tokenizer_hash]
    for attr in ("config", "generation_config"):
        obj = getattr(model, attr, None)
        if obj is not None and hasattr(obj, "to_json_string"):
            parts.append(obj.to_json_string(use_diff=False))
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def answer_key(info: ModelInfo, max_length: int | None, max_gen_toks: int | None, model: str = "") -> AnswerKey:
    return AnswerKey(
        fingerprint=info.fingerprint,
        backend=info.backend,
        dtype=info.dtype,
        quantization=info.quantization,
        device_type=info.device.split(":", 1)[0],
        batch_size=info.batch_size,
        max_length=max_length,
        max_gen_toks=max_gen_toks,
        lm_eval=version("lm_eval"),
        transformers=version("transformers"),
        torch=version("torch"),
        model=model,
    )


@dataclass
class CacheUse:
    """Answers served from the file and answers the model computed (sampled generations included)."""

    hits: int = 0
    misses: int = 0


def _encode(value: Any) -> str:
    return json.dumps(value)


def _decode(blob: str | bytes) -> Any:
    """An answer as the backend returned it: (log-likelihood, is-greedy), a rolling log-likelihood, or text."""
    value = json.loads(blob)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], float) and isinstance(value[1], bool):
        return tuple(value)
    if isinstance(value, float | str):
        return value
    raise ValueError(f"not an answer: {str(value)[:40]}")


def greedy(gen_kwargs: dict[str, Any]) -> bool:
    """Whether a generation is deterministic: HFLM samples unless do_sample is false or temperature is 0."""
    do_sample = gen_kwargs.get("do_sample")
    return do_sample is False or (do_sample is None and gen_kwargs.get("temperature") == 0.0)


class _Answers:
    """The SQLite store (sqlitedict, as lm-eval's cache) behind `CachingLM.dbdict`, committed in chunks.

    `CachingLM` asks `hsh in dbdict` and then `dbdict[hsh]`: the lookup reads and decodes the row once,
    and a row that does not decode reads as absent, so it is recomputed rather than trusted.
    """

    def __init__(self, path: Path):
        from sqlitedict import SqliteDict

        self._db = SqliteDict(str(path), tablename="answers", autocommit=False, encode=_encode, decode=_decode)
        self._last: tuple[str, Any] | None = None
        self.hits = 0
        self.rejected = 0
        self._pending = 0
        self._since = time.monotonic()

    def __contains__(self, key: str) -> bool:
        try:
            self._last = (key, self._db[key])
        except KeyError:
            return False
        except (ValueError, TypeError, UnicodeDecodeError):
            self.rejected += 1
            return False
        return True

    def __getitem__(self, key: str) -> Any:
        value = self._last[1] if self._last is not None and self._last[0] == key else self._db[key]
        self.hits += 1
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._db[key] = value
        self._pending += 1
        if self._pending >= COMMIT_EVERY or time.monotonic() - self._since > COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        if self._pending:
            self._db.commit()
        self._pending = 0
        self._since = time.monotonic()

    def close(self) -> None:
        self.commit()
        self._db.close()


class _Hook(CacheHook):
    """The hook backends call with each answer as they compute it; sampled generations are not kept."""

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        if attr == "generate_until" and not greedy(req[1]):
            return
        super().add_partial(attr, req, res)


class ScopedCachingLM(CachingLM):
    """lm-eval's `CachingLM` over one key's file (see the module docstring for what differs)."""

    def __init__(self, lm: LM, path: Path):
        # Not CachingLM.__init__: it opens sqlitedict with pickled values and per-write commits.
        self.lm = lm
        self.cache_db = str(path)
        self.dbdict = _Answers(path)
        self.use = CacheUse()
        lm.set_cache_hook(self.get_cache_hook())

    def get_cache_hook(self) -> CacheHook:
        return _Hook(self)

    def __getattr__(self, attr: str) -> Any:
        fn = super().__getattr__(attr)
        if attr not in CACHED:
            return fn

        def counted(requests: list[Any]) -> list[Any]:
            sampled = [attr == "generate_until" and not greedy(r.args[1]) for r in requests]
            cacheable = [r for r, s in zip(requests, sampled, strict=True) if not s]
            before = self.dbdict.hits
            answers = iter([a for i in range(0, len(cacheable), CHUNK) for a in fn(cacheable[i : i + CHUNK])])
            fresh = iter(getattr(self.lm, attr)([r for r, s in zip(requests, sampled, strict=True) if s]))
            hits = self.dbdict.hits - before
            self.use.hits += hits
            self.use.misses += len(requests) - hits
            return [next(fresh) if s else next(answers) for s in sampled]

        return counted

    def close(self) -> None:
        """Commit and close the file; the backend stops reporting answers to it."""
        self.lm.set_cache_hook(CacheHook(None))
        self.dbdict.close()


def usage(lm: Any) -> CacheUse | None:
    """The answer counts of `lm` so far, when it is behind an answer cache."""
    return CacheUse(lm.use.hits, lm.use.misses) if isinstance(lm, ScopedCachingLM) else None


# lm-eval's simple_evaluate accepts only an `LM` instance; `CachingLM` passes every call through to one
# (its __getattr__) without subclassing it. Registered as a virtual subclass, it passes that check.
LM.register(ScopedCachingLM)


def unusable(path: Path, key: AnswerKey) -> str | None:
    """Why an existing cache file must not be read (it fails SQLite's integrity check, or is another key's)."""
    key_file = path.with_name("key.json")
    if key_file.exists():
        try:
            if json.loads(key_file.read_text()) != asdict(key):
                return f"{key_file} names other weights or settings"
        except (OSError, ValueError) as e:
            return f"{key_file}: {e}"
    if not path.exists():
        return None
    try:
        # read-write: a run killed mid-commit leaves a hot journal that SQLite rolls back on open
        con = sqlite3.connect(str(path))
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
            con.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return f"not a readable SQLite file ({e})"
    if rows != [("ok",)]:
        return f"SQLite integrity check failed ({rows[0][0] if rows else 'no answer'})"
    return None


def open_cache(lm: LM, key: AnswerKey, root: Path, warn: Callable[[str], None] | None = None) -> ScopedCachingLM:
    """`lm` behind the answer cache of `key` under `root`; a damaged file is set aside (kept, never read)."""
    folder = root / key.digest()[:32]
    path = folder / "answers.sqlite"
    reason = unusable(path, key)
    if reason is not None:
        aside = folder.with_name(f"{folder.name}.unusable-{int(time.time())}")
        folder.rename(aside)
        if warn:
            warn(f"warning: answer cache {path}: {reason}; ignored (moved to {aside}), answers are computed afresh")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "key.json", json.dumps(asdict(key), indent=1, sort_keys=True))
    return ScopedCachingLM(lm, path)
