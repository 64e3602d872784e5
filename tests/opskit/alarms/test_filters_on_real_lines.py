"""Every shipped metric filter against real gateway lines (moto stores patterns, never runs them).

The lines are produced by the real gateway app (the Lambda handler via Mangum, as in
tests/gateway) against a real local upstream and the moto server, one request per case the
access-line contract (docs/access-line.md) distinguishes, and matched with
opskit.local.filter_patterns (itself tested on the documentation's examples). On the gateway
before issue 13 the 401 and 429 lines carried `upstream: "users"` and matched upstream-errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from opskit.alarms.spec import load_alarm_set, read_alarm_file
from opskit.local.filter_patterns import MetricFilter
from opskit.local.shipper import PlatformLines
from tests.gateway.conftest import Gateway
from tests.gateway.support import create_tables, gateway_env, token
from tests.gateway.upstream import UpstreamServer

CONTEXT = {
    "Stack": "gw",
    "FunctionLogGroupName": "/aws/lambda/gw-gateway",
    "GatewayNamespace": "Opskit/Gateway/gw",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


def shipped_filters() -> dict[str, MetricFilter]:
    document, _ = read_alarm_file(None)
    alarm_set = load_alarm_set(
        {"metric_filter": document["metric_filter"]},
        stack="gw",
        context=CONTEXT,
        overrides={},
        variables={},
    )
    return {
        f.key: MetricFilter.from_api({**f.params, "logGroupName": f.log_group})
        for f in alarm_set.filters
    }


def lines_of(gw: Gateway) -> list[str]:
    return [line for line in gw.out.getvalue().splitlines() if line.startswith("{")]


def one_request(gw: Gateway, method: str, path: str, **kwargs: Any) -> list[str]:
    before = len(lines_of(gw))
    gw(method, path, **kwargs)
    return lines_of(gw)[before:]


@pytest.fixture
def real_lines(moto: str, upstream: UpstreamServer) -> dict[str, list[str]]:
    """case -> the lines the gateway wrote for it (the access line last)."""
    create_tables(moto)
    auth = {"authorization": f"Bearer {token()}"}
    gw = Gateway(gateway_env(moto, upstream.url, GATEWAY_RATE_LIMIT="3/60"))
    cases: dict[str, list[str]] = {
        "ok": one_request(gw, "GET", "/api/users/1", headers=auth),
        "upstream-500": one_request(gw, "GET", "/api/users/status/500", headers=auth),
        "upstream-429": one_request(gw, "GET", "/api/users/status/429", headers=auth),
        "no-token-401": one_request(gw, "GET", "/api/users/1"),
    }
    # The limit is 3 a minute in fixed windows: a window may roll over mid-test, so go on
    # until the limiter refuses one (at most 3 more requests into a fresh window).
    for _ in range(8):
        lines = one_request(gw, "GET", "/api/users/1", headers=auth)
        if json.loads(lines[-1])["status"] == 429:
            cases["limited-429"] = lines
            break

    fast = Gateway(
        gateway_env(
            moto,
            upstream.url,
            GATEWAY_UPSTREAM_TIMEOUT="0.3",
            GATEWAY_UPSTREAM_RETRIES="0",
            GATEWAY_BREAKER_THRESHOLD="2",
            GATEWAY_BREAKER_COOLDOWN="60",
        )
    )
    auth2 = {"authorization": f"Bearer {token(sub='user-2')}"}
    cases["dropped-502"] = one_request(fast, "GET", "/api/users/drop", headers=auth2)
    cases["timeout-504"] = one_request(fast, "GET", "/api/users/slow", query="s=1", headers=auth2)
    cases["breaker-503"] = one_request(fast, "GET", "/api/users/1", headers=auth2)

    broken = Gateway(gateway_env(moto, upstream.url, GATEWAY_RATE_LIMIT_TABLE="no-such-table"))
    cases["limiter-down"] = one_request(broken, "GET", "/api/users/1", headers=auth)

    access = json.loads(cases["ok"][-1])
    platform = PlatformLines(512, 0, started=0.0)
    cases["cold-report"] = [m for _, m in platform.around(access, cases["ok"][-1], 1.0)]
    return cases


# case -> the filters whose pattern must match one of its lines (all others must not)
EXPECTED = {
    "ok": {"requests", "upstream-requests"},
    "upstream-500": {"requests", "upstream-requests", "upstream-errors"},
    "upstream-429": {"requests", "upstream-requests"},  # the upstream's own 429: not ours
    "no-token-401": {"requests"},  # rejected before any upstream call
    "limited-429": {"requests", "rate-limited"},
    "dropped-502": {"requests", "upstream-requests", "upstream-errors"},
    "timeout-504": {"requests", "upstream-requests", "upstream-errors"},
    "breaker-503": {"requests", "upstream-requests", "upstream-errors"},
    "limiter-down": {"requests", "upstream-requests", "rate-limit-unavailable"},  # failed open
    "cold-report": {"requests", "upstream-requests", "cold-starts"},
}


def test_every_shipped_filter_matches_exactly_its_real_lines(real_lines):
    filters = shipped_filters()
    assert set(filters) == set().union(*EXPECTED.values())  # a new filter needs cases here
    statuses = {case: json.loads(lines[-1] if case != "cold-report" else lines[1])["status"]
                for case, lines in real_lines.items()}  # fmt: skip
    assert statuses == {
        "ok": 200, "upstream-500": 500, "upstream-429": 429, "no-token-401": 401,
        "limited-429": 429, "dropped-502": 502, "timeout-504": 504, "breaker-503": 503,
        "limiter-down": 200, "cold-report": 200,
    }  # fmt: skip
    for case, lines in real_lines.items():
        matched = {k for k, f in filters.items() if any(f.pattern.matches(line) for line in lines)}
        assert matched == EXPECTED[case], (case, lines)


def test_rejected_lines_name_no_upstream(real_lines):
    for case in ("no-token-401", "limited-429"):
        access = json.loads(real_lines[case][-1])
        assert (access["upstream"], access["upstream_status"]) == (None, None), case
        assert access["route"] == "/api/users"
    breaker = json.loads(real_lines["breaker-503"][-1])
    assert (breaker["upstream"], breaker["upstream_status"]) == ("users", None)


def test_each_filter_publishes_one_count_per_matching_line(real_lines):
    for flt in shipped_filters().values():
        (transform,) = flt.transformations
        assert (transform.value, transform.default, transform.unit) == ("1", 0.0, "Count")
        for lines in real_lines.values():
            for line in lines:
                found = flt.pattern.match(line)
                if found is not None:
                    assert transform.emit(found) == (1.0, ())


def test_the_review_figure_mechanism_on_old_style_lines(real_lines):
    """The old contract (upstream set from the route before auth) put 401/429 into
    upstream-errors; reconstructed here from the real lines to show the filter needs the
    contract, not a different pattern."""
    errors = shipped_filters()["upstream-errors"]
    for case in ("no-token-401", "limited-429"):
        old = json.loads(real_lines[case][-1])
        old["upstream"] = "users"
        assert errors.pattern.matches(json.dumps(old)), case
        assert not errors.pattern.matches(real_lines[case][-1]), case
