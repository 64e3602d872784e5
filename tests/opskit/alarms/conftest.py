"""An `env` for the local stack (with an explicit account concurrency limit)."""

from __future__ import annotations

import pytest

from opskit.config import load_environment
from tests.opskit.alarms.fake_stack import STACK


@pytest.fixture
def env(tmp_path):
    config = tmp_path / "opskit.toml"
    config.write_text(
        '[defaults]\nregion = "us-east-1"\n[defaults.parameters]\nTimeout = "30"\n'
        f'[env.local]\nstack_name = "{STACK}"\nlocal = true\n'
        "[env.local.alarms]\naccount_concurrency_limit = 1000\n"
    )
    return load_environment("local", config)
