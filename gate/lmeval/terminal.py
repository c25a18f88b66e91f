"""What a person watching `gate run` sees on stderr: one progress bar per task, not the libraries' chatter.

Left alone, a CPU run of the fast stage prints some 150 lines before its first result: datasets'
"Generating split" bars, lm-eval's "Overwriting default num_fewshot" once per MMLU subject, its
per-task "building contexts" and "Tokenizing inputs" bars, transformers' weight-loading bar and
torch's deprecation warnings; and then nothing at all while gate-hf scores. `configure` silences
that chatter (unless verbose) and `task_bar` draws one bar per suite task instead, in items, with
rate and ETA, fed by lm-eval's request loops and by gate-hf's prefix-tree scorer alike.

The settings are environment variables and logger levels, so configuring imports none of the
libraries: the CLI calls it before any of them loads, and they read it when they do.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# Loggers whose INFO/WARNING lines are progress chatter to a gate user (lm-eval's warnings about few-shot
# defaults, transformers' kwarg notices); real failures reach the gate as exceptions and are reported by it.
CHATTY_LOGGERS = ("lm_eval", "transformers", "datasets", "accelerate", "huggingface_hub", "urllib3", "filelock")
# Read by datasets, huggingface_hub and transformers when they are imported.
QUIET_ENV = {
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # else tokenizers warns about forking after parallelism was used
}
# Deprecation notices the libraries raise about each other (torch's FutureWarning on transformers'
# `past_key_values`, for one); nothing a gate user can act on.
NOISY_MODULES = r"(torch|transformers|lm_eval|datasets|accelerate|huggingface_hub|sqlitedict|pandas)(\.|$)"


@dataclass
class _Settings:
    bars: bool = False  # library default: no bars unless a command asks for them


_settings = _Settings()
_current: list[tuple[str, int]] = []  # (task label, items) of the task lm-eval is evaluating now


def configure(*, verbose: bool = False, bars: bool | None = None) -> None:
    """Silence the libraries' chatter unless `verbose`; draw the gate's bars when `bars` (default: stderr is
    a terminal). Call before the libraries are imported for their environment settings to apply."""
    _settings.bars = sys.stderr.isatty() if bars is None else bars
    if verbose:
        return
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=NOISY_MODULES)


class _ItemBar:
    """lm-eval's request bar, shown in items: a multiple-choice item is one request per choice, so the bar
    moves by `items / requests` per request. Speaks the part of tqdm's API lm-eval calls (update, close)."""

    def __init__(self, label: str, items: int, requests: int):
        from tqdm import tqdm

        self._per = items / max(requests, 1)
        self._done = 0
        # A terminal that reports no width (a fresh pseudo-terminal, some CI shells) gets 80 columns, where
        # tqdm's own sizing would draw an empty bar.
        width = shutil.get_terminal_size((80, 24)).columns or 80
        self._bar = tqdm(total=items, desc=label, unit="item", file=sys.stderr, ncols=width, mininterval=0.5)

    def update(self, n: int = 1) -> None:
        self._done += n
        shown = int(self._done * self._per)
        if shown > self._bar.n:
            self._bar.update(shown - self._bar.n)

    def close(self) -> None:
        self._bar.close()

    def set_postfix(self, *a: Any, **k: Any) -> None:  # lm-eval never needs it shown
        pass

    def __enter__(self) -> _ItemBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_bar(requests: int, desc: str = "") -> Any:
    """A bar for `requests` model requests of the task being evaluated, or a silent one.

    lm-eval draws several bars per task; only those over model requests ("Running ... requests") show,
    as the task's one bar; the others (building contexts, tokenizing, cache checks) stay silent.
    """
    if _settings.bars and _current and (not desc or desc.startswith("Running")):
        label, items = _current[-1]
        return _ItemBar(label, items, requests)
    return _Silent()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def set_postfix(self, *a: Any, **k: Any) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _lm_eval_tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Stands in for `tqdm` inside lm-eval's modules: request loops get the task's bar, the rest none."""
    if iterable is None and "total" in kwargs:
        return request_bar(int(kwargs["total"] or 0), str(kwargs.get("desc") or ""))
    from tqdm import tqdm

    return tqdm(iterable, *args, **{**kwargs, "disable": True})


# lm-eval 0.4.13 modules that draw bars through their module-level name `tqdm` (`from tqdm import tqdm`):
# evaluation requests (models.huggingface), request building (api.task), tokenizing (api.model).
_LM_EVAL_BAR_MODULES = ("lm_eval.models.huggingface", "lm_eval.api.task", "lm_eval.api.model")


@contextmanager
def task_bar(label: str, items: int) -> Iterator[None]:
    """While lm-eval evaluates suite task `label` on `items` items, its bars are this task's one bar.

    A runtime patch written against lm-eval 0.4.13: it replaces the module-level `tqdm` its modules
    call at run time, and restores it after.
    """
    import importlib

    mods = [importlib.import_module(m) for m in _LM_EVAL_BAR_MODULES]
    saved = [getattr(m, "tqdm", None) for m in mods]
    _current.append((label, items))
    for m in mods:
        m.tqdm = _lm_eval_tqdm
    try:
        yield
    finally:
        _current.pop()
        for m, old in zip(mods, saved, strict=True):
            if old is not None:
                m.tqdm = old
