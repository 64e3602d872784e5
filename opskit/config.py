"""Environments from opskit.toml: shared [defaults] with per-[env.NAME] overrides."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit import envvars, values
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
    """The shape opskit relies on: [defaults] and [env.NAME] are tables (types of keys: later);
    nothing else at the top (a `[defualts]` would be ignored without a word)."""
    _refuse_unknown(
        f"{path}: unknown table or key",
        document,
        ("defaults", "env"),
        "the top level takes [defaults] and [env.NAME]",
    )
    for key in ("defaults", "env"):
        if key in document and not isinstance(document[key], dict):
            raise ConfigError(
                f"{path}: `{key}` must be a table",
                f"it is {values.kind(document[key])}",
                f"write it as [{key}] or [{key}.NAME]"
                if key == "env"
                else "write it as [defaults]",
            )
    for name, table in document.get("env", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: env.{name} must be a table",
                f"it is {values.kind(table)}",
                f"write it as [env.{name}]",
            )


Check = Callable[[Any], Any]


def _budget(value: Any) -> dict[str, Any]:
    """`[env.NAME.budget]` as `opskit init` writes it: amount (USD) and email."""
    table = values.table(value)
    unknown = sorted(set(table) - {"amount", "email"})
    if unknown:
        raise values.BadValue(f"unknown key {unknown[0]!r} (it takes amount, email)", "amount = 20")
    checked = dict(table)
    if "amount" in table:
        checked["amount"] = values.amount(table["amount"])
    if "email" in table:
        checked["email"] = values.email(table["email"])
    return checked


RESERVED_TAGS = ("Project", "Environment")  # Environment.tags: every stack carries them

# Every key an environment's table (with [defaults] merged in) may hold, and its rule.
# Environment fields first; the rest stay in Environment.settings, checked and normalized.
FIELDS: dict[str, Check] = {
    "project": values.matching(STACK_NAME, "a valid name (letters, digits, -)", '"opskit"'),
    "stack_name": values.matching(STACK_NAME, "a valid CloudFormation stack name", '"opskit-dev"'),
    "local": values.boolean,
    "profile": values.matching(re.compile(r"\S+"), "a profile name (no spaces)", '"dev-admin"'),
    "region": values.matching(REGION, "an AWS region", '"eu-west-1"'),
    "parameters": values.parameters,
}
SETTINGS: dict[str, Check] = {
    "template": values.path,
    "artifact_bucket": values.bucket_name,
    "function_timeout": values.function_timeout,
    "termination_protection": values.boolean,
    "role_arn": values.role_arn,
    "notification_arns": values.notification_arns,
    "tags": lambda value: values.tags(value, reserved=RESERVED_TAGS),
    "alarms": values.table,  # its keys are checked against the alarm file (opskit.alarms.spec)
    "budget": _budget,
    "local_gateway_app": values.app_spec,
}


def _refuse_unknown(
    what: str, table: Mapping[str, Any], known: Iterable[str], otherwise: str
) -> None:
    """A key that is not `known` (a typo): named, with the closest known key when one is close."""
    known = list(known)
    unknown = sorted(set(table) - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        raise ConfigError(
            f"{what} `{unknown[0]}`",
            f"did you mean `{close[0]}`?" if close else otherwise,
            "fix or remove it; docs/commands.md lists the keys",
        )


def _checked(where: str, table: dict[str, Any]) -> dict[str, Any]:
    """Every key of `table` checked by its rule; an unknown key (a typo) is an error too."""
    rules = {**FIELDS, **SETTINGS}
    _refuse_unknown(
        f"{where}: unknown key", table, rules, f"known keys: {', '.join(sorted(rules))}"
    )
    checked: dict[str, Any] = {}
    for key, value in table.items():
        try:
            checked[key] = rules[key](value)
        except values.BadValue as exc:
            example = f"e.g. {key} = {exc.example}" if exc.example else "see docs/commands.md"
            raise ConfigError(f"{where}: `{key}` {exc.why}", "", example) from None
    return checked


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
    project = merged.get("project", "opskit")
    merged.setdefault("stack_name", f"{project}-{name}")  # checked like a written one
    checked = _checked(where, merged)
    fields = {key: checked.pop(key) for key in FIELDS if key in checked}
    profile = overrides.get("profile") or fields.get("profile")
    region = overrides.get("region") or fields.get("region") or _region_from_environment()
    return Environment(
        name=name,
        stack_name=fields["stack_name"],
        region=region,
        project=fields.get("project", "opskit"),
        profile=profile,
        local=fields.get("local", False),
        parameters=fields.get("parameters", {}),
        settings=checked,
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
