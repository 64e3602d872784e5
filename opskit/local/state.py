"""Where the running local account is recorded: .opskit/local.json under the project root."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from opskit import envvars
from opskit.config import Environment
from opskit.errors import LocalAccountError

STATE_FILE = "local.json"


@dataclass
class LocalState:
    endpoint_url: str
    pids: dict[str, int] = field(default_factory=dict)  # role -> process id we started
    gateway_url: str | None = None
    upstreams: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def path(cls, env: Environment) -> Path:
        return env.state_dir / STATE_FILE

    @classmethod
    def load(cls, env: Environment) -> LocalState | None:
        path = cls.path(env)
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(**data)

    def save(self, env: Environment) -> None:
        path = self.path(env)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def clear(cls, env: Environment) -> None:
        cls.path(env).unlink(missing_ok=True)


def require_endpoint(env: Environment) -> str:
    """The emulator endpoint for --env local: OPSKIT_ENDPOINT_URL wins, then the state file."""
    override = os.environ.get(envvars.ENDPOINT_URL)
    if override:
        return override
    state = LocalState.load(env)
    if state is None:
        raise LocalAccountError(
            "the local account is not running",
            f"no {LocalState.path(env)}",
            "start it with `opskit local up`",
        )
    return state.endpoint_url
