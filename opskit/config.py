"""Environments from opskit.toml: shared [defaults] with per-[env.NAME] overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.errors import ConfigError

CONFIG_NAME = "opskit.toml"
DEFAULT_ENVS = {
    "dev": {"stack_name": "opskit-dev"},
    "local": {"stack_name": "opskit-local", "local": True},
}


@dataclass(frozen=True)
class Environment:
    name: str
    stack_name: str
    region: str
    project: str = "opskit"
    profile: str | None = None
    local: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    # Everything else in the environment's table (alarms thresholds, budget, ...).
    settings: dict[str, Any] = field(default_factory=dict)
    root: Path = field(default_factory=Path.cwd)

    @property
    def state_dir(self) -> Path:
        """Where opskit keeps local state (emulator ports, caches)."""
        return self.root / ".opskit"

    @property
    def function_name(self) -> str:
        return f"{self.stack_name}-gateway"

    @property
    def function_log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def access_log_group(self) -> str:
        return f"/aws/apigateway/{self.stack_name}-api"

    @property
    def tags(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.name}


def find_config(start: Path | None = None) -> Path | None:
    explicit = os.environ.get("OPSKIT_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"OPSKIT_CONFIG points at {path}", "no such file", "unset it or fix the path"
            )
        return path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_document(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {"defaults": {}, "env": DEFAULT_ENVS}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {path}", str(exc), "fix the TOML syntax") from None


def load_environment(name: str, path: Path | None = None, **overrides: Any) -> Environment:
    """Resolve environment `name`; `overrides` (region, profile) win over the file."""
    path = path if path is not None else find_config()
    document = load_document(path)
    envs = document.get("env", {})
    if name not in envs:
        known = ", ".join(sorted(envs)) or "none"
        where = path or "the built-in defaults"
        raise ConfigError(
            f"unknown environment '{name}'",
            f"{where} defines: {known}",
            f"add an [env.{name}] table to {CONFIG_NAME} or pick one of those",
        )
    merged = _merge(document.get("defaults", {}), envs[name] or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    parameters = {str(k): str(v) for k, v in (merged.pop("parameters", {}) or {}).items()}
    project = str(merged.pop("project", "opskit"))
    stack_name = str(merged.pop("stack_name", f"{project}-{name}"))
    region = str(merged.pop("region", os.environ.get("AWS_REGION", "us-east-1")))
    profile = merged.pop("profile", None)
    local = bool(merged.pop("local", False))
    return Environment(
        name=name,
        stack_name=stack_name,
        region=region,
        project=project,
        profile=profile,
        local=local,
        parameters=parameters,
        settings=merged,
        root=path.parent if path else Path.cwd(),
    )
