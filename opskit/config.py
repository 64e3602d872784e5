"""Environments from opskit.toml: shared [defaults] with per-[env.NAME] overrides."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit import envvars
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


# CloudFormation's stack-name rule and the shape of every AWS region name (us-east-1, us-gov-west-1).
STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def find_config(start: Path | None = None, explicit: str | Path | None = None) -> Path | None:
    """`explicit` (--config) wins, then $OPSKIT_CONFIG, then opskit.toml here or above."""
    explicit = explicit or os.environ.get(envvars.CONFIG)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} not found",
                "--config or $OPSKIT_CONFIG names it",
                "fix the path, or unset OPSKIT_CONFIG to use ./opskit.toml",
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
            document = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}", _one_line(exc), "fix the TOML syntax") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}", exc.strerror or str(exc), "check the file"
        ) from None
    _check_document(document, path)
    return document


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_document(document: dict[str, Any], path: Path) -> None:
    """The shape opskit relies on: [defaults] and [env.NAME] are tables (types of keys: later)."""
    for key in ("defaults", "env"):
        if key in document and not isinstance(document[key], dict):
            raise ConfigError(
                f"{path}: `{key}` must be a table",
                f"it is {_kind(document[key])}",
                f"write it as [{key}] or [{key}.NAME]"
                if key == "env"
                else "write it as [defaults]",
            )
    for name, table in document.get("env", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: env.{name} must be a table",
                f"it is {_kind(table)}",
                f"write it as [env.{name}]",
            )


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
    }
    return next((text for t, text in names.items() if isinstance(value, t)), type(value).__name__)


_TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a table"}


def _require(
    where: str,
    key: str,
    value: Any,
    kind: type,
    pattern: re.Pattern[str] | None = None,
    example: str = "",
) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(
            f"{where}: `{key}` must be {_TYPE_NAMES[kind]}",
            f"it is {_kind(value)}",
            f"e.g. {key} = {example}",
        )
    if pattern is not None and not pattern.fullmatch(str(value)):
        raise ConfigError(
            f"{where}: `{key}` = {value!r} is not valid", "", f"e.g. {key} = {example}"
        )


def parameter_value(value: Any) -> str:
    """A stack parameter as CloudFormation wants it: booleans in lower case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_environment(
    name: str, path: Path | None = None, *, config: str | Path | None = None, **overrides: Any
) -> Environment:
    """Resolve environment `name`; `overrides` (region, profile) win over the file."""
    path = path if path is not None else find_config(explicit=config)
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
    where = f"{path or CONFIG_NAME} [env.{name}]"
    raw_parameters = merged.pop("parameters", {})
    _require(where, "parameters", raw_parameters, dict, example='{ MemorySize = "512" }')
    for key, value in raw_parameters.items():
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(
                f"{where}: parameter {key} must be a string, number or boolean",
                f"it is {_kind(value)}",
                f'e.g. {key} = "value"',
            )
    parameters = {str(k): parameter_value(v) for k, v in raw_parameters.items()}
    project = merged.pop("project", "opskit")
    _require(where, "project", project, str, STACK_NAME, '"opskit"')
    stack_name = merged.pop("stack_name", f"{project}-{name}")
    _require(where, "stack_name", stack_name, str, STACK_NAME, f'"{project}-dev"')
    local = merged.pop("local", False)
    _require(where, "local", local, bool, example="true")
    profile = merged.pop("profile", None)
    if profile is not None:
        _require(where, "profile", profile, str, re.compile(r"\S+"), '"dev-admin"')
    region = merged.pop("region", None)
    if region is not None:
        _require(where, "region", region, str, REGION, '"eu-west-1"')
    if overrides.get("profile"):
        profile = overrides["profile"]
    if overrides.get("region"):
        region = overrides["region"]
    region = region or _region_from_environment()
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


def _region_from_environment() -> str:
    for variable in envvars.AWS_REGIONS:
        value = os.environ.get(variable)
        if value:
            if not REGION.fullmatch(value):
                raise ConfigError(
                    f"${variable} = {value!r} is not an AWS region",
                    "",
                    f"e.g. export {variable}=eu-west-1, or set `region` in {CONFIG_NAME}",
                )
            return value
    return "us-east-1"
