"""Template parameter values against their declarations, as CloudFormation checks them at
CreateChangeSet (AWS CloudFormation User Guide, "Parameters" section: Type Number,
AllowedValues, AllowedPattern "must match the entire parameter value provided",
MinLength/MaxLength for String, MinValue/MaxValue for Number, ConstraintDescription shown
instead of the generic message). moto does not enforce them, so opskit does, before upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.deploy.template import check_parameter_values, parse_template
from opskit.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = parse_template((ROOT / "cloudformation" / "gateway.yaml").read_text())
DECLARED = TEMPLATE["Parameters"]


def test_every_default_of_the_shipped_template_satisfies_its_own_constraints():
    # CloudFormation refuses a template whose Default breaks its constraints: an oracle for
    # the checker itself (a rule read wrongly would reject a default).
    defaults = {k: str(v["Default"]) for k, v in DECLARED.items() if "Default" in v}
    assert len(defaults) > 10
    check_parameter_values(TEMPLATE, defaults, set())


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("Timeout", "31", "must be from 1 to 30"),
        ("Timeout", "abc", "must be a number"),
        ("Timeout", "nan", "must be a finite number"),
        ("LogRetentionDays", "2", "must be one of 1, 3, 5, 7"),
        ("MemorySize", "64", "from 128 to 10240"),
        ("Architecture", "arm", "must be one of arm64, x86_64"),
        ("RateLimit", "100 per minute", "must match pattern"),
        ("RateLimit", "100/60x", "must match pattern"),  # the whole value, not a prefix
    ],
)
def test_a_value_outside_its_declaration_is_refused_as_cloudformation_would(key, value, why):
    with pytest.raises(UsageError) as from_flag:
        check_parameter_values(TEMPLATE, {key: value}, {key})
    assert why in from_flag.value.format_line() and "(-p)" in from_flag.value.format_line()
    with pytest.raises(ConfigError) as from_file:
        check_parameter_values(TEMPLATE, {key: value}, set())
    assert "opskit.toml parameters" in from_file.value.format_line()


def test_numbers_compare_as_numbers_and_the_constraint_description_is_used():
    check_parameter_values(TEMPLATE, {"LogRetentionDays": "7.0", "Timeout": "30"}, set())
    template = {
        "Parameters": {
            "Name": {
                "Type": "String",
                "AllowedPattern": "[a-z]+",
                "ConstraintDescription": "lowercase letters only",
            }
        }
    }
    with pytest.raises(ConfigError, match="lowercase letters only"):
        check_parameter_values(template, {"Name": "Abc"}, set())


def test_the_retention_list_opskit_checks_is_the_templates_and_cloudwatchs():
    """One list in three places: values.RETENTION_DAYS (cost estimate, the model), the
    template's LogRetentionDays AllowedValues, and CloudWatch Logs' PutRetentionPolicy
    retentionInDays (botocore's service model documents the same values)."""
    import botocore.session

    from opskit.values import RETENTION_DAYS

    assert list(RETENTION_DAYS) == [int(v) for v in DECLARED["LogRetentionDays"]["AllowedValues"]]
    model = botocore.session.get_session().get_service_model("logs")
    shape = model.operation_model("PutRetentionPolicy").input_shape.members["retentionInDays"]
    for days in RETENTION_DAYS:
        assert f"{days}" in shape.documentation
