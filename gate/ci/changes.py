"""Which checkpoint pointer a workflow run gates, and why: from the event, the changed files, or an input.

Pure apart from `git diff`: no model code, no MLflow; runs in the workflow's first job.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from gate.ci.shards import parse_count
from gate.config.checkpoint import load_checkpoint
from gate.errors import ConfigError, GateError, InfraError

ZERO_SHA = "0" * 40
POINTER_GLOB = "checkpoints/*.yaml"
DISPATCH_EVENTS = ("workflow_dispatch", "repository_dispatch")


@dataclass(frozen=True)
class Pick:
    """The pointer to gate, or why none is gated. `state` is the check's answer when nothing runs."""

    run: bool
    pointer: str
    baseline: str
    reason: str
    state: str = "success"  # success | failure (a broken pick: bad pointer, two pointers)
    exit_code: int = 0
    shards: int = 1  # runners each stage is spread over (GATE_SHARDS); 1: one runner, no matrix

    def github_output(self) -> str:
        fields = {"run": str(self.run).lower(), "pointer": self.pointer, "baseline": self.baseline}
        # The shard matrix: its size, and its indices as the JSON list `strategy.matrix` reads.
        fields |= {"shards": str(self.shards), "shard_list": json.dumps(list(range(1, self.shards + 1)))}
        fields |= {"reason": self.reason.replace("\n", " "), "pick": json.dumps(asdict(self))}
        return "".join(f"{k}={v}\n" for k, v in fields.items())

    @classmethod
    def from_json(cls, text: str) -> Pick:
        try:
            data = json.loads(text)
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as e:
            raise ConfigError(f"--pick: not the JSON that `gate ci pick` writes ({e})") from None


def changed_pointers(base: str, head: str, repo: Path) -> list[str]:
    """Pointer files added, modified or renamed between `base` and `head` (three-dot: since they forked)."""
    cmd = ["git", "diff", "--name-only", "--diff-filter=AMR", f"{base}...{head}", "--", POINTER_GLOB]
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        line = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise InfraError(f"git diff {base[:7]}...{head[:7]} failed: {line}; check out with fetch-depth: 0")
    return [ln for ln in r.stdout.splitlines() if ln.strip()]


def _broke(reason: str, code: int, pointer: str = "") -> Pick:
    return Pick(False, pointer, "", reason, state="failure", exit_code=code)


def _checked(pointer: str, repo: Path, why: str) -> Pick:
    try:
        ck = load_checkpoint(repo / pointer)
    except GateError as e:
        return _broke(f"{pointer}: {str(e).splitlines()[0]}", e.exit_code, pointer)
    return Pick(True, pointer, ck.baseline, why)


def with_shards(p: Pick, shards: str) -> Pick:
    """The pick with each stage spread over `shards` runners; a bad count breaks the gate (nothing runs)."""
    try:
        n = parse_count(shards)
    except ConfigError as e:
        return _broke(str(e), e.exit_code, p.pointer) if p.run else p
    return replace(p, shards=n)


def pick(event: str, base: str | None, head: str | None, pointer_input: str | None, repo: Path) -> Pick:
    """The pointer this run gates. A dispatch (or a caller's `pointer` input) names it; a pull request,
    push or merge group changes it."""
    if pointer_input or event in DISPATCH_EVENTS:
        p = (pointer_input or "").strip()
        if not p.startswith("checkpoints/") or not p.endswith(".yaml") or ".." in p:
            return _broke(f"{event}: pointer {p!r} is not a checkpoints/NAME.yaml path in this repository", 2)
        return _checked(p, repo, f"{event}: {p}")
    if not base or base == ZERO_SHA or not head:
        return Pick(False, "", "", "no earlier commit to compare with (a new branch); no checkpoint pointer to gate")
    changed = changed_pointers(base, head, repo)
    if not changed:
        return Pick(False, "", "", "no checkpoint pointer changed")
    if len(changed) > 1:
        return _broke(
            f"{len(changed)} checkpoint pointers changed ({', '.join(changed)}); change one per pull request", 2
        )
    return _checked(changed[0], repo, f"{changed[0]} changed")
