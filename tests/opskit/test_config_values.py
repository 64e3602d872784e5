"""Every opskit.toml key opskit reads is checked when the environment loads (exit 3, one line),
and deploy's options follow the same rules on the command line (exit 2).

Oracles: CloudFormation's documented limits (tag key 1-128, value 0-256, at most 50 tags,
at most 5 notification ARNs), the ARN formats of IAM roles and SNS topics, TOML's own types.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import tomllib
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from opskit import config
from opskit.cli import cli
from opskit.config import load_environment
from opskit.errors import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_USAGE, ConfigError, UsageError
from tests.opskit import test_deploy_flow as flow

package_zip, project = flow.package_zip, flow.project  # the deploy-flow fixtures
ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/opskit-cloudformation"
TOPIC = "arn:aws:sns:us-east-1:123456789012:stack-events"
BASE = '[env.dev]\nstack_name = "opskit-local"\nlocal = true\n'


def load(tmp_path: Path, extra: str):
    path = tmp_path / "c.toml"
    path.write_text(BASE + extra + "\n")
    return load_environment("dev", path)


@pytest.mark.parametrize(
    ("line", "key", "why"),
    [
        ("tags = 3", "tags", "must be a table of tags, it is a number"),
        (
            "tags = { a = [1] }",
            "tags",
            "tag a: must be a string, number or boolean, it is an array",
        ),
        ('tags = { "aws:x" = "1" }', "tags", "the aws: prefix is reserved"),
        (f'tags = {{ {"k" * 129} = "v" }}', "tags", "1 to 128 characters"),
        (f'tags = {{ k = "{"v" * 257}" }}', "tags", "value of 1 to 256 characters"),
        ('tags = { k = "" }', "tags", "value of 1 to 256 characters"),
        ("notification_arns = [3]", "notification_arns", "item 1: must be a string"),
        ('notification_arns = "arn"', "notification_arns", "must be an array of SNS topic ARNs"),
        ('notification_arns = ["arn"]', "notification_arns", "'arn' is not an SNS topic ARN"),
        (
            f"notification_arns = {[TOPIC] * 6!r}".replace("'", '"'),
            "notification_arns",
            "at most 5",
        ),
        ("role_arn = 5", "role_arn", "must be a string, it is a number"),
        ('role_arn = "abc"', "role_arn", "'abc' is not an IAM role ARN"),
        (f'role_arn = "{TOPIC}"', "role_arn", "is not an IAM role ARN"),
        ('function_timeout = "x"', "function_timeout", "must be a whole number, it is a string"),
        ("function_timeout = 0", "function_timeout", "is not from 1 to 900 seconds"),
        ("function_timeout = 901", "function_timeout", "is not from 1 to 900 seconds"),
        ("function_timeout = nan", "function_timeout", "must be a whole number"),
        ('termination_protection = "no"', "termination_protection", "must be true or false"),
        ("termination_protection = 0", "termination_protection", "must be true or false"),
        ('profile = "two words"', "profile", "is not a profile name"),
        ('artifact_bucket = "Not_A_Bucket"', "artifact_bucket", "is not an S3 bucket name"),
        ("template = 3", "template", "must be a string"),
        ('local_gateway_app = "gateway"', "local_gateway_app", "module:attribute"),
        ("alarms = 3", "alarms", "must be a table"),
        ("budget = { amount = nan }", "budget", "nan is not an amount"),
        ("budget = { amount = inf }", "budget", "inf is not an amount"),
        ("budget = { amount = 0 }", "budget", "from 0.01 to 1,000,000,000"),
        ('budget = { email = "nobody" }', "budget", "is not an email address"),
        ("budget = { amonut = 5 }", "budget", "unknown key 'amonut'"),
        ('parameters = { "Memory-Size" = "1" }', "parameters", "is not a template parameter"),
        ("parameters = { MemorySize = nan }", "parameters", "is not a number"),
        (
            'parameters = { MemorySize = ["1"] }',
            "parameters",
            "must be a string, number or boolean",
        ),
    ],
)
def test_each_bad_value_is_a_config_error_naming_file_key_and_example(tmp_path, line, key, why):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, line)
    message = caught.value.format_line()
    assert caught.value.exit_code == EXIT_CONFIG
    assert message.startswith(f"{tmp_path / 'c.toml'} [env.dev]: `{key}` "), message
    assert why in message
    assert f"e.g. {key} = " in message
    assert "\n" not in message


def test_good_values_are_kept_with_their_types(tmp_path):
    env = load(
        tmp_path,
        f'role_arn = "{ROLE}"\nnotification_arns = ["{TOPIC}"]\ntermination_protection = false\n'
        'function_timeout = 60\nartifact_bucket = "my-artifacts.example"\n'
        'local_gateway_app = "gateway.app:app"\ntemplate = "cloudformation/gateway.yaml"\n'
        '[env.dev.tags]\nCostCenter = "payments"\nOwner = "ops"\n'
        '[env.dev.budget]\namount = 20\nemail = "ops@example.com"\n'
        "[env.dev.alarms]\nmin_requests = 5\n",
    )
    assert env.settings["role_arn"] == ROLE
    assert env.settings["notification_arns"] == (TOPIC,)
    assert env.settings["termination_protection"] is False
    assert env.settings["function_timeout"] == 60
    assert env.settings["tags"] == {"CostCenter": "payments", "Owner": "ops"}
    assert env.settings["budget"] == {"amount": 20.0, "email": "ops@example.com"}
    assert env.settings["alarms"] == {"min_requests": 5}


def test_the_repository_opskit_toml_loads_for_every_environment():
    path = ROOT / "opskit.toml"
    for name in config.load_document(path)["env"]:
        load_environment(name, path)


def test_a_typo_in_a_key_is_flagged_with_the_key_it_resembles(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, 'tmplate = "x.yaml"')
    assert "unknown key `tmplate`: did you mean `template`?" in caught.value.format_line()
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "zzz = 1")
    assert "known keys: " in caught.value.format_line()
    assert "role_arn" in caught.value.format_line()


def test_a_typo_in_a_table_header_is_flagged_not_ignored(tmp_path):
    """Found in review: `[defualts]` was dropped without a word (the region fell back)."""
    path = tmp_path / "c.toml"
    path.write_text('[defualts]\nregion = "eu-west-1"\n' + BASE)
    with pytest.raises(ConfigError) as caught:
        load_environment("dev", path)
    assert "unknown table or key `defualts`: did you mean `defaults`?" in caught.value.format_line()
    path.write_text('[envs.prod]\nregion = "eu-west-1"\n' + BASE)
    with pytest.raises(ConfigError, match="`envs`"):
        load_environment("dev", path)


def test_a_default_is_checked_like_an_environment_value(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[defaults]\ntermination_protection = "yes"\n' + BASE)
    with pytest.raises(ConfigError, match="`termination_protection` must be true or false"):
        load_environment("dev", path)


def test_every_setting_opskit_reads_has_a_rule():
    """`env.settings.get("X")` anywhere in opskit: X must be a checked key."""
    read = set()
    for source in (ROOT / "opskit").rglob("*.py"):
        read |= set(re.findall(r"settings\.get\(\s*\"(\w+)\"", source.read_text()))
    read -= {"AccountLimit"}  # Lambda's GetAccountSettings response, not opskit.toml
    assert read, "the scan found nothing: the pattern is stale"
    assert read <= set(config.SETTINGS), read - set(config.SETTINGS)


# -- the command line: the same rules, as usage errors ----------------------------------------


@pytest.fixture
def cli_project(tmp_path, monkeypatch):
    path = tmp_path / "opskit.toml"
    path.write_text((ROOT / "opskit.toml").read_text())
    monkeypatch.setenv("OPSKIT_CONFIG", str(path))
    monkeypatch.delenv("OPSKIT_ENV", raising=False)
    monkeypatch.delenv("OPSKIT_OUTPUT", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


def invoke(*args: str, env: str = "local"):
    return CliRunner().invoke(cli, ["--env", env, "deploy", "--plan", *args])


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--role-arn", "abc"], "'abc' is not an IAM role ARN"),
        (["--role-arn", TOPIC], "is not an IAM role ARN"),
        (["--notification-arns", "arn"], "'arn' is not an SNS topic ARN"),
        (["--notification-arns", TOPIC] * 6, "6 topics: CloudFormation takes at most 5"),
        (["--tags", "team"], "'team': expected KEY=VALUE"),
        (["--tags", "aws:team=x"], "the aws: prefix is reserved"),
        (["--tags", "=x"], "1 to 128 characters"),
        (["--tags", f"team={'v' * 257}"], "value of 1 to 256 characters"),
        (["--tags", "team="], "value of 1 to 256 characters"),
        ([arg for n in range(49) for arg in ("--tags", f"k{n}=v")], "51 tags"),
        (["-p", "RateLimit"], "'RateLimit': expected KEY=VALUE"),
        (["-p", "Rate-Limit=5"], "'Rate-Limit' is not a template parameter name"),
        (["--parameter", f"CorsOrigins={'x' * 4097}"], "over 4096 bytes"),
    ],
)
def test_bad_deploy_option_values_are_usage_errors_on_one_line(cli_project, monkeypatch, args, why):
    def no_deploy(*a, **k):
        raise AssertionError("a bad value must stop before anything is deployed")

    monkeypatch.setattr("opskit.deploy.service.deploy", no_deploy)
    result = invoke(*args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert why in result.stderr


def test_the_command_line_and_opskit_toml_share_one_rule(cli_project, tmp_path):
    """The same wrong value: exit 2 as a flag, exit 3 in the file, with the same reason."""
    flag = invoke("--role-arn", "arn:aws:iam::123:role/x")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, 'role_arn = "arn:aws:iam::123:role/x"')
    reason = "'arn:aws:iam::123:role/x' is not an IAM role ARN"
    assert flag.exit_code == EXIT_USAGE and reason in flag.stderr
    assert reason in caught.value.format_line()


def test_deploy_sends_the_checked_values(cli_project, monkeypatch):
    """opskit.toml's values with their types (false stays false), then the flags over them."""
    cli_project.write_text(
        '[env.qa]\nstack_name = "opskit-qa"\ntermination_protection = false\n'
        f'role_arn = "{ROLE}"\nnotification_arns = ["{TOPIC}"]\n'
        'tags = { team = "a", CostCenter = "x" }\n'
    )
    seen = {}

    class Stop(Exception):
        pass

    def capture(request, *args, **kwargs):
        seen["request"] = request
        raise Stop

    monkeypatch.setattr("opskit.deploy.service.deploy", capture)
    template = str(ROOT / "cloudformation" / "gateway.yaml")
    result = invoke("--tags", "team=b", "-p", "RateLimit=50", "--template", template, env="qa")
    assert "request" in seen, result.output  # the CLI reports Stop as an unexpected error
    request = seen["request"]
    assert request.termination_protection is False  # bool("no") made it True before
    assert request.role_arn == ROLE
    assert request.notification_arns == (TOPIC,)
    assert request.tags == {"team": "b", "CostCenter": "x"}
    assert request.overrides == {"RateLimit": "50"}
    other = "arn:aws:sns:eu-west-1:123456789012:other"
    invoke(
        "--notification-arns",
        other,
        "--role-arn",
        ROLE.replace("opskit", "other"),
        "--template",
        template,
        env="qa",
    )
    assert seen["request"].notification_arns == (other,)
    assert seen["request"].role_arn.endswith(":role/other-cloudformation")


