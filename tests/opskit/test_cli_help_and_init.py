"""Every help screen has examples that parse; completion scripts; the guided `opskit init`."""

from __future__ import annotations

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from opskit.cli import COMMANDS, cli
from opskit.errors import EXIT_ABORTED, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]


def all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}")

    found.append(("", cli))  # `opskit --help` too
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        assert command is not None
        walk(command, name)
    return found


def parse(argv: list[str]) -> click.Context:
    """Click's own parsing down to the leaf command, without running anything."""
    ctx = cli.make_context("opskit", list(argv))
    while isinstance(ctx.command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest and ctx.command.invoke_without_command:  # `opskit cost --days 30`
            break
        name, command, rest = ctx.command.resolve_command(ctx, rest)
        assert command is not None and name is not None
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def examples_of(help_text: str) -> list[str]:
    lines = help_text.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.strip() for line in lines if line.strip()]


@pytest.mark.parametrize("path", [p for p, _ in all_commands()])
def test_every_help_has_examples_that_parse_and_a_docs_link(path, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, [*path.split(), "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output, path
    docs = [line.split("Docs: ", 1)[1] for line in result.output.splitlines() if "Docs: " in line]
    assert docs and (ROOT / docs[0].strip()).is_file(), path
    examples = examples_of(result.output)
    assert examples
    for example in examples:
        argv = shlex.split(example.split(" >", 1)[0].split(" |", 1)[0])
        assert argv[0] == "opskit"
        leaf = parse(argv[1:])
        words = path.split()  # a group's examples may be of its subcommands
        assert leaf.command_path.split()[1 : 1 + len(words)] == words, (example, path)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_that_completes(shell, monkeypatch):
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_OPSKIT_COMPLETE" in result.stdout
    # The script asks the program itself; ask the same way it does.
    env = {
        **os.environ,
        "_OPSKIT_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": "opskit insights slow",
        "COMP_CWORD": "slow" if shell == "fish" else "2",  # fish passes the token, not its index
    }
    proc = subprocess.run(
        [sys.executable, "-m", "opskit"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert "slow-requests" in proc.stdout


def test_completion_rejects_an_unknown_shell():
    assert CliRunner().invoke(cli, ["completion", "powershell"]).exit_code == EXIT_USAGE
    missing = CliRunner().invoke(cli, ["completion"])
    assert missing.exit_code == EXIT_USAGE
    assert missing.stderr.splitlines() == [
        "Error: Missing argument '{bash|zsh|fish}'. Choose from: bash, zsh, fish "
        "(see `cli completion --help`)"  # CliRunner names the program after the function
    ]


def test_completion_after_a_command_offers_the_global_options():
    env = {**os.environ, "_OPSKIT_COMPLETE": "bash_complete"}
    env.update(COMP_WORDS="opskit status --", COMP_CWORD="2")
    proc = subprocess.run(
        [sys.executable, "-m", "opskit"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    offered = {line.split(",", 1)[1] for line in proc.stdout.splitlines()}
    assert {"--drift", "--env", "--output", "--yes", "--region"} <= offered


# -- opskit init ----------------------------------------------------------------------------


@pytest.fixture
def upstream():
    """A real local HTTP server that answers (404 for everything still counts as answering)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.delenv("OPSKIT_ENV", raising=False)
    return tmp_path


def test_init_from_flags_writes_a_config_opskit_can_load(workdir, upstream):
    from opskit.config import load_environment

    result = CliRunner().invoke(
        cli,
        ["init", "--env", "staging", "--region", "eu-west-1", "--no-input", "--stack-name", "gw-stg",
         "--jwt", "jwks", "--jwks-url", "https://id.example.com/.well-known/jwks.json",
         "--upstream", f"users={upstream}", "--budget", "25", "--email", "ops@example.com"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "opskit --env staging deploy" in result.stdout
    env = load_environment("staging", workdir / "opskit.toml")
    assert (env.stack_name, env.region, env.local) == ("gw-stg", "eu-west-1", False)
    assert env.parameters == {
        "JwksUrl": "https://id.example.com/.well-known/jwks.json",
        "UpstreamUsersUrl": upstream,
    }
    assert env.settings["budget"] == {"amount": 25, "email": "ops@example.com"}


def test_init_with_config_names_it_in_the_next_commands(workdir):
    """Found in review: after `init --config x.toml` the printed next step could not find x."""
    path = workdir / "elsewhere" / "ops.toml"
    path.parent.mkdir()
    result = CliRunner().invoke(
        cli,
        ["--config", str(path), "init", "--env", "qa", "--no-input", "--stack-name", "gw-qa",
         "--email", "ops@example.com", "-o", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["next"]
    assert steps == [
        f"opskit --config {path} --env qa deploy",
        f"opskit --config {path} --env qa alarms apply --email ops@example.com",
    ]
    parsed = parse(shlex.split(steps[0])[1:])  # the command parses as written
    assert parsed.command_path.endswith("deploy")


def test_init_checks_that_upstreams_answer(workdir):
    result = CliRunner().invoke(
        cli, ["init", "--no-input", "--upstream", "users=http://127.0.0.1:9"]
    )  # port 9 (discard): nothing listens on it here
    assert result.exit_code == EXIT_USAGE
    assert "does not answer" in result.stderr
    assert not (workdir / "opskit.toml").exists()


def test_guided_init_asks_validates_and_creates_the_secret(workdir, upstream, moto, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    answers = "\n".join(
        [
            "Dev",  # not a valid environment name: asked again
            "dev",
            "mars-1",  # not a region
            "eu-west-1",
            "",  # default stack name
            "create",  # a new Secrets Manager secret
            "http://127.0.0.1:9",  # users: does not answer, asked again
            upstream,
            "",  # products: none
            "",  # orders: none
            "nan",  # budget: a finite amount, asked again
            "inf",
            "0",  # budget: must be > 0
            "20",
            "ops@example",  # not an email
            "ops@example.com",
        ]
    )
    result = CliRunner().invoke(cli, ["init"], input=answers + "\n")
    assert result.exit_code == 0, result.output
    text = (workdir / "opskit.toml").read_text()
    document = tomllib.loads(text)
    dev = document["env"]["dev"]
    assert dev["stack_name"] == "opskit-dev" and dev["region"] == "eu-west-1"
    assert dev["budget"] == {"amount": 20, "email": "ops@example.com"}  # nan, inf: asked again
    arn = dev["parameters"]["JwtSecretArn"]
    assert arn.startswith("arn:aws:secretsmanager:eu-west-1:")
    assert dev["parameters"]["UpstreamUsersUrl"] == upstream
    # The key is in Secrets Manager and nowhere in the file.
    import boto3

    sm = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto)
    key = sm.get_secret_value(SecretId=arn)["SecretString"]
    assert len(key) >= 32 and key not in text and key not in result.output
    assert "is not an environment name" in result.stderr
    assert "is not an AWS region" in result.stderr
    assert "does not answer" in result.stderr
    assert "is not an email address" in result.stderr


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "0", "-5", "abc"])
def test_init_budget_must_be_a_finite_positive_amount(workdir, amount):
    result = CliRunner().invoke(
        cli, ["init", "--env", "stg8", "--stack-name", "ok", "--budget", amount, "--no-input"]
    )
    assert result.exit_code == EXIT_USAGE, result.output
    assert "is not an amount in USD" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (workdir / "opskit.toml").exists()


def test_init_profile_must_be_one_the_sdk_knows(workdir, monkeypatch):
    aws_config = workdir / "aws-config"
    aws_config.write_text("[profile dev-admin]\nregion = eu-west-1\n[profile prod]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workdir / "no-credentials"))
    base = ["init", "--no-input", "--stack-name", "ok"]
    unknown = CliRunner().invoke(cli, [*base, "--env", "stg8", "--profile", "nonexistent"])
    assert unknown.exit_code == EXIT_USAGE, unknown.output
    assert unknown.stderr.startswith("Error: unknown AWS profile 'nonexistent': ")
    assert "dev-admin, prod" in unknown.stderr
    assert len(unknown.stderr.splitlines()) == 1
    assert not (workdir / "opskit.toml").exists()
    known = CliRunner().invoke(cli, [*base, "--env", "stg8", "--profile", "dev-admin"])
    assert known.exit_code == 0, known.output
    assert 'profile = "dev-admin"' in (workdir / "opskit.toml").read_text()
    local = CliRunner().invoke(
        cli, [*base, "--env", "local", "--profile", "anything", "--jwt", "later"]
    )
    assert local.exit_code == 0, local.output  # the local account ignores profiles


def test_init_never_replaces_an_environment_without_asking(workdir):
    first = CliRunner().invoke(cli, ["init", "--no-input"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, ["init", "--no-input", "--stack-name", "other"])
    assert again.exit_code == EXIT_ABORTED
    assert "opskit-dev" in (workdir / "opskit.toml").read_text()
    forced = CliRunner().invoke(
        cli, ["init", "--no-input", "--stack-name", "other", "--yes", "-o", "json"]
    )
    assert forced.exit_code == 0
    assert json.loads(forced.stdout)["replaced"] is True
    assert (
        tomllib.loads((workdir / "opskit.toml").read_text())["env"]["dev"]["stack_name"] == "other"
    )


def test_env_completes_from_opskit_toml():
    env = {**os.environ, "_OPSKIT_COMPLETE": "bash_complete", "COMP_CWORD": "3"}
    env["COMP_WORDS"] = "opskit status --env st"
    env.pop("OPSKIT_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "opskit"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert proc.stdout.split() == ["plain,staging"]
