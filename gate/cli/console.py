"""The terminal's conventions, shared by every command: reports on stdout, progress and logs on stderr,
`--quiet`/`--verbose`, colour only on a terminal and never under `NO_COLOR`, and a last stderr line
that says the state and the wall time, in the same words as the check run and the PR comment.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass

import click

from gate.results import STATE_WORDS

_LEADING_STATE = re.compile(r"^(PASS|PASSED|FAIL|FAILED|BLOCKED|INCONCLUSIVE)\b:?\s*")
_COLOURS = {"passed": "green", "blocked": "red", "inconclusive": "yellow", "gate broke": "red"}


@dataclass
class Console:
    quiet: bool = False
    verbose: bool = False
    started: float = 0.0


_console = Console(started=time.monotonic())


def setup(*, quiet: bool, verbose: bool) -> None:
    """Called once by the root command, before any library is imported."""
    from gate.lmeval.terminal import configure

    _console.quiet, _console.verbose, _console.started = quiet, verbose, time.monotonic()
    configure(verbose=verbose, bars=False if quiet else None)


def colour_on(stream=None) -> bool:
    """https://no-color.org: any non-empty NO_COLOR turns colour off; so does a stream that is not a terminal."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def progress(message: str) -> None:
    """A progress line on stderr (`gate: loading ...`); warnings always show, the rest not under --quiet."""
    if _console.quiet and not message.startswith("warning:"):
        return
    click.echo(f"gate: {message}", err=True)


def state_word(state: str) -> str:
    return STATE_WORDS.get(state, state)


def finish(state: str, detail: str = "") -> None:
    """The last line on stderr: the state and the wall time since the command started.

    `state` is a `Verdict`/`Comparison` state (success, failure, neutral) or a word (recorded).
    """
    word = state_word(state)
    detail = _LEADING_STATE.sub("", detail)  # headlines open with their own state word; say it once
    elapsed = time.monotonic() - _console.started
    shown = click.style(word.upper(), fg=_COLOURS.get(word), bold=True) if colour_on() else word.upper()
    tail = f": {detail}" if detail else ""
    click.echo(f"gate: {shown}{tail} ({_duration(elapsed)})", err=True, color=colour_on())


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"
