"""What a deploy changes, for people: parameter diff and property-level diff, secrets masked.

The parameter diff compares the deployed stack's parameters with what this deploy
sends (previous values resolved). The property diff reads the change set's
`Details` as returned by DescribeChangeSet with `IncludePropertyValues`
(BeforeValue/AfterValue per property path), like `rain deploy` shows them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MASK = "****"
# Values that name where a secret lives are masked too: the ARN says which secret to steal.
_SECRET_VALUE = re.compile(r"arn:aws[a-z-]*:(secretsmanager|ssm|kms):", re.IGNORECASE)
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|private.?key|api.?key)", re.IGNORECASE)
MAX_VALUE = 80


@dataclass(frozen=True)
class ParameterChange:
    key: str
    before: str | None  # None: not set before (new stack, or a new parameter)
    after: str
    secret: bool

    def render(self) -> str:
        before = "(unset)" if self.before is None else _show(self.before, self.secret)
        after = _show(self.after, self.secret)
        if self.secret:
            return f"{self.key}  {before} → {after}  (secret: value masked, changed)"
        return f"{self.key}  {before} → {after}"


def is_secret(key: str, declaration: dict[str, Any] | None, *values: str | None) -> bool:
    """NoEcho parameters, secret-sounding names and ARNs of secrets are never printed."""
    if declaration and str(declaration.get("NoEcho", "")).lower() == "true":
        return True
    if _SECRET_NAME.search(key):
        return True
    return any(v and _SECRET_VALUE.search(v) for v in values)


def _show(value: str, secret: bool) -> str:
    if value == "":
        return '""'  # says "not set" and reveals nothing
    if secret:
        return MASK
    return value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + "…"


def parameter_changes(
    template: dict[str, Any], previous: dict[str, str] | None, values: dict[str, str]
) -> list[ParameterChange]:
    """Parameters whose value changes (all of them on a create), sorted by key."""
    declared = template.get("Parameters") or {}
    changes = []
    for key in sorted(values):
        before = None if previous is None else previous.get(key)
        after = values[key]
        if before == after:
            continue
        if before == MASK:  # NoEcho: CloudFormation never tells us the old value
            continue
        secret = is_secret(key, declared.get(key), before, after)
        changes.append(ParameterChange(key, before, after, secret))
    return changes


@dataclass(frozen=True)
class PropertyChange:
    logical_id: str
    path: str
    before: str | None
    after: str | None
    recreation: str  # Never | Conditionally | Always
    cause: str  # the parameter or resource that causes it, if any

    def render(self) -> str:
        arrow = f"{_value(self.before)} → {_value(self.after)}"
        extra = (
            f"  (replacement: {self.recreation})"
            if self.recreation in {"Always", "Conditionally"}
            else ""
        )
        return f"{self.logical_id} {self.path}: {arrow}{extra}"


def _value(value: str | None) -> str:
    if value is None:
        return "(none)"
    return _show(value, False)


def property_changes(
    changes: Sequence[Mapping[str, Any]], secret_parameters: set[str]
) -> list[PropertyChange]:
    """One row per changed property path of each modified resource."""
    rows = []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        for detail in rc.get("Details") or []:
            target = detail.get("Target") or {}
            if target.get("Attribute") not in {"Properties", None}:
                continue
            path = target.get("Path") or f"/Properties/{target.get('Name', '?')}"
            before, after = target.get("BeforeValue"), target.get("AfterValue")
            cause = str(detail.get("CausingEntity") or "")
            if cause.split(".", 1)[0] in secret_parameters or any(
                v and _SECRET_VALUE.search(str(v)) for v in (before, after)
            ):
                before = MASK if before is not None else None
                after = MASK if after is not None else None
            row = PropertyChange(
                rc.get("LogicalResourceId", ""),
                path,
                None if before is None else str(before),
                None if after is None else str(after),
                str(target.get("RequiresRecreation", "")),
                cause,
            )
            if row not in rows:  # one property can be listed once per cause
                rows.append(row)
    return rows
