"""`opskit completion SHELL`: the shell completion script (Click's own, for this program)."""

from __future__ import annotations

import click

from opskit.app import App

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_OPSKIT_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_obj
def completion(app: App, shell: str) -> None:
    """Print the completion script for SHELL; install it once and restart the shell.

    \b
    bash: opskit completion bash > ~/.local/share/bash-completion/completions/opskit
    zsh:  opskit completion zsh > "${fpath[1]}/_opskit"   (then: autoload -U compinit && compinit)
    fish: opskit completion fish > ~/.config/fish/completions/opskit.fish
    """
    from click.shell_completion import get_completion_class

    from opskit.cli import cli

    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one of Click's
    app.terminal.write(completer(cli, {}, "opskit", COMPLETE_VAR).source() + "\n")
