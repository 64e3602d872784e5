"""The rules a value must follow, shared by opskit.toml (exit 3) and command-line options (exit 2).

Each check takes the raw value (a TOML value or an option's text), returns it normalized, or
raises BadValue saying why and giving an example; `opskit.config` turns that into a
ConfigError naming the file and key, `opskit.commands.params.CheckedValue` into Click's
BadParameter. One rule per kind of value, so `role_arn = ...` and `--role-arn` agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

# CloudFormation's limits (CreateChangeSet): tags, notification topics, parameters.
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
MAX_TAGS = 50
MAX_NOTIFICATION_ARNS = 5
PARAMETER_KEY = re.compile(r"[A-Za-z0-9]{1,255}")
PARAMETER_VALUE_MAX = 4096
LAMBDA_TIMEOUT_MAX = 900  # seconds

# CloudWatch Logs' PutRetentionPolicy accepts only these (the template's AllowedValues too).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)  # fmt: skip

# IAM (CreateRole): a path is `/` or `/.../` of ASCII ! to DEL, a name 1-64 of [\w+=,.@-];
# partitions are aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ...
ROLE_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role(/[\x21-\x7f]{0,510})?/[\w+=,.@-]{1,64}", re.ASCII
)
TOPIC_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
)
SECRET_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:secret:.+"
)
# The template's Environment parameter (AllowedPattern): what an environment deploys as.
ENVIRONMENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
BUCKET_NAME = re.compile(r"(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
APP_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")

EXAMPLES = {
    "role_arn": '"arn:aws:iam::123456789012:role/opskit-cloudformation"',
    "notification_arns": '["arn:aws:sns:us-east-1:123456789012:stack-events"]',
    "tags": '{ CostCenter = "payments" }',
}


class BadValue(ValueError):
    """Why a value is not acceptable, and an example of one that is."""

    def __init__(self, why: str, example: str = ""):
        super().__init__(why)
        self.why, self.example = why, example


def kind(value: Any) -> str:
    """A TOML value's kind, as an error message names it."""
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return next((text for t, text in names.items() if isinstance(value, t)), type(value).__name__)


def _string(value: Any, example: str) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be a string, it is {kind(value)}", example)
    return value


def matching(pattern: re.Pattern[str], what: str, example: str) -> Callable[[Any], str]:
    """A check for a string that matches `pattern` whole."""

    def check(value: Any) -> str:
        text = _string(value, example)
        if not pattern.fullmatch(text):
            raise BadValue(f"{text!r} is not {what}", example)
        return text

    return check


def boolean(value: Any) -> bool:
    """A TOML boolean: the string "no" is not false."""
    if not isinstance(value, bool):
        raise BadValue(f"must be true or false, it is {kind(value)} ({value!r})", "true")
    return value


role_arn = matching(ROLE_ARN, "an IAM role ARN", EXAMPLES["role_arn"])
topic_arn = matching(
    TOPIC_ARN, "an SNS topic ARN", '"arn:aws:sns:us-east-1:123456789012:stack-events"'
)


def notification_arns(value: Any) -> tuple[str, ...]:
    """A list of at most 5 SNS topic ARNs (a single string is not a list of its letters)."""
    example = EXAMPLES["notification_arns"]
    if not isinstance(value, list | tuple):
        raise BadValue(f"must be an array of SNS topic ARNs, it is {kind(value)}", example)
    if len(value) > MAX_NOTIFICATION_ARNS:
        raise BadValue(
            f"{len(value)} topics: CloudFormation takes at most {MAX_NOTIFICATION_ARNS}", example
        )
    topics = []
    for number, item in enumerate(value, start=1):
        try:
            topics.append(topic_arn(item))
        except BadValue as exc:
            raise BadValue(f"item {number}: {exc.why}", example) from None
    return tuple(topics)


def tag_key(value: Any) -> str:
    example = EXAMPLES["tags"]
    text = _string(value, example)
    if not 1 <= len(text) <= TAG_KEY_MAX:
        raise BadValue(f"tag key {text!r}: 1 to {TAG_KEY_MAX} characters", example)
    if text.lower().startswith("aws:"):
        raise BadValue(f"tag key {text!r}: the aws: prefix is reserved", example)
    return text


def tag_value(key: str, value: Any) -> str:
    """A tag value: a string, or a number or boolean written as parameters are (`3`, `true`)."""
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        value = parameter_value(key, value)
    if not isinstance(value, str):
        raise BadValue(
            f"tag {key}: must be a string, number or boolean, it is {kind(value)}",
            f'{{ {key} = "payments" }}',
        )
    if not 1 <= len(value) <= TAG_VALUE_MAX:  # CreateChangeSet: Tags.member.Value min 1
        raise BadValue(
            f"tag {key}: value of 1 to {TAG_VALUE_MAX} characters", f'{{ {key} = "payments" }}'
        )
    return value


