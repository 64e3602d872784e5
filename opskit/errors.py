"""One error family for every user-facing failure, with documented exit codes.

Each error says what failed, why, and what to do next, on one line. The CLI
prints it without a traceback unless OPSKIT_DEBUG=1.
"""

from __future__ import annotations

import re
from typing import IO, Any

import click

# Exit codes (documented in docs/exit-codes.md; a test keeps both in sync).
EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected failure (a bug: please report it)
EXIT_USAGE = 2  # bad command-line usage (Click's own code)
EXIT_CONFIG = 3  # opskit.toml or a parameter is invalid
EXIT_AWS = 4  # credentials, permissions or an AWS API refused the call
EXIT_NOT_FOUND = 5  # the stack, query, alarm or file does not exist
EXIT_DEPLOY_FAILED = 6  # the stack operation failed or rolled back
EXIT_QUERY_FAILED = 7  # a Logs Insights query failed, timed out or was cancelled
EXIT_LOCAL = 8  # the embedded local account is not running or failed
EXIT_ABORTED = 9  # the user declined a confirmation
EXIT_CHECK_FAILED = 10  # a validation found problems (template, dashboard, smoke test)
EXIT_INTERRUPTED = 130  # Ctrl-C


# A backticked opskit command in a hint that does not name an environment yet.
_OPSKIT_COMMAND = re.compile(r"`opskit (?!--env\b|-e\b)")


class OpsError(click.ClickException):
    """An error the user can act on: what failed, why, what to do."""

    exit_code = EXIT_FAILURE

    def __init__(self, what: str, why: str = "", fix: str = "", *, exit_code: int | None = None):
        self.what, self.why, self.fix = what, why, fix
        if exit_code is not None:
            vars(self)["exit_code"] = exit_code  # per instance; click declares it a ClassVar
        super().__init__(self.format_line())

    def format_line(self) -> str:
        parts = [self.what]
        if self.why:
            parts.append(self.why)
        line = ": ".join(parts)
        if self.fix:
            line += f" ({self.fix})"
        return line

    def format_message(self) -> str:
        return self.format_line()

    def name_environment(self, env_name: str) -> None:
        """Hints name the command for the environment in use: `opskit --env local deploy`."""
        self.what, self.why, self.fix = (
            name_environment(text, env_name) for text in (self.what, self.why, self.fix)
        )

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {one_line(self.format_message())}", err=True, file=file)


def name_environment(text: str, env_name: str) -> str:
    """Every backticked `opskit ...` command in `text`, for the environment in use."""
    replacement = f"`opskit --env {env_name} "  # literal: a name may hold a backslash
    return _OPSKIT_COMMAND.sub(lambda _: replacement, text)


def one_line(text: str) -> str:
    """An error stays one line whatever user data it quotes (a name with a CR or LF in it)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class UsageError(OpsError):
    """A bad command-line value found after parsing (Click's own BadParameter is exit 2 too)."""

    exit_code = EXIT_USAGE


class Interrupted(OpsError):
    """Ctrl-C: the CLI exits 130 whichever command was running."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, what: str = "Interrupted.", why: str = "", fix: str = ""):
        super().__init__(what, why, fix)


class ConfigError(OpsError):
    exit_code = EXIT_CONFIG


class AwsError(OpsError):
    exit_code = EXIT_AWS


class NotFoundError(OpsError):
    exit_code = EXIT_NOT_FOUND


class DeployFailed(OpsError):
    exit_code = EXIT_DEPLOY_FAILED


class QueryFailed(OpsError):
    exit_code = EXIT_QUERY_FAILED


class LocalAccountError(OpsError):
    exit_code = EXIT_LOCAL


class Aborted(OpsError):
    exit_code = EXIT_ABORTED


class CheckFailed(OpsError):
    exit_code = EXIT_CHECK_FAILED