# -- fuzzing opskit.toml through deploy --plan --------------------------------------------------

GOOD = {
    "project": st.just("opskit"),
    "profile": st.just("dev-admin"),
    "region": st.just("eu-west-1"),
    "parameters": st.just({"RateLimit": 50}),
    "role_arn": st.just(ROLE),
    "notification_arns": st.lists(st.just(TOPIC), max_size=2),
    "tags": st.dictionaries(
        st.sampled_from(["team", "CostCenter"]), st.text(string.ascii_letters, max_size=5)
    ),
    "termination_protection": st.booleans(),
    "function_timeout": st.integers(1, 900),
    "artifact_bucket": st.just("opskit-fuzz-artifacts"),
    "template": st.just("cloudformation/gateway.yaml"),
    "local_gateway_app": st.just("gateway.app:app"),
    "alarms": st.just({"min_requests": 3}),
    "budget": st.just({"amount": 20}),
}
ANY_TOML = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.booleans(),
        st.text(alphabet=string.printable, max_size=12),
        st.sampled_from(["arn", ROLE, TOPIC, "true", "no", "30", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "team", "aws:x", "RateLimit", "amount"]), inner),
    ),
    max_leaves=5,
)
FUZZED = st.lists(
    st.sampled_from(sorted({*config.FIELDS, *config.SETTINGS} - {"stack_name", "local"})),
    unique=True,
    max_size=3,
).flatmap(lambda keys: st.fixed_dictionaries({k: st.one_of(GOOD[k], ANY_TOML) for k in keys}))


