"""The `gate` command line: thin commands over library functions.

Each command group lives in its own module; this one builds the root group and maps
exceptions to exit codes in exactly one place (`GateGroup.invoke`): a GateError exits with its
code, a usage error with 2, and anything unexpected with 3 (the gate broke, which says nothing about
the model), each as one `gate: error:` line with credentials redacted; `--debug` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from gate import __version__
from gate.errors import EXIT_CONFIG, EXIT_INFRA, GateError
from gate.text import redact

# Environment variables whose values are credentials: never printed, whatever an exception says.
SECRET_ENV = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "OPENAI_API_KEY",
)


def _secrets() -> list[str]:
    return [v for k in SECRET_ENV if (v := os.environ.get(k))]


def error_lines(message: str) -> list[str]:
    """A message as stderr lines: the first `gate: error: ...`, any further ones indented beneath it."""
    lines = [ln for ln in redact(message, _secrets()).splitlines() if ln.strip()] or ["unknown error"]
    return [f"gate: error: {lines[0]}"] + [f"gate:   {ln}" for ln in lines[1:]]


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug")) or os.environ.get("GATE_DEBUG", "") not in ("", "0")


def _traceback() -> None:
    click.echo(redact(traceback.format_exc(), _secrets()), err=True, nl=False)


class GateGroup(click.Group):
    """Turns every exception into a one-line message on stderr and the exit code of its cause."""

    def invoke(self, ctx: click.Context):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except GateError as e:
            if _debug(ctx):
                _traceback()
            for line in error_lines(str(e) or type(e).__name__):
                click.echo(line, err=True)
            ctx.exit(e.exit_code)
        except click.ClickException as e:  # a bad option or argument: click's message, as one of ours
            sub = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx else "gate"
            for line in error_lines(f"{e.format_message()} (see `{sub} --help`)"):
                click.echo(line, err=True)
            ctx.exit(EXIT_CONFIG)  # click's own FileError would say 1, which reads as "the model is worse"
        except KeyboardInterrupt:
            click.echo("gate: error: interrupted; nothing was decided", err=True)
            ctx.exit(EXIT_INFRA)
        except ModuleNotFoundError as e:
            # A subcommand imports its heavy dependencies lazily; one missing is an infrastructure fault.
            for line in error_lines(
                f"this command needs the Python package '{e.name}', which is not installed; "
                "install the gate with `pip install checkpoint-gate`"
            ):
                click.echo(line, err=True)
            ctx.exit(EXIT_INFRA)
        except Exception as e:  # noqa: BLE001 - the one place an unexpected failure becomes exit 3
            if _debug(ctx):
                _traceback()
            detail = " ".join(str(e).split())[:300]
            hint = "" if _debug(ctx) else "; re-run with `gate --debug ...` for the traceback"
            for line in error_lines(f"internal error: {type(e).__name__}: {detail}{hint}"):
                click.echo(line, err=True)
            ctx.exit(EXIT_INFRA)


@click.group(cls=GateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gate")
@click.option("--debug", is_flag=True, help="On an error, also print its traceback (env: GATE_DEBUG=1).")
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bars or progress lines on stderr; warnings and errors still."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Also show lm-eval's, transformers' and datasets' own logs and warnings."
)
def cli(debug: bool, quiet: bool, verbose: bool) -> None:
    """A regression gate for LLM checkpoints.

    Evaluate a checkpoint with lm-evaluation-harness, check it against floors, diff it
    against a frozen MLflow baseline, and report to the pull request.

    Exit codes: 0 passed, 1 the gate failed, 2 bad config or usage, 3 infrastructure failure.

    Reports go to stdout; progress bars (on a terminal), progress lines and the last line, the state and
    the wall time, go to stderr. Colour only on a terminal, never with NO_COLOR set.
    """
    from gate.cli import console

    console.setup(quiet=quiet, verbose=verbose)


def _register() -> None:
    # One import per command module; each adds its commands to `cli`.
    from gate.cli import (  # noqa: F401
        baseline,
        check,
        checkpoint,
        ci,
        comment,
        correlate,
        diff,
        judge,
        merge,
        plan,
        report,
        run,
    )


def main() -> None:
    try:
        _register()
        cli.main(standalone_mode=True)
    except SystemExit as e:
        # click reports usage errors with exit 2, which is also our "bad config or usage".
        code = e.code if isinstance(e.code, int) else EXIT_CONFIG
        sys.exit(code)
    except Exception as e:  # noqa: BLE001 - failed before a command ran (e.g. a broken install)
        for line in error_lines(f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]}"):
            print(line, file=sys.stderr)
        sys.exit(EXIT_INFRA)
