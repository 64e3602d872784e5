"""The `opskit` command: global options, the App object, lazily loaded subcommands."""

from __future__ import annotations

import importlib
import os
import sys

import click

from opskit import __version__
from opskit.errors import EXIT_FAILURE, EXIT_INTERRUPTED, OpsError
from opskit.terminal import OUTPUT_FORMATS

# name -> "module:attribute". Imported only when the command runs (or for --help),
# so `opskit --help` stays fast and one broken module cannot break the others.
COMMANDS = {
    "package": "opskit.commands.package_cmd:package",
    "deploy": "opskit.commands.deploy_cmd:deploy",
    "status": "opskit.commands.deploy_cmd:status",
    "destroy": "opskit.commands.deploy_cmd:destroy",
    "logs": "opskit.commands.logs_cmd:logs",
    "local": "opskit.commands.local_cmd:local",
    "insights": "opskit.commands.insights_cmd:insights",
    "alarms": "opskit.commands.alarms_cmd:alarms",
    "dashboards": "opskit.commands.dashboards_cmd:dashboards",
    "top": "opskit.commands.dashboards_cmd:top",
    "budget": "opskit.commands.budget_cmd:budget",
    "cost": "opskit.commands.cost_cmd:cost",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env", "env_name", default=lambda: os.environ.get("OPSKIT_ENV", "dev"), show_default="dev or $OPSKIT_ENV", help="Environment from opskit.toml.")
@click.option("--profile", default=None, help="AWS profile (overrides opskit.toml).")
@click.option("--region", default=None, help="AWS region (overrides opskit.toml).")
@click.option("--output", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True, help="How results are printed.")
@click.version_option(__version__, prog_name="opskit")
@click.pass_context
def cli(ctx: click.Context, env_name: str, profile: str | None, region: str | None, output: str) -> None:
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
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (rerun with OPSKIT_DEBUG=1 for the traceback and report it)", err=True)
        sys.exit(EXIT_FAILURE)
