"""The `gate` command line: thin commands over library functions.

Each command group lives in its own module; this one builds the root group and maps
domain exceptions to exit codes in exactly one place (`GateGroup.invoke`).
"""

from __future__ import annotations

import sys

import click

from gate import __version__
from gate.errors import EXIT_CONFIG, EXIT_INFRA, GateError


class GateGroup(click.Group):
    """Turns GateError into a one-line message on stderr and its exit code."""

    def invoke(self, ctx: click.Context):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except GateError as e:
            for line in str(e).splitlines() or [type(e).__name__]:
                click.echo(f"gate: error: {line}", err=True)
            ctx.exit(e.exit_code)
        except ModuleNotFoundError as e:
            # A subcommand imports its heavy dependencies lazily; one missing is an infrastructure fault.
            click.echo(f"gate: error: this command needs the Python package '{e.name}', which is not installed; "
                       "install the gate with `pip install checkpoint-gate`", err=True)  # fmt: skip
            ctx.exit(EXIT_INFRA)
        except click.UsageError:
            raise
        except click.exceptions.Exit:
            raise


@click.group(cls=GateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gate")
def cli() -> None:
    """A regression gate for LLM checkpoints.

    Evaluate a checkpoint with lm-evaluation-harness, check it against floors, diff it
    against a frozen MLflow baseline, and report to the pull request.

    Exit codes: 0 passed, 1 the gate failed, 2 bad config or usage, 3 infrastructure failure.
    """


def _register() -> None:
    # One import per command module; each adds its commands to `cli`.
    from gate.cli import baseline, check, checkpoint, ci, comment, diff, judge, plan, run  # noqa: F401


def main() -> None:
    _register()
    try:
        cli.main(standalone_mode=True)
    except SystemExit as e:
        # click reports usage errors with exit 2, which is also our "bad config or usage".
        code = e.code if isinstance(e.code, int) else EXIT_CONFIG
        sys.exit(code)
