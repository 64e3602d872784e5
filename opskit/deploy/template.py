"""Read the CloudFormation template (YAML short-form tags included) and build parameters."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from opskit.errors import ConfigError, NotFoundError, UsageError

DEFAULT_TEMPLATE = "cloudformation/gateway.yaml"
# Templates larger than this must go through S3 (TemplateURL) instead of TemplateBody.
TEMPLATE_BODY_LIMIT = 51_200


# libyaml's loader when PyYAML has it: 5x faster, and parsing is on every deploy's path.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):
    """SafeLoader that turns `!Ref X`, `!GetAtt A.B`, `!Sub ...` into their long JSON forms."""


def _construct(loader: Any, tag_suffix: str, node: yaml.Node) -> Any:
    name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def parse_template(text: str) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_CfnLoader)  # SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(
            "cannot parse the template", str(exc).splitlines()[0], "fix the YAML"
        ) from None
    if not isinstance(document, dict) or "Resources" not in document:
        raise ConfigError("not a CloudFormation template", "no Resources section", "check the file")
    return document


def template_path(root: Path, settings: dict[str, Any], override: str | None = None) -> Path:
    path = Path(override or settings.get("template", DEFAULT_TEMPLATE))
    if not path.is_absolute():
        path = root / path
    if not path.is_file():
        raise NotFoundError(
            f"template {path} not found",
            "opskit deploys cloudformation/gateway.yaml under the project root",
            "run from the project (where opskit.toml is) or pass --template",
        )
    return path


def build_parameters(
    template: dict[str, Any],
    configured: dict[str, str],
    overrides: dict[str, str],
    computed: dict[str, str],
    previous: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """CloudFormation Parameters for the keys the template declares, plus ignored config keys.

    Precedence: computed (artifact, environment) < opskit.toml < --parameter.
    On an update (`previous` is the deployed stack's parameters) a declared parameter
    given nowhere keeps its deployed value (`UsePreviousValue`), as SAM and rain do:
    otherwise CloudFormation would silently fall back to the template's default.
    A --parameter the template does not declare is an error; an opskit.toml one is reported.
    """
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ConfigError(
            f"unknown parameter {', '.join(unknown)}",
            "the template does not declare it",
            f"declared: {', '.join(sorted(declared)) or 'none'}",
        )
    merged = {**computed, **configured, **overrides}
    ignored = sorted(k for k in configured if k not in declared)
    params: list[dict[str, Any]] = []
    for key in sorted(declared):
        if key in merged:
            params.append({"ParameterKey": key, "ParameterValue": str(merged[key])})
        elif previous is not None and key in previous:
            params.append({"ParameterKey": key, "UsePreviousValue": True})
    return params, ignored


def check_parameter_values(
    template: dict[str, Any], sent: dict[str, str], from_command_line: set[str]
) -> None:
    """Each value against its declaration's constraints, as CloudFormation checks them at
    CreateChangeSet (Type Number, AllowedValues, AllowedPattern matching the whole value,
    Min/MaxLength for strings, Min/MaxValue for numbers): refused here, before any upload,
    with the declaration's ConstraintDescription. A -p value is a usage error (exit 2), an
    opskit.toml one a configuration error (exit 3)."""
    declared = template.get("Parameters") or {}
    for key, value in sent.items():
        problem = _constraint_problem(declared.get(key) or {}, value)
        if problem is None:
            continue
        where = "-p" if key in from_command_line else "opskit.toml parameters"
        error = UsageError if key in from_command_line else ConfigError
        raise error(
            f"parameter {key}={value!r} ({where})",
            problem,
            "fix the value; the template's Parameters section declares what it accepts",
        )


def _constraint_problem(spec: dict[str, Any], value: str) -> str | None:
    kind = str(spec.get("Type", "String"))
    described = spec.get("ConstraintDescription")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number (Type: Number)"
        if not math.isfinite(number):
            return "must be a finite number (Type: Number)"
        allowed = spec.get("AllowedValues")
        if allowed is not None and all(_number(a) != number for a in allowed):
            return described or f"must be one of {', '.join(str(a) for a in allowed)}"
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if low is not None and number < float(low) or high is not None and number > float(high):
            return (
                described
                or f"must be from {low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
            )
        return None
    if kind != "String":
        return None  # lists and AWS-specific types: CloudFormation's own checks
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return described or f"must be one of {', '.join(str(a) for a in allowed)}"
    low, high = spec.get("MinLength"), spec.get("MaxLength")
    if low is not None and len(value) < int(low) or high is not None and len(value) > int(high):
        return (
            described or f"must be {low or 0} to {high if high is not None else 'any'} characters"
        )
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        try:
            matched = re.fullmatch(str(pattern), value) is not None
        except re.error:  # a Java-only construct: leave it to CloudFormation
            return None
        if not matched:
            return described or f"must match pattern {pattern}"
    return None


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def effective_values(
    params: list[dict[str, Any]], previous: dict[str, str] | None
) -> dict[str, str]:
    """What each sent parameter will be once applied (previous values resolved)."""
    values = {}
    for param in params:
        if param.get("UsePreviousValue"):
            values[param["ParameterKey"]] = (previous or {}).get(param["ParameterKey"], "")
        else:
            values[param["ParameterKey"]] = str(param["ParameterValue"])
    return values


def to_json(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, sort_keys=False, default=str)
