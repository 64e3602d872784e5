"""Configuration is validated at start; a bad value names its variable and still yields JSON."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mangum import Mangum

from gateway.config import ConfigError, load_settings
from tests.gateway.support import SECRET, LambdaContext, event, json_lines

BASE = {
    "GATEWAY_JWT_SECRET": SECRET,
    "GATEWAY_RATE_LIMIT_TABLE": "rate-limits",
    "GATEWAY_SESSIONS_TABLE": "sessions",
}


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"GATEWAY_RATE_LIMIT": "100"}, "GATEWAY_RATE_LIMIT"),
        ({"GATEWAY_RATE_LIMIT": "0/60"}, "GATEWAY_RATE_LIMIT"),
        ({"GATEWAY_RATE_LIMIT_TABLE": ""}, "GATEWAY_RATE_LIMIT_TABLE"),
        ({"GATEWAY_SESSIONS_TABLE": "no spaces allowed"}, "GATEWAY_SESSIONS_TABLE"),
        ({"GATEWAY_UPSTREAM_USERS": "ftp://x"}, "GATEWAY_UPSTREAM_USERS"),
        ({"GATEWAY_UPSTREAM_ORDERS": "http://h:99999"}, "GATEWAY_UPSTREAM_ORDERS"),
        ({"GATEWAY_JWT_SECRET": "short"}, "GATEWAY_JWT_SECRET"),
        ({"GATEWAY_JWT_SECRET": ""}, "GATEWAY_JWT_SECRET"),
        (
            {"GATEWAY_JWT_SECRET_ARN": "not-an-arn", "GATEWAY_JWT_SECRET": ""},
            "GATEWAY_JWT_SECRET_ARN",
        ),
        ({"GATEWAY_JWT_PUBLIC_KEY": "abc"}, "GATEWAY_JWT_PUBLIC_KEY"),
        ({"GATEWAY_RATE_LIMIT_FAILURE_MODE": "sideways"}, "GATEWAY_RATE_LIMIT_FAILURE_MODE"),
        ({"GATEWAY_TRACING": "maybe"}, "GATEWAY_TRACING"),
        ({"GATEWAY_UPSTREAM_TIMEOUT": "45"}, "GATEWAY_UPSTREAM_TIMEOUT"),
        ({"GATEWAY_JWT_LEEWAY": "120"}, "GATEWAY_JWT_LEEWAY"),
        ({"GATEWAY_CORS_ORIGINS": "example.com"}, "GATEWAY_CORS_ORIGINS"),
        ({"GATEWAY_AWS_MAX_ATTEMPTS": "0"}, "GATEWAY_AWS_MAX_ATTEMPTS"),
        ({"GATEWAY_AWS_MAX_ATTEMPTS": "11"}, "GATEWAY_AWS_MAX_ATTEMPTS"),
        ({"GATEWAY_JWT_MAX_LIFETIME": "-1"}, "GATEWAY_JWT_MAX_LIFETIME"),
        ({"GATEWAY_JWT_MAX_LIFETIME": "1d"}, "GATEWAY_JWT_MAX_LIFETIME"),
        ({"GATEWAY_RATE_LIMIT_DENY_CACHE": "lots"}, "GATEWAY_RATE_LIMIT_DENY_CACHE"),
    ],
)
def test_bad_values_name_their_variable(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE, **overrides})
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ": ")


def test_good_config_parses() -> None:
    s = load_settings(
        {
            **BASE,
            "GATEWAY_RATE_LIMIT": "50/10",
            "GATEWAY_UPSTREAM_USERS": "https://users.internal:8443/v1/",
            "GATEWAY_UPSTREAM_USERS_TIMEOUT": "5",
            "GATEWAY_RATE_LIMIT_FAILURE_MODE": "closed",
            "GATEWAY_CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert (s.rate_limit, s.rate_window, s.rate_limit_fail_open) == (50, 10, False)
    (users,) = s.upstreams
    assert (users.scheme, users.host, users.port, users.base_path, users.timeout) == (
        "https",
        "users.internal",
        8443,
        "/v1",
        5.0,
    )
    assert s.cors_origins == ("https://a.example", "https://b.example")


def test_bad_config_answers_json_and_logs_once() -> None:
    from gateway.app import create_app

    out = io.StringIO()
    app = create_app({**BASE, "GATEWAY_RATE_LIMIT": "lots"}, stream=out)
    handler = Mangum(app, lifespan="off")
    api = handler(
        event("GET", "/api/users/1", headers={"authorization": "Bearer x"}), LambdaContext()
    )
    ready = handler(event("GET", "/health/ready"), LambdaContext())
    live = handler(event("GET", "/health/live"), LambdaContext())
    assert api["statusCode"] == 500
    assert json.loads(api["body"])["error"]["code"] == "config_invalid"
    assert "GATEWAY_RATE_LIMIT" in json.loads(api["body"])["error"]["message"]
    assert ready["statusCode"] == 503
    assert json.loads(ready["body"])["error"]["code"] == "config_invalid"
    assert live["statusCode"] == 200
    lines = json_lines(out.getvalue())
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["error_code"] == "config_invalid"
    assert errors[0]["variable"] == "GATEWAY_RATE_LIMIT"
    assert "Traceback" not in out.getvalue()
    assert sum(1 for line in lines if line["message"] == "request") == 3


def test_aws_and_jwt_settings_parse() -> None:
    default = load_settings(BASE)
    assert (default.aws_max_attempts, default.jwt_max_lifetime) == (None, 86_400)
    assert default.rate_limit_deny_cache == 10_000
    s = load_settings(
        {
            **BASE,
            "GATEWAY_AWS_MAX_ATTEMPTS": "2",
            "GATEWAY_JWT_MAX_LIFETIME": "0",
            "GATEWAY_RATE_LIMIT_DENY_CACHE": "0",
        }
    )
    assert (s.aws_max_attempts, s.jwt_max_lifetime, s.rate_limit_deny_cache) == (2, 0, 0)


NEW_VARIABLES = (
    "GATEWAY_AWS_MAX_ATTEMPTS",
    "GATEWAY_JWT_MAX_LIFETIME",
    "GATEWAY_RATE_LIMIT_DENY_CACHE",
)


@given(name=st.sampled_from(NEW_VARIABLES), value=st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_every_value_is_settings_or_an_error_naming_it(name: str, value: str) -> None:
    """Every input ends in a documented outcome: parsed, or a ConfigError naming the variable."""
    try:
        load_settings({**BASE, name: value})
    except ConfigError as exc:
        assert exc.variable == name
