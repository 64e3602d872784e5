"""The `opskit` command: global options, the App object, lazily loaded subcommands."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from opskit import __version__, envvars
from opskit.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, OpsError, one_line

if TYPE_CHECKING:
    from opskit.commands.options import Settings

# name -> ("module:attribute", one-line help). A command's module is imported only when that
# command runs, so `opskit --help` imports none of them and stays fast.
COMMANDS = {
    "package": (
        "opskit.commands.package_cmd:package",
        "Build the gateway's Lambda zip (no Docker).",
    ),
    "deploy": (
        "opskit.commands.deploy_cmd:deploy",
        "Package, plan and deploy the stack; smoke-test it.",
    ),
    "status": (
        "opskit.commands.deploy_cmd:status",
        "Stack state, outputs, resources, events, drift.",
    ),
    "destroy": (
        "opskit.commands.deploy_cmd:destroy",
        "Delete the stack (asks; data tables are kept).",
    ),
    "logs": ("opskit.commands.logs_cmd:logs", "Tail or export the gateway's logs."),
    "local": ("opskit.commands.local_cmd:local", "Run the embedded local AWS account."),
    "insights": (
        "opskit.commands.insights_cmd:insights",
        "Run Logs Insights queries (CloudWatch or local).",
    ),
    "alarms": ("opskit.commands.alarms_cmd:alarms", "Apply, list and test the alarm baseline."),
    "dashboards": (
        "opskit.commands.dashboards_cmd:dashboards",
        "Render and push the CloudWatch dashboard.",
    ),
    "top": (
        "opskit.commands.dashboards_cmd:top",
        "Live terminal charts of traffic, errors, latency, cost.",
    ),
    "budget": ("opskit.commands.budget_cmd:budget", "Set up and check the monthly budget."),
    "cost": (
        "opskit.commands.cost_cmd:cost",
        "What it cost (Cost Explorer) and will cost (estimate).",
    ),
    "init": (
        "opskit.commands.init_cmd:init",
        "Guided first run: write opskit.toml for an environment.",
    ),
    "completion": (
        "opskit.commands.completion_cmd:completion",
        "Print the shell completion script (bash, zsh, fish).",
    ),
}


class LazyGroup(click.Group):
    """The root group: commands imported on first use; the CLI's one error and exit-code policy."""

    settings: Settings | None = None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            command = self.commands[cmd_name]
        elif cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
        else:
            return None
        from opskit.commands.options import add_global_options

        return add_global_options(command, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, text)
            for name, text in envvars.DOCUMENTED.items()
            if name not in envvars.OF_GLOBAL_OPTIONS
        ]
        with formatter.section("Other environment variables"):
            formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        ctx = super().make_context(*args, **kwargs)
        from opskit.commands.options import settings_of

        self.settings = settings_of(ctx)  # read again after an error, to word its hint
        return ctx

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Every way in (console script, `python -m opskit`, CliRunner) gets the same exits."""
        kwargs["standalone_mode"] = False
        kwargs.setdefault("prog_name", "opskit")
        self.settings = None
        sys.exit(
            run_guarded(
                lambda: super(LazyGroup, self).main(*args, **kwargs),
                env_name=lambda: self.settings.env_name if self.settings else None,
            )
        )


def run_guarded(invoke: Callable[[], Any], env_name: Callable[[], str | None]) -> int:
    """Run the CLI; map every outcome to one line on stderr and a documented exit code."""
    debug = os.environ.get(envvars.DEBUG) == "1"
    try:
        result = invoke()
    except OpsError as exc:
        if debug:
            raise
        name = env_name()
        if name:
            exc.name_environment(name)
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as exc:  # one line, like every other error, with where to look
        where = exc.ctx.command_path if exc.ctx else "opskit"
        message = " ".join(exc.format_message().split())  # Click's lists span lines
        click.echo(f"Error: {message} (see `{where} --help`)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"Error: {one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:  # `opskit ... | head`: the reader is gone, nothing left to say
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # a bug: one line, and how to see the traceback
        if debug:
            raise
        message = " ".join(str(exc).split())
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {message} "
            f"(rerun with {envvars.DEBUG}=1 for the traceback and report it)",
            err=True,
        )
        return EXIT_FAILURE
    return result if isinstance(result, int) else EXIT_OK


def _silence_stdout() -> None:
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="opskit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Deploy, observe and cost the serverless API gateway.

    Global options work before or after the command (`opskit status --env local`).
    `--env local` runs against the embedded local account (`opskit local up`).
    """
    from opskit.app import App
    from opskit.commands.options import settings_of

    settings = settings_of(ctx)
    if ctx.obj is None:
        ctx.obj = App(settings=settings)
    else:  # an App given by the caller (tests): the command line's options still apply
        ctx.obj.settings = settings


def _add_root_options() -> None:
    from opskit.commands.examples import epilog_for
    from opskit.commands.options import root_options

    cli.params[:0] = root_options()
    cli.epilog = f"{epilog_for('', cli)}\n\nREADME.md and docs/: one page per area, exit codes."


_add_root_options()


def main() -> None:
    cli.main(prog_name="opskit")
