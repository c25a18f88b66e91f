"""`gate ci pick|stage|publish`: what the model-gate workflow decides, one command per job.

Each prints `key=value` lines for `$GITHUB_OUTPUT` (and appends them there when it is set), so the
workflow's YAML only passes values from one job to the next.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from gate.cli import cli, console
from gate.cli.options import data_dir_option


def _emit(lines: str) -> None:
    click.echo(lines, nl=False)
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(lines)


@cli.group()
def ci() -> None:
    """The model-gate workflow's decisions: which pointer, each stage's outcome, one check for all.

    Outcomes, the same word in the check, the comment, the job summary and the exit code:
    passed (0), blocked (1), inconclusive (0, a neutral check), gate broke (2 or 3).
    """


@ci.command("pick")
@click.option("--event", required=True, envvar="GITHUB_EVENT_NAME", help="The event name [env GITHUB_EVENT_NAME].")
@click.option("--base", help="The commit to diff from (PR base, push before, merge group base).")
@click.option("--head", help="The commit to diff to (PR head, push sha, merge group head).")
@click.option("--pointer", "pointer_input", help="A dispatch's pointer: checkpoints/NAME.yaml.")
@click.option("--repo-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option(
    "--shards",
    envvar="GATE_SHARDS",
    default="1",
    show_default=True,
    help="Runners each stage is spread over (1 to 64) [env GATE_SHARDS]; 1 runs each stage on one runner.",
)
def pick_cmd(
    event: str, base: str | None, head: str | None, pointer_input: str | None, repo_dir: Path, shards: str
) -> None:
    """Say which checkpoint pointer this run gates (run, pointer, baseline, reason, pick, shards, shard_list).

    Exits 0 whatever it finds: a bad or doubled pointer is reported by `gate ci publish` as "gate broke".

    Example: gate ci pick --event pull_request --base "$BASE_SHA" --head "$HEAD_SHA"
    """
    from gate.ci.changes import pick, with_shards

    p = with_shards(pick(event, base, head, pointer_input, repo_dir), shards)
    click.echo(f"gate: {'gating ' + p.pointer if p.run else 'not gating'}: {p.reason}", err=True)
    _emit(p.github_output())


@ci.command("stage")
@click.argument("stage", type=click.Choice(["fast", "full"]))
@click.option("--pointer", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--suite", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--thresholds", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--floors/--no-floors", default=False, show_default=True, help="Check the floors before the diff.")
@click.option("--sample", default="", help="Items per task (empty or 0: every item).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--baseline", help="Baseline name prefix [default: the pointer's `baseline`]; the stage adds -STAGE.")
@click.option("--public-tracking-uri", envvar="GATE_PUBLIC_TRACKING_URI", help="The MLflow URI the report may show.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True)
@click.option(
    "--shard",
    metavar="I/N",
    help="A shard job of a matrix: evaluate shard I of N and hand its record to the merge job through MLflow.",
)
@click.option(
    "--shards",
    default="1",
    show_default=True,
    help="The stage's shard count: above 1, merge the N shard jobs' records (from MLflow) instead of evaluating.",
)
@data_dir_option
def stage_cmd(
    stage, pointer, suite, thresholds, floors, sample, seed, baseline, public_tracking_uri, out_dir, shard, shards,
    data_dir,
):  # fmt: skip
    """Run one stage: evaluate, check floors (--floors), diff against baseline `<baseline>-STAGE`.

    Prints the outcome, state, run_id and result (for the publish job) as output lines; exits with
    the outcome's code: 0 passed or inconclusive, 1 blocked, 2 or 3 when the gate broke. With
    --shard I/N it only evaluates its shard and logs it for the merge job (exit 0, or 2/3 when it broke).

    Example: gate ci stage fast --pointer checkpoints/sft-v3.yaml --suite suites/fast.yaml \\
             --thresholds thresholds/default.yaml --floors
    """
    from gate.ci.shards import parse_count
    from gate.ci.stage import StageRequest, run_stage

    n = int(sample) if str(sample).strip() not in ("", "0") else None
    req = StageRequest(stage, pointer, suite, thresholds, out_dir, floors, n, seed, data_dir, baseline,
                       public_tracking_uri, parse_count(shards, "--shards"))  # fmt: skip
    if shard is not None:
        from gate.ci.shards import run_stage_shard

        done = run_stage_shard(req, shard, os.environ, progress=console.progress)
        click.echo(f"gate: {stage} shard {done.shard}: {done.items} items in {done.path}, "
                   f"handed over as MLflow run {done.run_id}", err=True)  # fmt: skip
        _emit(f"run_id={done.run_id}\n")
        return
    result = run_stage(req, progress=console.progress)
    click.echo(f"gate: {stage} stage {result.outcome}: {result.headline}", err=True)
    _emit(result.github_output())
    click.get_current_context().exit(result.exit_code)


@ci.command("publish")
@click.option("--pick", "pick_json", required=True, help="The `pick` output of `gate ci pick`.")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    nargs=3,
    metavar="NAME JOB_RESULT RESULT",
    help="A stage in order: its name, its job's result (needs.X.result) and its `result` output (may be '').",
)
@click.option("--name", default="model-gate", show_default=True, help="Gate name in the comment's marker.")
@click.option("--check-name", default="model-gate", show_default=True)
@click.option("--check", type=click.Choice(["check-run", "status", "none"]), default="check-run", show_default=True)
@click.option("--baseline-max-age-days", type=float, help="Warn in the comment when the baseline is older.")
@click.option("--mlflow-ui-url", envvar="GATE_PUBLIC_TRACKING_URI", help="Public MLflow URL for run links.")
@click.option("--dry-run", is_flag=True, help="Print the comment and post nothing.")
def publish_cmd(pick_json, stages, name, check_name, check, baseline_max_age_days, mlflow_ui_url, dry_run):
    """Post one check and one comment for every stage, and write the job summary.

    The exit code is the run's outcome: 0 passed or inconclusive, 1 blocked, 2 or 3 gate broke.

    Example: gate ci publish --pick "$PICK" --stage fast "$FAST" "$FAST_RESULT" --stage full "$FULL" "$FULL_RESULT"
    """
    from gate.ci.changes import Pick
    from gate.ci.summary import StageJob, summarize
    from gate.github import actions as actions_env
    from gate.github.client import GitHubClient
    from gate.github.comment import Annotation, render_comment
    from gate.github.delivery import CheckVerdict, make_report, publish

    p = Pick.from_json(pick_json)
    s = summarize(p, [StageJob(*st) for st in stages], max_age_days=baseline_max_age_days)
    # Nothing to gate: the check answers at once, and the PR gets no comment to read.
    quiet = not p.run and p.state == "success"
    where = actions_env.resolve(os.environ)
    b = s.baseline
    run_id = next((st.run_id for st in s.stages if st.run_id), None)
    v = CheckVerdict(
        s.state,
        s.description,
        tuple(Annotation(t, m) for t, m in s.annotations),
        b.baseline_name if b else None,
        b.baseline_run_id if b else None,
        b.baseline_frozen_at if b else None,
        run_id,
        cause=s.cause,
    )
    report = make_report(v, s.body, gate_name=name, where=where, tracking_uri=mlflow_ui_url, pointer=p.pointer)
    report = type(report)(report.body, type(report.ctx)(**{**report.ctx.__dict__, "broke": s.outcome == "broke"}),
                          report.annotations)  # fmt: skip
    click.echo(f"gate: {s.description}", err=True)
    if dry_run:
        click.echo(render_comment(report.body, report.ctx), nl=False)
        click.get_current_context().exit(s.exit_code)
    client = GitHubClient(where.repository, actions_env.token(os.environ), api_url=where.api_url)
    done = publish(
        report, where, client, check=check, check_name=check_name, comment=where.pr_number is not None and not quiet
    )
    for line in done.error_lines:
        click.echo(line)
    if done.check:
        click.echo(f"gate: {done.check.kind} {done.check.name}: {done.check.state} {done.check.url}", err=True)
    if done.comment:
        click.echo(f"gate: PR #{where.pr_number} comment {done.comment.action}: {done.comment.url}", err=True)
    click.get_current_context().exit(s.exit_code)


@ci.command("promote")
@click.option("--pick", "pick_json", required=True, help="The `pick` output of `gate ci pick`.")
@click.option("--stage", "stages", multiple=True, nargs=2, metavar="NAME RUN_ID", help="A stage's MLflow run.")
@click.option("--baseline", help="Baseline name prefix [default: the pointer's]; each stage adds -STAGE.")
@click.option("--who", help="Recorded as who froze it [default: $GITHUB_ACTOR and the commit].")
def promote_cmd(pick_json, stages, baseline, who) -> None:
    """Freeze the merged checkpoint's stage runs as the next baselines (`--replace`: the old stay listed).

    Example: gate ci promote --pick "$PICK" --stage fast "$FAST_RUN" --stage full "$FULL_RUN"
    """
    from gate.ci.changes import Pick
    from gate.ci.stage import promote

    p = Pick.from_json(pick_json)
    sha = os.environ.get("GITHUB_SHA", "")[:7]
    who = who or f"{os.environ.get('GITHUB_ACTOR', 'unknown')} (commit {sha or 'unknown'})"
    for ref in promote(baseline or p.baseline, dict(stages), who):
        click.echo(f"gate: froze baseline '{ref.name}' = MLflow run {ref.run_id} ({ref.frozen_by}, {ref.frozen_at})")
