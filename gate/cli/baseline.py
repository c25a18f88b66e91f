"""`gate baseline freeze|show|list`: named, frozen MLflow runs to compare candidates against."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from gate import record as records
from gate.cli import cli
from gate.cli.options import REQUIRE_DIGEST
from gate.files import check_output
from gate.store.keys import task_scores

_uri = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [env MLFLOW_TRACKING_URI; default sqlite:///./mlflow.db].",
)
_fmt = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _store(tracking_uri: str | None):
    # MLflow is imported when a baseline command runs, not when the CLI starts: `gate comment` in the
    # publish job has no MLflow installed.
    from gate.store.tracking import Store

    return Store(tracking_uri)


@cli.group()
def baseline() -> None:
    """Freeze, show and list the baselines that `gate diff` compares against.

    A baseline is a logged MLflow run under a name; it never changes once frozen.
    """


@baseline.command()
@click.argument("record_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-id", help="Freeze this logged MLflow run instead of a record file.")
@click.option("--name", required=True, help="Baseline name: letters, digits, '_' or '-'.")
@click.option("--replace", is_flag=True, help="Replace an existing baseline of that name (the old one stays listed).")
@click.option("--who", help="Who froze it [default: $GITHUB_ACTOR, else the user name].")
@click.option("--require-digest", is_flag=True, help="Refuse a record file without a digest (written by `gate run`).")
@_uri
def freeze(
    record_file: Path | None,
    run_id: str | None,
    name: str,
    replace: bool,
    who: str | None,
    require_digest: bool,
    tracking_uri: str | None,
) -> None:
    """Freeze a record (logged first if it never was) or a run as baseline NAME.

    Example: gate baseline freeze out/record.json --name main
    """
    if (record_file is None) == (run_id is None):
        raise click.UsageError("give exactly one of RECORD_FILE or --run-id")
    rec = records.load(record_file, require_digest=require_digest, why=REQUIRE_DIGEST) if record_file else None
    ref = _store(tracking_uri).freeze(name, record=rec, run_id=run_id, replace=replace, who=who)
    click.echo(f"froze baseline '{ref.name}' = MLflow run {ref.run_id} ({ref.frozen_by}, {ref.frozen_at})", err=True)
    click.echo(json.dumps(asdict(ref)))


@baseline.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the record here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option(
    "--no-require-digest",
    "allow_no_digest",
    is_flag=True,
    help="Accept a baseline whose record has no digest (frozen before records carried one).",
)
@_fmt
@_uri
def show(
    name: str, output: Path | None, overwrite: bool, allow_no_digest: bool, fmt: str, tracking_uri: str | None
) -> None:
    """Show baseline NAME: its run, who froze it and when, and its scores.

    Example: gate baseline show main --format json
    """
    if output is not None:
        check_output(output, overwrite=overwrite)
    b = _store(tracking_uri).load_baseline(name, require_digest=not allow_no_digest)
    if output is not None:
        records.save(b.record, output, overwrite=overwrite)
    if fmt == "json":
        click.echo(json.dumps({"ref": asdict(b.ref), "record": records.to_dict(b.record)}, indent=1))
        return
    r = b.record
    click.echo(f"baseline {b.ref.name}: MLflow run {b.ref.run_id}, frozen by {b.ref.frozen_by} at {b.ref.frozen_at}")
    click.echo(f"model {r.model.id} ({r.model.fingerprint[:19]}), suite {r.suite.name} v{r.suite.version}")
    for t in r.tasks:
        value = "skipped" if t.value is None else f"{t.value:.4f}"
        click.echo(f"  {t.name:<32} {t.metric:<20} {value:>8}  n={t.n}")


@baseline.command(name="list")
@_fmt
@_uri
def list_(fmt: str, tracking_uri: str | None) -> None:
    """List every baseline, current and replaced, with who froze or replaced it and when.

    Example: gate baseline list
    """
    entries = _store(tracking_uri).list_baselines()
    if fmt == "json":
        click.echo(json.dumps([asdict(e) for e in entries], indent=1))
        return
    if not entries:
        click.echo("no baselines yet; freeze one with `gate baseline freeze RECORD --name main`", err=True)
    for e in entries:
        state = "current" if e.current else f"replaced by {e.replaced_by} at {e.replaced_at}"
        click.echo(
            f"{e.name}\tv{e.version}\t{e.run_id}\t{e.model_id}\t{e.suite}\t{e.frozen_by}\t{e.frozen_at}\t{state}"
        )


@baseline.command()
@click.option("--suite", help="Only runs of this suite (its name, e.g. fast).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--experiment", default="checkpoint-gate", show_default=True, help="MLflow experiment of the runs.")
@_fmt
@_uri
def history(suite: str | None, limit: int, experiment: str, fmt: str, tracking_uri: str | None) -> None:
    """Logged gate runs, newest first, with each task's score: what to freeze, and how scores moved.

    Example: gate baseline history --suite fast --limit 10
    """
    entries = _store(tracking_uri).history(experiment=experiment, suite=suite, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([asdict(e) for e in entries], indent=1))
        return
    if not entries:
        click.echo("no finished gate runs" + (f" of suite '{suite}'" if suite else "") + " in this store", err=True)
    for e in entries:
        click.echo(f"{e.started_at}  run {e.run_id}  {e.model_id}  suite {e.suite}")
        for s in task_scores(e.metrics):
            err = f" ± {s.stderr:.4f}" if s.stderr is not None else ""
            size = f"  n={s.n:.0f}" if s.n is not None else ""
            click.echo(f"    {s.key:<40} {s.value:.4f}{err}{size}")
