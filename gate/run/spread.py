"""Data-parallel runs: the processes a launcher (`accelerate launch`, `torchrun`) started for one `gate run`.

Every process loads the model on its own device and lm-eval splits each task's documents between them
(`Task.build_all_requests(rank=, world_size=)`, then gathers the per-item samples on rank 0). The gate
then gives every process rank 0's results (`gate.lmeval.evaluate`), so all of them take the same steps
on the same data and fail at the same place; only rank 0 writes files, logs to MLflow and prints.

The launcher names the processes in the environment (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`); without it a
run is one process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gate.errors import ConfigError, EvalFailed

# A slow task on one rank keeps the others waiting at lm-eval's gather; a rank that died is the launcher's
# to report (it stops the others), so the wait only has to outlast the slowest task.
GROUP_TIMEOUT = timedelta(hours=12)


@dataclass(frozen=True)
class Spread:
    """This process's place in a data-parallel run."""

    rank: int = 0
    processes: int = 1
    local_rank: int = 0  # the device index on this machine

    @property
    def parallel(self) -> bool:
        return self.processes > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the record, logs to MLflow and prints the report."""
        return self.rank == 0


def current() -> Spread:
    """The spread the launcher set in the environment (one process without one)."""
    values = {}
    for name, default in (("WORLD_SIZE", 1), ("RANK", 0), ("LOCAL_RANK", 0)):
        raw = os.environ.get(name, "").strip()
        try:
            values[name] = int(raw) if raw else default
        except ValueError:
            raise ConfigError(f"environment variable {name}={raw!r}: not an integer (set by the launcher)") from None
    spread = Spread(rank=values["RANK"], processes=max(1, values["WORLD_SIZE"]), local_rank=values["LOCAL_RANK"])
    if not 0 <= spread.rank < spread.processes:
        raise ConfigError(f"environment: RANK={spread.rank} outside WORLD_SIZE={spread.processes}")
    return spread


def rank_device(spread: Spread, device: str, cuda_devices: int) -> str:
    """The device of this process: its own GPU (cuda:LOCAL_RANK), or the CPU."""
    if device == "cpu" or (device == "auto" and cuda_devices == 0):
        return "cpu"
    if device not in ("auto", "cuda"):
        raise ConfigError(
            f"--device {device} with {spread.processes} processes: each process takes its own GPU "
            "(cuda:LOCAL_RANK); pass --device cuda, auto or cpu"
        )
    if spread.local_rank >= cuda_devices:
        raise ConfigError(
            f"{spread.processes} processes on this machine and {cuda_devices} CUDA device(s): launch at most "
            f"{cuda_devices} (accelerate launch --num_processes {cuda_devices})"
        )
    return f"cuda:{spread.local_rank}"


def start(spread: Spread, device: str) -> Any:
    """Join the launcher's process group (NCCL on GPUs, gloo on the CPU): an `accelerate.Accelerator`."""
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    # cpu=True is what makes accelerate use gloo across processes instead of one process per GPU
    acc = Accelerator(cpu=device == "cpu", kwargs_handlers=[InitProcessGroupKwargs(timeout=GROUP_TIMEOUT)])
    if acc.num_processes != spread.processes or acc.process_index != spread.rank:
        raise EvalFailed(
            f"data parallel: the launcher started {spread.processes} processes but accelerate joined "
            f"{acc.num_processes} (rank {acc.process_index}); launch with `accelerate launch --multi_gpu "
            "--num_processes N -m gate run ...`"
        )
    return acc


def agree(code: int) -> int:
    """The exit code every process ends with: rank 0's when it failed, else the worst of any rank's.

    Called by every process once the run is over (finished or failed), so that a failure only rank 0
    met (writing the record, MLflow) ends the others with its code too. One process: `code`.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return code
    codes: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(codes, int(code))
    return codes[0] or max(codes)