def test_the_fuzzer_has_a_good_value_for_every_key():
    assert set(GOOD) == {*config.FIELDS, *config.SETTINGS} - {"stack_name", "local"}


def toml(value) -> str:
    """TOML for a generated value (a JSON string is a TOML basic string; nan and inf spelled)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


@pytest.fixture
def topics() -> list[str]:
    return []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=FUZZED)
def test_fuzzed_opskit_toml_through_deploy_plan(project, topics, keys):
    """Random TOML values for every key opskit reads, through `deploy --plan` against moto:
    exit 0 or 3 (or 5 for a template path that does not exist), one line on error."""
    if not topics:  # the topic GOOD names exists (the emulator checks NotificationARNs)
        sns = boto3.client(
            "sns", region_name="us-east-1", endpoint_url=os.environ["OPSKIT_ENDPOINT_URL"]
        )
        topics.append(sns.create_topic(Name=TOPIC.rsplit(":", 1)[1])["TopicArn"])
    body = "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in keys.items())
    text = BASE.replace("[env.dev]", "[env.local]") + body
    assert tomllib.loads(text)["env"]["local"].keys() == {"stack_name", "local", *keys}
    (project / "opskit.toml").write_text(text)
    result = CliRunner().invoke(cli, ["--env", "local", "deploy", "--plan", "--no-lint"])
    event(f"exit {result.exit_code}")
    allowed = {0, EXIT_CONFIG} | ({EXIT_NOT_FOUND} if "template" in keys else set())
    assert result.exit_code in allowed, (text, result.output, result.exception)
    if result.exit_code:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def test_tag_numbers_and_booleans_load_as_parameters_do(tmp_path):
    """Found in review: `Count = 3` under tags loaded before the checks and failed after."""
    env = load(tmp_path, "[env.dev.tags]\nCount = 3\nPager = true\nRatio = 0.5")
    assert env.settings["tags"] == {"Count": "3", "Pager": "true", "Ratio": "0.5"}


@pytest.mark.parametrize(
    ("arn", "valid"),
    [
        # IAM CreateRole: Path is / or /.../ of ASCII ! (0x21) to DEL (0x7F); RoleName is
        # 1-64 of [\w+=,.@-]; the partitions are aws, aws-cn, aws-us-gov, aws-iso(-b, -e, -f).
        ("arn:aws:iam::123456789012:role/deployer", True),
        ("arn:aws:iam::123456789012:role/x~y/z", True),
        ("arn:aws-us-gov:iam::123456789012:role/svc/deployer", True),
        ("arn:aws-iso-b:iam::123456789012:role/a+b=c,d.e@f-g", True),
        ("arn:aws:iam::123456789012:role//", False),
        ("arn:aws:iam::123456789012:role/x/", False),
        ("arn:aws:iam::123456789012:role/" + "a" * 65, False),
        ("arn:awsfoo:iam::123456789012:role/x", False),
        ("arn:aws:iam::12345678901:role/x", False),
    ],
)
def test_role_arns_follow_iam_rules(arn, valid):
    from opskit import values

    if valid:
        assert values.role_arn(arn) == arn
    else:
        with pytest.raises(values.BadValue):
            values.role_arn(arn)


@pytest.mark.parametrize("text", ["0.001", "1e300", "nan", "inf", "abc", "", "-5"])
def test_one_amount_rule_for_init_budget_setup_and_the_file(text):
    """Found in review: three rules (init took 1e300 that budget setup then refused)."""
    from opskit import values
    from opskit.budget import parse_amount

    with pytest.raises(values.BadValue):
        values.amount_text(text)
    with pytest.raises(UsageError):
        parse_amount(text)


def test_a_dollar_sign_is_an_amount_everywhere():
    from decimal import Decimal

    from opskit import values
    from opskit.budget import parse_amount

    assert values.amount_text("$20") == 20.0 and parse_amount("$20") == Decimal(20)
