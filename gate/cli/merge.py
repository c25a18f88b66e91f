"""`gate merge`: the shard records of one run (`gate run --shard I/N`) as the unsharded run's record."""

from __future__ import annotations

from pathlib import Path

import click

from gate import record as records
from gate.cli import cli


@cli.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The merged record."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option("--no-mlflow", is_flag=True, help="Do not log the merged record to MLflow.")
def merge(shards, output, overwrite, no_mlflow):
    """Combine the shard records of one run into the record the unsharded run writes.

    Refuses (exit 2, naming the file and field) shards of different checkpoints, suites, settings or
    shard counts, a shard missing or given twice, and items in two shards. The merged record is
    logged to MLflow (shards are not) and is what `gate check` and `gate diff` read.

    \b
    Example:
      gate merge runs/shard-1.json runs/shard-2.json runs/shard-3.json -o runs/candidate.json
    """
    from gate.files import check_output
    from gate.run.shards import merge_shards

    check_output(output, overwrite=overwrite)
    merged = records.seal(merge_shards([(str(p), records.load(p)) for p in shards]))
    records.check(merged, str(output))
    records.save(merged, output, overwrite=overwrite)
    if not no_mlflow:
        from gate.store.tracking import Store

        merged = Store().log_record(merged)
        records.save(merged, output, overwrite=True)  # the same record, now with its MLflow run id
    n = sum(t.n for t in merged.tasks)
    run_id = f"  mlflow run: {merged.mlflow_run_id}" if merged.mlflow_run_id else ""
    click.echo(f"gate: merged {len(shards)} shards of {merged.suite.name} ({n} items) into {output}{run_id}", err=True)
