"""Checkpoint pointers: `checkpoints/*.yaml`, the files a pull request changes to ask for a gate run.

A pointer names exact weights: a hub id pinned to a 40-hex commit, or an absolute path on the
GPU runner. It cannot ask for `trust_remote_code` or pickle weights: the schema has no such keys,
so a pull request cannot make the runner execute code that ships with a model.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from gate.config.model import ModelSpec
from gate.config.read import read_yaml
from gate.errors import ConfigError
from gate.schemas import validate

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class Checkpoint:
    name: str
    spec: ModelSpec
    baseline: str
    description: str = ""
    path: Path | None = None

    def run_args(self) -> list[str]:
        """The `gate run` flags that load exactly this checkpoint."""
        s = self.spec
        args = ["--model", s.model]
        for flag, value in (
            ("--revision", s.revision),
            ("--gguf-file", s.gguf_file),
            ("--dtype", s.dtype),
            ("--quantize", s.quantization),
            ("--backend", s.backend),
            ("--batch-size", s.batch_size),
            ("--max-length", s.max_length),
        ):
            if value is not None:
                args += [flag, str(value)]
        return args

    def github_output(self) -> str:
        """`key=value` lines for `>> "$GITHUB_OUTPUT"`; values are single-line by construction."""
        fields = {
            "name": self.name,
            "model": self.spec.model,
            "revision": self.spec.revision or "",
            "baseline": self.baseline,
            "run_args": shlex.join(self.run_args()),
        }
        return "".join(f"{k}={v}\n" for k, v in fields.items())


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and check a pointer such as `checkpoints/sft-v3.yaml`."""
    p = Path(path)
    data = read_yaml(p, "checkpoint pointer")
    validate(data, "checkpoint", str(p))
    model = data["model"]
    if model.startswith("/"):
        pass  # a folder on the runner; its weights are fingerprinted when loaded
    elif model.startswith(("./", "../", "~")):
        raise ConfigError(f"{p}: model: {model!r} is relative; give an absolute path on the runner or a hub id")
    elif not HUB_ID.fullmatch(model):
        raise ConfigError(f"{p}: model: {model!r} is neither a hub id (owner/name) nor an absolute path")
    elif "revision" not in data:
        raise ConfigError(
            f"{p}: revision: required for hub id {model!r}; pin the commit, e.g. revision: <40-hex sha from the hub>"
        )
    spec = ModelSpec(
        model=model,
        revision=data.get("revision"),
        gguf_file=data.get("gguf_file"),
        dtype=data.get("dtype", "auto"),
        quantization=data.get("quantization", "none"),
        backend=data.get("backend"),  # absent: the suite's, else hf
        batch_size=data.get("batch_size", 8),
        max_length=data.get("max_length"),
    )
    return Checkpoint(data["name"], spec, data.get("baseline", "main"), data.get("description", ""), p)
