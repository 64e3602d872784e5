"""The App object: built once by the root command, passed to every command with pass_obj.

It is lazy: the global options may still be parsed after the root group runs (`opskit status
--env local`), so the environment, the terminal and the clients are made on first use, from
the Settings every copy of a global option records into.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opskit.config import Environment, load_environment
from opskit.terminal import Terminal

if TYPE_CHECKING:
    from opskit.aws import ClientFactory
    from opskit.commands.options import Settings
    from opskit.local.state import LocalState
    from opskit.pricing import PriceTable

LAMBDA_PYTHON = "3.12"  # the function's runtime: wheels are picked for it
PACKAGE_PROGRESS = "Building the Lambda package (a first build downloads its wheels from PyPI)"


def utcnow() -> datetime:
    return datetime.now(UTC)


class App:
    def __init__(
        self,
        env: Environment | None = None,
        terminal: Terminal | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_url: str | None = None,
        _clients: ClientFactory | None = None,
        settings: Settings | None = None,
        packager: Callable[[Environment, str], Any] | None = None,
    ):
        from opskit.commands.options import Settings

        self.settings = settings if settings is not None else Settings()
        self.clock = clock
        self.sleep = sleep
        self.endpoint_url = endpoint_url
        self._env = env
        self._env_from = self._env_key() if env is None else None
        self._terminal = terminal
        self._injected_clients = _clients
        self._clients: ClientFactory | None = _clients
        self._packager = packager
        self._prices: tuple[tuple[str, str], PriceTable] | None = None

    # The settings an environment depends on; a change (a later --env) rebuilds it.
    def _env_key(self) -> tuple[str, str | None, str | None, str | None]:
        s = self.settings
        return (s.env_name, s.profile, s.region, s.config)

    @property
    def env(self) -> Environment:
        key = self._env_key()
        if self._env is None or (self._env_from is not None and self._env_from != key):
            self._env = load_environment(
                self.settings.env_name,
                config=self.settings.config,
                profile=self.settings.profile,
                region=self.settings.region,
            )
            self._env_from = key
            self._clients = self._injected_clients
        return self._env

    @env.setter
    def env(self, value: Environment) -> None:
        self._env, self._env_from = value, None
        self._clients = self._injected_clients

    @property
    def terminal(self) -> Terminal:
        if self._terminal is None:
            self._terminal = Terminal(
                output=self.settings.output.lower(), verbosity=self.settings.verbosity
            )
        else:  # injected (tests): flags given on the command line still apply
            if "output" in self.settings.explicit:
                self._terminal.output = self.settings.output.lower()
            if "verbosity" in self.settings.explicit:
                self._terminal.verbosity = self.settings.verbosity
        # The name, not the environment: a terminal must not need a loadable opskit.toml.
        self._terminal.env_name = self._env.name if self._env else self.settings.env_name
        return self._terminal

    @property
    def assume_yes(self) -> bool:
        """--yes: do not ask (a non-interactive run without it declines)."""
        return self.settings.yes

    def confirm(self, question: str) -> bool:
        return self.terminal.confirm(question, assume_yes=self.assume_yes)

    def command(self, *args: str) -> str:
        """The opskit command line for this environment, for hints: `opskit --env local deploy`."""
        return " ".join(("opskit", "--env", self.env.name, *args))

    def emulator_clients(self, endpoint_url: str, region: str) -> ClientFactory:
        """Clients for the local account's emulator (`opskit local ...`)."""
        from opskit.aws import ClientFactory

        if self._injected_clients is not None:
            return self._injected_clients
        return ClientFactory(region, endpoint_url=endpoint_url)

    def local_state(self, env: Environment | None = None) -> LocalState | None:
        """The running local account's state (ports, pids), or None."""
        from opskit.local.account import running_state

        return running_state(env or self.env)

    @property
    def prices(self) -> PriceTable:
        """The price table for the environment's region (bundled, or refreshed under .opskit)."""
        env = self.env
        key = (env.region, str(env.state_dir))
        if self._prices is None or self._prices[0] != key:
            from opskit.pricing import load_prices

            self._prices = (key, load_prices(env.region, env.state_dir))
        return self._prices[1]

    def package(self, architecture: str) -> Any:
        """The Lambda zip for `architecture`: rebuilt only when its inputs changed."""
        if self._packager is not None:
            return self._packager(self.env, architecture)
        from opskit.deploy.artifacts import cached_build
        from opskit.packaging import build_package

        def build(*args: Any, **kwargs: Any) -> Any:  # only when the inputs changed
            with self.terminal.progress(PACKAGE_PROGRESS):
                return build_package(*args, **kwargs)

        env = self.env
        return cached_build(env.root, env.state_dir, architecture, LAMBDA_PYTHON, build)

    def clients_for(self, draft: Environment) -> ClientFactory:
        """Clients for an environment that is not in opskit.toml yet (`opskit init`)."""
        from opskit.aws import ClientFactory

        if self._injected_clients is not None:
            return self._injected_clients
        endpoint = self.endpoint_url
        if endpoint is None and draft.local:
            from opskit.local.state import require_endpoint

            endpoint = require_endpoint(draft)
        return ClientFactory(draft.region, draft.profile, endpoint)

    @property
    def clients(self) -> ClientFactory:
        env = self.env  # first: a new environment resets the clients
        if self._clients is None:
            from opskit.aws import ClientFactory

            endpoint = self.endpoint_url
            if endpoint is None and env.local:
                from opskit.local.state import require_endpoint

                endpoint = require_endpoint(env)
            self._clients = ClientFactory(env.region, env.profile, endpoint)
        return self._clients
