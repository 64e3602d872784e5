"""Local-only template transform: what the emulator (moto) cannot run is dropped, and said so.

The production template is never changed. moto's CloudFormation ignores
AWS::ApiGatewayV2::*, AWS::CloudWatch::Alarm and AWS::Budgets::Budget, and a Ref or
GetAtt of them in Outputs makes create_stack fail with HTTP 500. So for `--env local`:

- those resources are dropped, and so is anything that references them (transitively);
- Outputs that reference them are substituted (`ApiUrl` -> the local gateway URL,
  `ApiId` -> "local") or dropped;
- on updates, DynamoDB tables and log groups whose definition changed keep their
  deployed definition, because moto drops such resources from the stack instead
  of updating them;
- `DeletionPolicy: RetainExceptOnCreate` becomes `Retain` (moto deletes such
  resources with the stack, which AWS does not), except on log groups, which
  become `Delete`: moto cannot re-adopt a retained log group (its IMPORT creates
  the resource again and fails on the name), so local logs go with the stack.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

UNSUPPORTED_PREFIXES = ("AWS::ApiGatewayV2::", "AWS::CloudWatch::Alarm", "AWS::Budgets::Budget")
NOT_UPDATABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Logs::LogGroup")
LOCAL_API_ID = "local"
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


@dataclass
class LocalTemplate:
    template: dict[str, Any]
    dropped: dict[str, str] = field(default_factory=dict)  # logical id -> why
    substituted: dict[str, str] = field(default_factory=dict)  # output -> local value
    kept: list[str] = field(default_factory=list)  # resources kept as deployed
    policies: dict[str, str] = field(default_factory=dict)  # logical id -> local DeletionPolicy

    def notes(self) -> list[str]:
        """A few lines saying what the local stack lacks compared with the real one."""
        unsupported = [n for n, why in self.dropped.items() if why.endswith("emulator")]
        dependent = [
            n for n in self.dropped if n not in unsupported and not n.startswith("Outputs.")
        ]
        outputs = [n.split(".", 1)[1] for n in self.dropped if n.startswith("Outputs.")]
        lines = []
        if unsupported:
            lines.append(f"not provided by the emulator, dropped: {', '.join(unsupported)}")
        if dependent:
            lines.append(f"dropped because they reference those: {', '.join(dependent)}")
        if outputs:
            lines.append(f"outputs dropped: {', '.join(outputs)}")
        lines += [
            f"output {name} = {value} (local substitute)"
            for name, value in self.substituted.items()
        ]
        lines += [
            f"{name}: DeletionPolicy {policy} locally (the emulator's retention differs from AWS)"
            for name, policy in self.policies.items()
        ]
        lines += [
            f"kept {name} as deployed: the emulator cannot update it in place "
            "(destroy and deploy again to recreate it)"
            for name in self.kept
        ]
        return lines


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub, DependsOn excluded)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                variables = value[1] if isinstance(value, list) and len(value) > 1 else {}
                if isinstance(text, str):  # ${Name} minus the Sub's own variables
                    found.update(set(_SUB_REF.findall(text)) - set(variables or {}))
                found.update(references(variables))
            else:
                found.update(references(value))
    elif isinstance(node, list):
        for item in node:
            found.update(references(item))
    return found


def to_local(
    template: dict[str, Any],
    gateway_url: str | None,
    deployed: dict[str, Any] | None = None,
) -> LocalTemplate:
    result = LocalTemplate(copy.deepcopy(template))
    resources: dict[str, Any] = result.template.get("Resources", {})
    for name, resource in list(resources.items()):
        rtype = str(resource.get("Type", ""))
        if rtype.startswith(UNSUPPORTED_PREFIXES):
            result.dropped[name] = f"{rtype} is not provided by the local emulator"
    changed = True
    while changed:  # drop whatever depends on a dropped resource
        changed = False
        for name, resource in list(resources.items()):
            if name in result.dropped:
                continue
            hit = references({k: v for k, v in resource.items() if k != "DependsOn"}) & set(
                result.dropped
            )
            if hit:
                result.dropped[name] = f"references {', '.join(sorted(hit))}"
                changed = True
    for name in result.dropped:
        resources.pop(name, None)
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str) and depends in result.dropped:
            resource.pop("DependsOn")
        elif isinstance(depends, list):
            kept = [d for d in depends if d not in result.dropped]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
    outputs: dict[str, Any] = result.template.get("Outputs") or {}
    for key, output in list(outputs.items()):
        if not references(output) & set(result.dropped):
            continue
        local_value = {"ApiUrl": gateway_url, "ApiId": LOCAL_API_ID}.get(key)
        if local_value:
            outputs[key] = {"Description": "local substitute", "Value": local_value}
            result.substituted[key] = local_value
        else:
            outputs.pop(key)
            result.dropped[f"Outputs.{key}"] = "references a dropped resource"
    _local_deletion_policies(result)
    if deployed:
        _keep_not_updatable(result, deployed)
    return result


def _local_deletion_policies(result: LocalTemplate) -> None:
    for name, resource in (result.template.get("Resources") or {}).items():
        if resource.get("DeletionPolicy") != "RetainExceptOnCreate":
            continue
        policy = "Delete" if resource.get("Type") == "AWS::Logs::LogGroup" else "Retain"
        resource["DeletionPolicy"] = policy
        result.policies[name] = policy


def _keep_not_updatable(result: LocalTemplate, deployed: dict[str, Any]) -> None:
    old = deployed.get("Resources") or {}
    new = result.template.get("Resources") or {}
    for name, resource in new.items():
        if resource.get("Type") in NOT_UPDATABLE_TYPES and name in old and old[name] != resource:
            new[name] = copy.deepcopy(old[name])
            result.kept.append(name)
