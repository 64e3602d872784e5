"""`opskit init`: the answers a first deploy needs, each validated, written to opskit.toml.

Never writes a secret: a new JWT key goes into Secrets Manager and only its ARN is written.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opskit import values
from opskit.commands.params import CheckedValue
from opskit.config import CONFIG_NAME, FIELDS

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

UPSTREAMS = {
    "users": "UpstreamUsersUrl",
    "products": "UpstreamProductsUrl",
    "orders": "UpstreamOrdersUrl",
}
JWT_CHOICES = ("create", "arn", "jwks", "later")


@dataclass
class Answers:
    env_name: str
    region: str
    stack_name: str
    profile: str | None = None
    local: bool = False
    jwt: str = "later"  # one of JWT_CHOICES
    jwt_value: str = ""  # the ARN or the JWKS URL
    upstreams: dict[str, str] = field(default_factory=dict)
    budget_usd: float | None = None
    email: str | None = None

    def parameters(self) -> dict[str, str]:
        params = {UPSTREAMS[name]: url for name, url in self.upstreams.items() if url}
        if self.jwt in ("create", "arn") and self.jwt_value:
            params["JwtSecretArn"] = self.jwt_value
        elif self.jwt == "jwks":
            params["JwksUrl"] = self.jwt_value
        return params


stack_name_rule = FIELDS["stack_name"]

# The answers' types: the rules opskit.toml and the other commands use (opskit.values).
ENV_NAME_TYPE = CheckedValue("environment name", values.environment_name, "dev, staging, prod")
STACK_NAME_TYPE = CheckedValue("stack name", stack_name_rule, "opskit-dev")
SECRET_ARN_TYPE = CheckedValue(
    "Secrets Manager ARN",
    values.secret_arn,
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:opskit/dev/jwt-AbCdEf",
)


class UpstreamUrl(click.ParamType):
    """An http(s) base URL that answers (any HTTP status counts: it is listening)."""

    name = "URL"

    def __init__(self, check: bool = True, https_only: bool = False):
        self.check, self.https_only = check, https_only

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().rstrip("/")
        schemes = ("https://",) if self.https_only else ("http://", "https://")
        if not text.startswith(schemes) or len(text) <= len("https://"):
            self.fail(f"{text!r} is not an {' or '.join(s[:-3] for s in schemes)} URL", param, ctx)
        problem = url_problem(text) if self.check else None
        if problem:
            self.fail(f"{text} does not answer: {problem}", param, ctx)
        return text


def url_problem(url: str, timeout: float = 3.0) -> str | None:
    """None when something answers HTTP at `url`; otherwise why not, in a few words."""
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "opskit-init"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # 4xx/5xx: a server answered
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def available_profiles() -> list[str]:
    """The profiles in ~/.aws/config and ~/.aws/credentials (no network, no credentials read)."""
    import botocore.session

    try:
        return sorted(botocore.session.Session().available_profiles)
    except Exception:  # an unreadable config file: offer none rather than fail
        return []


def create_jwt_secret(secretsmanager: SecretsManagerClient, name: str, tags: dict[str, str]) -> str:
    """A new random HS256 key in Secrets Manager; returns its ARN (the key is never printed)."""
    response = secretsmanager.create_secret(
        Name=name,
        Description="opskit gateway: HS256 JWT signing key",
        SecretString=secrets.token_urlsafe(48),
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(response["ARN"])


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def env_tables(answers: Answers) -> str:
    """The [env.NAME] tables for opskit.toml (no secret in them)."""
    name = answers.env_name
    lines = [f"[env.{name}]", f"stack_name = {toml_string(answers.stack_name)}"]
    lines.append(f"region = {toml_string(answers.region)}")
    if answers.profile:
        lines.append(f"profile = {toml_string(answers.profile)}")
    if answers.local:
        lines.append("local = true")
    parameters = answers.parameters()
    if parameters:
        lines += ["", f"[env.{name}.parameters]"]
        lines += [f"{key} = {toml_string(value)}" for key, value in sorted(parameters.items())]
    if answers.budget_usd is not None or answers.email:
        lines += ["", f"[env.{name}.budget]"]
        if answers.budget_usd is not None:
            lines.append(f"amount = {answers.budget_usd:g}")
        if answers.email:
            lines.append(f"email = {toml_string(answers.email)}")
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*(#.*)?$")


def write_env(path: Path, answers: Answers) -> bool:
    """Write the environment's tables into `path` (replacing its old ones). True if replaced."""
    text = path.read_text() if path.is_file() else _NEW_FILE
    kept: list[str] = []
    replaced, skipping = False, False
    prefix = f"env.{answers.env_name}"
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            key = header.group(1).replace('"', "")
            skipping = key == prefix or key.startswith(prefix + ".")
            replaced = replaced or skipping
        if not skipping:
            kept.append(line)
    body = "\n".join(kept).rstrip() + "\n\n" + env_tables(answers)
    import tomllib

    tomllib.loads(body)  # never write a file opskit cannot read back
    path.write_text(body)
    return replaced


_NEW_FILE = f"""# opskit environments ({CONFIG_NAME}). Shared defaults in [defaults]; each [env.NAME] overrides them.
# `opskit --env NAME ...` picks one. Written by `opskit init`; secrets never go here.

[defaults]
project = "opskit"
"""


def next_commands(answers: Answers, config: str | None = None) -> list[str]:
    """What to run next; `config` is a --config the later commands need too."""
    opskit = f"opskit --config {shlex.quote(config)}" if config else "opskit"
    env = f"{opskit} --env {answers.env_name}"
    steps = []
    if answers.local:
        steps.append(f"{env} local up")
    steps.append(f"{env} deploy")
    if answers.email:
        steps.append(f"{env} alarms apply --email {answers.email}")
    if answers.budget_usd is not None and answers.email:
        steps.append(f"{env} budget setup --amount {answers.budget_usd:g} --email {answers.email}")
    return steps
