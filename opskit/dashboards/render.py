"""Fill a dashboard template (dashboards/*.json) from the stack, validate it, push it.

Placeholders, filled inside JSON strings (never by text substitution of the file):
- `${Name}`: a stack output or config value (see opskit.alarms.context);
- `"${AlarmArns}"` as an element of a list: expands into the ARNs of the stack's managed alarms;
- `${Query:NAME}` or `${Query:NAME?param=value&...}`: the query `queries/NAME.insights`
  (one source of truth with `opskit insights`), as `SOURCE '<its log group>' | <query>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import botocore.exceptions

from opskit.alarms.context import gateway_namespace, stack_context
from opskit.alarms.plan import is_owned
from opskit.alarms.service import existing_alarms
from opskit.alarms.spec import fill, read_alarm_file
from opskit.aws import aws_error, error_code
from opskit.config import Environment
from opskit.errors import CheckFailed, ConfigError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient

ALARM_ARNS = "${AlarmArns}"
_QUERY = re.compile(r"^\$\{Query:([A-Za-z0-9_.-]+)(?:\?([^}]*))?\}$")


def default_template(root: Path) -> Path:
    """dashboards/gateway.json of the project at `root`, else the one shipped with this checkout."""
    candidate = root / "dashboards" / "gateway.json"
    if candidate.is_file():
        return candidate
    return Path(__file__).resolve().parents[2] / "dashboards" / "gateway.json"


def dashboard_name(env: Environment) -> str:
    return f"{env.stack_name}-gateway"


def console_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def load_template(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            f"dashboard template {path} not found", "no such file", "pass --template PATH"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cannot read {path}", f"invalid JSON: {exc}", "fix the file") from None


@dataclass
class Rendered:
    body: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        return json.dumps(self.body, indent=2) + "\n"


def fill_template(
    template: dict[str, Any],
    context: dict[str, str],
    *,
    alarm_arns: list[str],
    queries: dict[str, Any],
) -> Rendered:
    """Pure: substitute everything; what cannot be resolved is reported (and left in place)."""
    problems: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, str):
            match = _QUERY.match(node)
            if match:
                return _query(match.group(1), match.group(2) or "", path)
            missing: set[str] = set()
            value = fill(node, context, missing)
            return value
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            out: list[Any] = []
            for index, item in enumerate(node):
                if item == ALARM_ARNS:
                    if not alarm_arns:
                        problems.append(
                            f"{path}: no managed alarms exist yet for the alarm widget (run `opskit alarms apply`)"
                        )
                        out.append(item)
                    else:
                        out.extend(alarm_arns[:100])
                else:
                    out.append(walk(item, f"{path}[{index}]"))
            return out
        return node

    def _query(name: str, raw_params: str, path: str) -> str:
        query = queries.get(name)
        if query is None:
            problems.append(
                f"{path}: no query named '{name}' (have: {', '.join(sorted(queries)) or 'none'})"
            )
            return f"${{Query:{name}}}"
        try:
            text = query.render(dict(parse_qsl(raw_params)))
        except ConfigError as exc:
            problems.append(f"{path}: {exc.format_line()}")
            return f"${{Query:{name}}}"
        group_key = "AccessLogGroupName" if query.log_group == "access" else "FunctionLogGroupName"
        group = context.get(group_key, f"${{{group_key}}}")
        return f"SOURCE '{group}' | {text.strip()}"

    body = walk(template, "$")
    return Rendered(body=body, problems=problems)


def custom_metrics_for(stack: str, alarm_file: Path | None = None) -> dict[str, set[str]]:
    """The metric names our log metric filters publish (so dashboards may use them)."""
    document, _ = read_alarm_file(alarm_file)
    names = {str(f.get("metric")) for f in document.get("metric_filter") or []}
    return {gateway_namespace(stack): names}


def managed_alarm_arns(cw: CloudWatchClient, stack: str) -> list[str]:
    return sorted(a["AlarmArn"] for a in existing_alarms(cw, f"{stack}-") if is_owned(a, stack))


def render_dashboard(
    cfn: CloudFormationClient,
    cw: CloudWatchClient,
    env: Environment,
    template: Path,
    queries_dir: Path | None,
) -> Rendered:
    from opskit.dashboards.validate import validate_body
    from opskit.insights.library import load_library

    context = stack_context(cfn, env)
    arns = managed_alarm_arns(cw, env.stack_name)
    rendered = fill_template(
        load_template(template), context, alarm_arns=arns, queries=load_library(queries_dir)
    )
    rendered.problems += [
        p
        for p in validate_body(rendered.body, custom_metrics_for(env.stack_name))
        if ALARM_ARNS not in p  # already reported, with its fix, by fill_template
    ]
    return rendered


def require_valid(rendered: Rendered, template: Path) -> None:
    if rendered.problems:
        first = rendered.problems[0]
        more = f" (+{len(rendered.problems) - 1} more)" if len(rendered.problems) > 1 else ""
        raise CheckFailed(
            f"dashboard {template} is invalid",
            f"{first}{more}",
            "fix the template (see `opskit dashboards render`)",
        )


def push_dashboard(cw: CloudWatchClient, name: str, body: dict[str, Any]) -> tuple[bool, list[str]]:
    """put_dashboard unless CloudWatch already has this exact body. Returns (changed, messages)."""
    try:
        current = cw.get_dashboard(DashboardName=name).get("DashboardBody")
        if current is not None and json.loads(current) == body:
            return False, []
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in {
            "ResourceNotFound",
            "ResourceNotFoundException",
            "DashboardNotFoundError",
        }:
            raise aws_error(f"cannot read dashboard {name}", exc) from None
    try:
        response = cw.put_dashboard(
            DashboardName=name, DashboardBody=json.dumps(body, separators=(",", ":"))
        )
    except botocore.exceptions.ClientError as exc:
        raise aws_error(
            f"cannot put dashboard {name}", exc, "check the body with `opskit dashboards render`"
        ) from None
    messages = [
        f"{m.get('DataPath', '')}: {m.get('Message', '')}"
        for m in response.get("DashboardValidationMessages", [])
    ]
    return True, messages
