"""Data location of the demo_policy task, for its YAML."""

from pathlib import Path

# datasets resolves relative data_files against the working directory, not this folder, so the
# YAML asks this module for an absolute path (`data_files: !function utils.DATA_FILES`): the suite
# then runs from any directory. The path is not part of the task hash (dataset_kwargs is not hashed).
DATA_FILES = {"test": str(Path(__file__).resolve().parent / "demo_policy.jsonl")}
