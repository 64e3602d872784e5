"""The CLI's foundation: environments, errors and exit codes, the client factory."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from opskit.cli import COMMANDS, cli
from opskit.config import load_environment
from opskit.errors import EXIT_CONFIG, ConfigError


def test_environment_merges_defaults_with_overrides(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text(
        '[defaults]\nregion = "eu-west-1"\n[defaults.parameters]\nMemorySize = "512"\nTimeout = "30"\n'
        '[env.prod]\nstack_name = "gw-prod"\nprofile = "p"\n[env.prod.parameters]\nMemorySize = "1024"\n'
    )
    env = load_environment("prod", config)
    assert env.stack_name == "gw-prod"
    assert env.region == "eu-west-1"
    assert env.profile == "p"
    assert env.parameters == {"MemorySize": "1024", "Timeout": "30"}
    assert env.function_log_group == "/aws/lambda/gw-prod-gateway"
    assert env.tags == {"Project": "opskit", "Environment": "prod"}
    assert load_environment("prod", config, region="us-west-2").region == "us-west-2"


def test_unknown_environment_names_the_known_ones(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text('[env.dev]\nstack_name = "a"\n[env.prod]\nstack_name = "b"\n')
    with pytest.raises(ConfigError) as info:
        load_environment("qa", config)
    assert "unknown environment 'qa'" in str(info.value)
    assert "dev, prod" in str(info.value)


def test_cli_prints_one_line_and_documented_exit_code(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text("[env.dev]\nstack_name = 'a'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "opskit", "--env", "nope", "status"],
        capture_output=True,
        text=True,
        env={"OPSKIT_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == EXIT_CONFIG
    assert proc.stderr.startswith("Error: unknown environment 'nope'")
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_every_command_without_importing_them():
    before = set(sys.modules)
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output
    assert not {m for m in set(sys.modules) - before if m.startswith("opskit.commands.")}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_target_is_a_click_command(name):
    command = cli.get_command(None, name)
    assert isinstance(command, click.Command)
    assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_client_factory_talks_to_moto_over_http(clients):
    s3 = clients.client("s3")
    s3.create_bucket(Bucket="probe-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["probe-bucket"]
    assert clients.client("ce").meta.region_name == "us-east-1"
