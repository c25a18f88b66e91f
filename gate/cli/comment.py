"""`gate comment`: publish one verdict to the PR comment, the `model-gate` check and the job summary."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gate.cli import cli
from gate.errors import ConfigError
from gate.files import read_text
from gate.github import actions as actions_env
from gate.github.client import GitHubClient
from gate.github.comment import parse_annotation, render_comment
from gate.github.delivery import CheckVerdict, check_verdict, make_report, publish, read_comparison


def _read_report(path: str) -> str:
    if path == "-":
        try:
            return click.get_text_stream("stdin").read()
        except UnicodeDecodeError:
            raise ConfigError("--report -: standard input is not UTF-8 text") from None
    return read_text(path, "report", "write it with `gate diff ... --format markdown -o FILE`")


@cli.command("comment")
@click.option(
    "--report",
    "report_file",
    metavar="FILE",
    help="Markdown report body; '-' reads stdin. Default with --comparison: the comparison rendered as markdown.",
)
@click.option(
    "--comparison",
    "comparison_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON of `gate diff --format json`: gives the verdict, description, annotations and baseline.",
)
@click.option(
    "--state", type=click.Choice(["success", "failure", "neutral"]), help="The verdict (without --comparison)."
)
@click.option("--description", help="One line for the check and the comment (without --comparison).")
@click.option(
    "--name", default="model-gate", show_default=True, help="Gate name in the hidden marker: one comment per name."
)
@click.option(
    "--check",
    type=click.Choice(["check-run", "status", "none"]),
    default="check-run",
    show_default=True,
    help="check-run works with the Actions GITHUB_TOKEN; status with a personal token.",
)
@click.option("--check-name", default="model-gate", show_default=True, help="Name of the required check.")
@click.option("--comment/--no-comment", default=True, show_default=True, help="Create or update the PR comment.")
@click.option("--error", "errors", multiple=True, metavar="'TASK: MESSAGE'", help="An ::error annotation (repeatable).")
@click.option("--baseline-name", help="Name of the frozen baseline compared against.")
@click.option("--baseline-run-id", help="Its MLflow run id.")
@click.option("--baseline-frozen-at", metavar="ISO8601", help="When it was frozen, to show its age.")
@click.option("--mlflow-run-url", metavar="URL", help="Link to the candidate's MLflow run.")
@click.option("--repo", help="owner/name; default $GITHUB_REPOSITORY.")
@click.option("--pr", "pr_number", type=int, help="PR number; default from the event payload.")
@click.option("--sha", help="Commit to attach the check to; default the PR head, else $GITHUB_SHA.")
@click.option("--api-url", help="GitHub API URL; default $GITHUB_API_URL or https://api.github.com.")
@click.option("--dry-run", is_flag=True, help="Print the comment to stdout and post nothing.")
def comment_cmd(
    report_file,
    comparison_file,
    state,
    description,
    name,
    check,
    check_name,
    comment,
    errors,
    baseline_name,
    baseline_run_id,
    baseline_frozen_at,
    mlflow_run_url,
    repo,
    pr_number,
    sha,
    api_url,
    dry_run,
) -> None:
    """Publish a verdict: one sticky PR comment, the model-gate check, the job summary.

    The comment is found again by a hidden marker and edited in place on every run. The token
    comes from $GITHUB_TOKEN only. Regressed tasks become ::error lines on stdout. The verdict
    comes from --comparison (the JSON of `gate diff`, rendered as the report unless --report
    gives one), or from --state and --description with --report.

    Example:

        gate diff cand.json --baseline main --format json -o cmp.json
        gate comment --comparison cmp.json
    """
    where = actions_env.resolve(os.environ, repository=repo, head_sha=sha, pr_number=pr_number, api_url=api_url)
    if comparison_file is not None:
        if state or description:
            raise click.UsageError("--comparison gives the verdict; drop --state and --description")
        comparison = read_comparison(comparison_file)
        v = check_verdict(comparison)
        if report_file is None:
            from gate.report.comparison import render_comparison

            body = render_comparison(comparison, "markdown")
        else:
            body = _read_report(report_file)
    elif state and description:
        if report_file is None:
            raise click.UsageError("--state and --description need --report FILE (the body to post)")
        v = CheckVerdict(state, description, (), baseline_name, baseline_run_id, baseline_frozen_at, None)
        body = _read_report(report_file)
    else:
        raise click.UsageError("give --comparison FILE, or both --state and --description")
    report = make_report(
        v,
        body,
        gate_name=name,
        where=where,
        tracking_uri=os.environ.get("MLFLOW_TRACKING_URI"),
        mlflow_run_url=mlflow_run_url,
        baseline_name=baseline_name,
        baseline_run_id=baseline_run_id,
        baseline_frozen_at=baseline_frozen_at,
        annotations=tuple(parse_annotation(e) for e in errors),
    )
    ctx = report.ctx
    if dry_run:
        click.echo(render_comment(report.body, ctx), nl=False)
        return
    client = GitHubClient(where.repository, actions_env.token(os.environ), api_url=where.api_url)
    done = publish(report, where, client, check=check, check_name=check_name, comment=comment)
    for line in done.error_lines:
        click.echo(line)
    if done.check:
        click.echo(f"gate: {done.check.kind} {done.check.name}: {done.check.state} {done.check.url}", err=True)
    if done.comment:
        click.echo(f"gate: PR #{where.pr_number} comment {done.comment.action}: {done.comment.url}", err=True)
    for line in done.skipped:
        click.echo(f"gate: skipped {line}", err=True)