def tags(value: Any, reserved: tuple[str, ...] = ()) -> dict[str, str]:
    """A table of string keys to string values, within CloudFormation's tag limits.

    `reserved` are the tags opskit adds itself (Project, Environment): they count too.
    """
    if not isinstance(value, Mapping):
        raise BadValue(f"must be a table of tags, it is {kind(value)}", EXAMPLES["tags"])
    result = {tag_key(k): tag_value(str(k), v) for k, v in value.items()}
    count = len(set(result) | set(reserved))
    if count > MAX_TAGS:
        raise BadValue(
            f"{count} tags (with {', '.join(reserved) or 'none'} opskit adds): "
            f"CloudFormation takes at most {MAX_TAGS}",
            EXAMPLES["tags"],
        )
    return result


def _pair(
    text: str, key_rule: Callable[[Any], str], value_rule: Callable[[str, Any], str], example: str
) -> tuple[str, str]:
    """`KEY=VALUE` on the command line, each side by its rule."""
    key, sep, value = text.partition("=")
    if not sep:
        raise BadValue(f"{text!r}: expected KEY=VALUE", example)
    key = key_rule(key.strip())
    return key, value_rule(key, value)


def tag_pair(text: str) -> tuple[str, str]:
    """`--tags KEY=VALUE`."""
    return _pair(text, tag_key, tag_value, "team=payments")


parameter_key = matching(
    PARAMETER_KEY, "a template parameter name (letters and digits)", '{ MemorySize = "512" }'
)


def parameter_value(key: str, value: Any) -> str:
    """A stack parameter as CloudFormation wants it: booleans in lower case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValue(f"parameter {key}: {value!r} is not a number", f"{{ {key} = 1024 }}")
    if not isinstance(value, str | int | float):
        raise BadValue(
            f"parameter {key} must be a string, number or boolean, it is {kind(value)}",
            f'{{ {key} = "value" }}',
        )
    text = str(value)
    if len(text.encode()) > PARAMETER_VALUE_MAX:
        raise BadValue(
            f"parameter {key}: over {PARAMETER_VALUE_MAX} bytes", f'{{ {key} = "value" }}'
        )
    return text


def parameters(value: Any) -> dict[str, str]:
    """A table of parameter name to string, number or boolean."""
    if not isinstance(value, Mapping):
        raise BadValue(f"must be a table, it is {kind(value)}", '{ MemorySize = "512" }')
    return {parameter_key(k): parameter_value(str(k), v) for k, v in value.items()}


def parameter_pair(text: str) -> tuple[str, str]:
    """`--parameter KEY=VALUE`."""
    return _pair(text, parameter_key, parameter_value, "MemorySize=1024")


def number(
    value: Any, low: float, high: float, example: str, unit: str = "", whole: bool = False
) -> float | int:
    """A finite TOML number (not a boolean) from `low` to `high`; `whole`: an integer."""
    wanted = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        what = "a whole number" if whole else "a number"
        raise BadValue(f"must be {what}, it is {kind(value)} ({value!r})", example)
    if not math.isfinite(value) or not low <= value <= high:
        raise BadValue(f"{value!r} is not from {low:g} to {high:g}{unit}", example)
    return value


def function_timeout(value: Any) -> int:
    """Lambda's Timeout: whole seconds, 1 to 900."""
    return int(number(value, 1, LAMBDA_TIMEOUT_MAX, "30", " seconds", whole=True))


MAX_AMOUNT = 1_000_000_000  # USD a month: a typo guard, far above any real budget


def amount(value: Any) -> float:
    """A budget: a finite amount of dollars from 0.01 to MAX_AMOUNT (nan, inf are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"must be an amount in USD, it is {kind(value)}", "20")
    if not math.isfinite(value) or not 0.01 <= value <= MAX_AMOUNT:
        raise BadValue(f"{value!r} is not an amount in USD from 0.01 to {MAX_AMOUNT:,}", "20")
    return float(value)


def amount_text(text: str) -> float:
    """`--budget 20`, `--amount $50` (the text of an option or an answer)."""
    try:
        value = float(str(text).strip().removeprefix("$"))
    except ValueError:
        raise BadValue(f"{text!r} is not an amount in USD", "20") from None
    return amount(value)


def email(value: Any) -> str:
    from email_validator import EmailNotValidError, validate_email

    text = _string(value, '"ops@example.com"')
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise BadValue(f"{text!r} is not an email address ({exc})", '"ops@example.com"') from None


bucket_name = matching(BUCKET_NAME, "an S3 bucket name", '"my-opskit-artifacts"')
secret_arn = matching(
    SECRET_ARN,
    "a Secrets Manager secret ARN",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:opskit/dev/jwt-AbCdEf",
)
environment_name = matching(
    ENVIRONMENT_NAME, "an environment name (lower case, digits, -; up to 32)", "dev"
)


def path(value: Any) -> str:
    text = _string(value, '"cloudformation/gateway.yaml"')
    if not text.strip() or "\0" in text:
        raise BadValue(f"{text!r} is not a file path", '"cloudformation/gateway.yaml"')
    return text


app_spec = matching(APP_SPEC, "an ASGI app as module:attribute", '"gateway.app:app"')


def table(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadValue(f"must be a table, it is {kind(value)}", "[env.NAME.alarms]")
    return dict(value)
