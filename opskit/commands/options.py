"""Options several commands share."""

from __future__ import annotations

import click

from opskit.terminal import OUTPUT_FORMATS


def format_option(help: str = "table, json or csv (default: the global --output).") -> click.Option:
    """`--format`, stored as `fmt`; None means: use the global --output."""
    return click.option(
        "--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None, help=help
    )
