"""The `opskit` command: global options, the App object, lazily loaded subcommands."""

from __future__ import annotations

import importlib
import os
import sys

import click

from opskit import __version__
from opskit.errors import EXIT_FAILURE, EXIT_INTERRUPTED, OpsError
from opskit.terminal import OUTPUT_FORMATS

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
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env",
    "env_name",
    default=lambda: os.environ.get("OPSKIT_ENV", "dev"),
    show_default="dev or $OPSKIT_ENV",
    help="Environment from opskit.toml.",
)
@click.option("--profile", default=None, help="AWS profile (overrides opskit.toml).")
@click.option("--region", default=None, help="AWS region (overrides opskit.toml).")
@click.option(
    "--output",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="How results are printed.",
)
@click.version_option(__version__, prog_name="opskit")
@click.pass_context
def cli(
    ctx: click.Context, env_name: str, profile: str | None, region: str | None, output: str
) -> None:
    """Deploy, observe and cost the serverless API gateway.

    Every command takes --env (dev, staging, prod, local: see opskit.toml).
    `--env local` runs against the embedded local account (`opskit local up`).
    """
    from opskit.app import App
    from opskit.config import load_environment
    from opskit.terminal import Terminal

    if ctx.obj is None:
        env = load_environment(env_name, profile=profile, region=region)
        ctx.obj = App(env=env, terminal=Terminal(output=output))


def main() -> None:
    debug = os.environ.get("OPSKIT_DEBUG") == "1"
    try:
        cli.main(standalone_mode=False, prog_name="opskit")
    except OpsError as exc:
        if debug:
            raise
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line, and how to see the traceback
        if debug:
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc} (rerun with OPSKIT_DEBUG=1 for the traceback and report it)",
            err=True,
        )
        sys.exit(EXIT_FAILURE)
