"""`opskit init`: a guided first run (like `sam deploy --guided`), or the same from flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from opskit import envvars, onboarding
from opskit.app import App
from opskit.commands.options import REGION_TYPE
from opskit.commands.params import EMAIL, CheckedValue
from opskit.config import CONFIG_NAME, Environment
from opskit.errors import Aborted, AwsError, UsageError
from opskit.onboarding import (
    ENV_NAME_TYPE,
    JWT_CHOICES,
    SECRET_ARN_TYPE,
    STACK_NAME_TYPE,
    UPSTREAMS,
    Answers,
    UpstreamUrl,
)
from opskit.terminal import Terminal
from opskit.values import amount_text

BUDGET = CheckedValue("USD", amount_text, "--budget 20")


class UpstreamOption(click.ParamType):
    """`users=https://users.internal` (NAME is users, products or orders)."""

    name = "NAME=URL"

    def __init__(self) -> None:
        self.url = UpstreamUrl(check=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        name, sep, url = str(value).partition("=")
        if not sep or name not in UPSTREAMS:
            self.fail(
                f"{value!r}: expected NAME=URL with NAME one of {', '.join(UPSTREAMS)}", param, ctx
            )
        return name, self.url.convert(url, param, ctx)


@click.command()
@click.option("--stack-name", type=STACK_NAME_TYPE, help="CloudFormation stack name.")
@click.option(
    "--jwt",
    "jwt",
    type=click.Choice(JWT_CHOICES),
    help="JWT key: create a Secrets Manager secret, use an existing secret ARN, a JWKS URL, or later.",
)
@click.option("--jwt-secret-arn", type=SECRET_ARN_TYPE, help="Existing secret (with --jwt arn).")
@click.option("--jwks-url", type=UpstreamUrl(check=False, https_only=True), help="With --jwt jwks.")
@click.option(
    "--upstream", "upstreams", type=UpstreamOption(), multiple=True, help="NAME=URL (repeatable)."
)
@click.option("--budget", "budget_usd", type=BUDGET, help="Monthly budget, USD.")
@click.option("--email", type=EMAIL, help="Where alarms and budget alerts go.")
@click.option("--no-input", is_flag=True, help="Ask nothing: flags and defaults only.")
@click.option("--no-check", is_flag=True, help="Do not check that upstream URLs answer.")
@click.pass_obj
def init(
    app: App,
    stack_name: str | None,
    jwt: str | None,
    jwt_secret_arn: str | None,
    jwks_url: str | None,
    upstreams: tuple[tuple[str, str], ...],
    budget_usd: float | None,
    email: str | None,
    no_input: bool,
    no_check: bool,
) -> None:
    """Write an environment into opskit.toml, asking for what a first deploy needs.

    Asks for the environment, region, AWS profile (from your AWS config), stack name, how the
    JWT key is provided (it can create the Secrets Manager secret), upstream URLs (checked to
    answer), a budget and an alert email; validates each answer, writes opskit.toml (never a
    secret) and prints the next command. Global --env, --region, --profile and --config are
    taken as answers; with --no-input nothing is asked.
    """
    ask = _Asker(app.terminal, interactive=not no_input)
    settings = app.settings
    env_name = ask.value(
        "Environment name", ENV_NAME_TYPE, settings.env_name, "env_name" in settings.explicit
    )
    local = env_name == "local"
    region = ask.value(
        "AWS region",
        REGION_TYPE,
        settings.region or _default_region(),
        settings.region is not None and "region" in settings.explicit,
    )
    profile = settings.profile if local else _ask_profile(ask, settings.profile)
    stack = ask.value(
        "Stack name", STACK_NAME_TYPE, stack_name or f"opskit-{env_name}", stack_name is not None
    )
    answers = Answers(env_name, region, stack, profile=profile, local=local)
    _ask_jwt(ask, answers, jwt, jwt_secret_arn, jwks_url)
    given = dict(upstreams)
    checker = UpstreamUrl(check=not no_check)
    for name in UPSTREAMS:
        if name in given:
            answers.upstreams[name] = checker.convert(given[name], None, None)
        elif ask.interactive:
            url = ask.optional(f"Base URL of the {name} service (blank: none)", checker)
            if url:
                answers.upstreams[name] = url
    answers.budget_usd = budget_usd
    if budget_usd is None and ask.interactive:
        answers.budget_usd = ask.optional("Monthly budget in USD (blank: none)", BUDGET)
    answers.email = email
    if email is None and ask.interactive:
        answers.email = ask.optional("Alert email for alarms and budget (blank: none)", EMAIL)

    path = _config_path(app)
    draft = Environment(env_name, stack, region, profile=profile, local=local, root=path.parent)
    if answers.jwt == "create":
        answers.jwt_value = _create_secret(app, draft)
    if _defines(path, env_name) and not app.confirm(f"Replace [env.{env_name}] in {path}?"):
        raise Aborted(
            f"[env.{env_name}] already exists in {path}",
            "not replaced",
            "rerun with --yes to replace it, or pick another --env",
        )
    replaced = onboarding.write_env(path, answers)
    steps = onboarding.next_commands(answers, app.settings.config)  # a --config, not found
    terminal = app.terminal
    if terminal.machine_readable:
        terminal.document(
            {
                "config": str(path),
                "env": env_name,
                "replaced": replaced,
                "stack_name": stack,
                "region": region,
                "profile": profile,
                "parameters": answers.parameters(),
                "next": steps,
            }
        )
        return
    terminal.out(f"{'Updated' if replaced else 'Wrote'} [env.{env_name}] in {path}.")
    terminal.out("Next:")
    for step in steps:
        terminal.out(f"  {step}")


class _Asker:
    def __init__(self, terminal: Terminal, interactive: bool):
        self.terminal, self.interactive = terminal, interactive

    def value(self, question: str, kind: click.ParamType, default: str, given: bool) -> str:
        if given or not self.interactive:
            return str(kind.convert(default, None, None))
        return str(self.terminal.prompt(question, kind, default))

    def choose(self, question: str, choices: list[str], default: str) -> str:
        kind = click.Choice(choices)
        return str(self.terminal.prompt(question, kind, default, show_choices=False))

    def optional(self, question: str, kind: click.ParamType) -> Any:
        """Blank means none; anything else must be valid (asked again until it is)."""
        while True:
            answer = str(self.terminal.prompt(question, None, "", show_default=False)).strip()
            if not answer:
                return None
            try:
                return kind.convert(answer, None, None)
            except click.BadParameter as exc:
                self.terminal.err(f"Error: {exc.format_message()}")


def _ask_profile(ask: _Asker, given: str | None) -> str | None:
    if given:
        return _known_profile(given)
    if not ask.interactive:
        return None
    profiles = onboarding.available_profiles()
    if not profiles:
        click.echo(
            "No AWS profiles found in ~/.aws/config: the SDK's default chain is used.", err=True
        )
        return None
    for number, name in enumerate(profiles, start=1):
        click.echo(f"  {number}. {name}", err=True)
    choices = [*profiles, *(str(n) for n in range(1, len(profiles) + 1)), "default-chain"]
    answer = click.prompt(
        "AWS profile (name or number; default-chain: none)",
        type=click.Choice(choices),
        default="default-chain",
        show_choices=False,
        err=True,
    )
    if answer == "default-chain":
        return None
    return profiles[int(answer) - 1] if answer.isdigit() else str(answer)


def _known_profile(name: str) -> str:
    """--profile must name a profile the SDK knows, or the first deploy fails much later."""
    profiles = onboarding.available_profiles()
    if name not in profiles:
        raise UsageError(
            f"unknown AWS profile '{name}'",
            f"your AWS config defines: {', '.join(profiles)}"
            if profiles
            else "no profiles in ~/.aws/config or ~/.aws/credentials",
            "pick one of those, or add it with `aws configure --profile NAME`",
        )
    return name


def _ask_jwt(
    ask: _Asker, answers: Answers, jwt: str | None, arn: str | None, jwks: str | None
) -> None:
    if jwt is None:
        jwt = "arn" if arn else "jwks" if jwks else None
    if jwt is None and answers.local:
        jwt = "create"  # the local account's own Secrets Manager: nothing to leak
    if jwt is None and ask.interactive:
        jwt = ask.choose(
            "JWT key: create a Secrets Manager secret, an existing secret's arn, a jwks URL, or later"
            f" ({'/'.join(JWT_CHOICES)})",
            list(JWT_CHOICES),
            "create",
        )
    answers.jwt = jwt or "later"
    if answers.jwt == "arn":
        answers.jwt_value = arn or ask.value("Secret ARN", SECRET_ARN_TYPE, "", not ask.interactive)
    elif answers.jwt == "jwks":
        kind = UpstreamUrl(check=False, https_only=True)
        answers.jwt_value = jwks or ask.value("JWKS URL", kind, "", not ask.interactive)


def _create_secret(app: App, draft: Environment) -> str:
    secretsmanager = app.clients_for(draft).secretsmanager()
    name = f"{draft.project}/{draft.name}/jwt"
    try:
        arn = onboarding.create_jwt_secret(secretsmanager, name, draft.tags)
    except Exception as exc:
        from opskit.aws import aws_error, error_code

        if error_code(exc) == "ResourceExistsException":
            raise AwsError(
                f"secret {name} already exists",
                "opskit init does not overwrite a key tokens may be signed with",
                "pass --jwt arn --jwt-secret-arn ARN (aws secretsmanager describe-secret --secret-id "
                f"{name})",
            ) from None
        raise aws_error(f"creating secret {name}", exc) from None
    app.terminal.info(f"Created secret {name} (its ARN goes into opskit.toml; the key never does).")
    return arn


def _config_path(app: App) -> Path:
    explicit = app.settings.config or os.environ.get(envvars.CONFIG)
    if explicit:
        return Path(explicit)
    from opskit.config import find_config

    return find_config() or Path.cwd() / CONFIG_NAME


def _defines(path: Path, env_name: str) -> bool:
    from opskit.config import load_document

    return path.is_file() and env_name in load_document(path).get("env", {})


def _default_region() -> str:
    return next((os.environ[v] for v in envvars.AWS_REGIONS if os.environ.get(v)), "us-east-1")
