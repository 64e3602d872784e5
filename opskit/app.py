"""The App object: built once by the root command, passed to every command with pass_obj."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from opskit.config import Environment
from opskit.terminal import Terminal

if TYPE_CHECKING:  # boto3 is imported only by a command that talks to AWS
    from opskit.aws import ClientFactory


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    env: Environment
    terminal: Terminal
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    endpoint_url: str | None = None
    _clients: ClientFactory | None = field(default=None, repr=False)

    @cached_property
    def clients(self) -> ClientFactory:
        if self._clients is not None:
            return self._clients
        endpoint = self.endpoint_url
        if endpoint is None and self.env.local:
            from opskit.local.state import require_endpoint

            endpoint = require_endpoint(self.env)
        from opskit.aws import ClientFactory

        return ClientFactory(self.env.region, self.env.profile, endpoint)
