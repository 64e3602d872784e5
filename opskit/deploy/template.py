"""Read the CloudFormation template (YAML short-form tags included) and build parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from opskit.errors import ConfigError, NotFoundError

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
