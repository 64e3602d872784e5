"""The gateway against a hostile AWS: a real fault-injecting proxy in front of the moto server
(tests/gateway/faulty_aws.py) that throttles, fails, resets, skews its clock, corrupts checksums,
leaves BatchWriteItem items unprocessed and expires container credentials.

Each test here failed on the gateway before issue 11: no retries (the first fault decided),
credentials read once, fail-open on throttling, a write per denied request, a revoke-all that
claimed what it did not do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.faulty_aws import CredentialServer, FaultyAws
from tests.gateway.support import gateway_env, token


@pytest.fixture
def front(tables: str) -> Iterator[FaultyAws]:
    with FaultyAws(tables) as proxy:
        yield proxy


@pytest.fixture
def make_gw(front: FaultyAws, upstream):
    def make(**overrides: str) -> Gateway:
        return Gateway(gateway_env(front.url, upstream.url, **overrides))

    return make


def get(gw: Gateway, tok: str) -> dict:
    return gw("GET", "/api/users/x", headers={"authorization": f"Bearer {tok}"})


def counter(moto: str, key: str) -> int:
    ddb = boto3.client("dynamodb", endpoint_url=moto, region_name="us-east-1")
    items = ddb.scan(TableName="gw-rate-limits")["Items"]
    return sum(int(i["c"]["N"]) for i in items if i["limiter_key"]["S"] == key)


@pytest.mark.parametrize("fault", ["throttle", "throttling", "429", "500", "503", "reset", "crc"])
def test_one_fault_is_retried_and_counted(
    make_gw, front: FaultyAws, tables: str, fault: str
) -> None:
    """boto3 retried and succeeded on the same single fault; so does the gateway now."""
    gw = make_gw()
    gw.runtime.ddb.rand = lambda: (
        0.0
    )  # no backoff wait; the delay formula is tested against botocore
    front.plan(fault, "UpdateItem")
    result = get(gw, token(sub="retry"))
    assert result["statusCode"] == 200
    assert "ratelimit" in result["headers"]  # decided by DynamoDB, not by the failure mode
    assert front.count("UpdateItem") == 2 and front.count("UpdateItem", fault) == 1
    # a corrupted answer came from an applied write: retried as botocore does, counted twice
    assert counter(tables, "user:retry") == (2 if fault == "crc" else 1)
    assert not [line for line in gw.logs() if line["level"] == "ERROR"]
    assert gw.access_lines()[-1]["limiter"] == "dynamodb"


def test_throttled_hot_key_is_over_the_limit_not_admitted(make_gw, front: FaultyAws) -> None:
    """Issue 11: at 3/60, 13 of 14 requests were admitted once UpdateItem throttled."""
    gw = make_gw(GATEWAY_RATE_LIMIT="3/86400")
    gw.runtime.ddb.rand = lambda: 0.0
    tok = token(sub="hot")
    statuses = [get(gw, tok)["statusCode"]]
    front.plan("throttle", "UpdateItem", times=-1)
    statuses += [get(gw, tok)["statusCode"] for _ in range(13)]
    assert statuses.count(200) <= 3
    assert statuses[1:] == [429] * 13
    # the first throttled request spent its retries; the key is then known full: no more writes
    assert front.count("UpdateItem") == 1 + gw.runtime.ddb.max_attempts
    lines = gw.access_lines()
    assert [line["limiter"] for line in lines[1:3]] == ["throttled", "cache"]
    assert not [line for line in gw.logs() if line.get("error_code") == "rate_limit_unavailable"]


def test_table_level_throttling_denies_without_caching_the_key(make_gw, front: FaultyAws) -> None:
    gw = make_gw(GATEWAY_RATE_LIMIT="3/86400")
    gw.runtime.ddb.rand = lambda: 0.0
    front.reasons = [{"reason": "TableWriteProvisionedThroughputExceeded", "resource": "arn:aws:dynamodb:us-east-1:111122223333:table/gw-rate-limits"}]  # fmt: skip
    front.plan("throttle", "UpdateItem", times=gw.runtime.ddb.max_attempts)
    denied = get(gw, token(sub="table"))
    assert denied["statusCode"] == 429 and denied["headers"]["retry-after"] == "1"
    assert "111122223333" not in denied["body"]
    assert get(gw, token(sub="table"))["statusCode"] == 200  # not cached: the next one is counted


def test_deny_cache_spares_dynamodb_writes(make_gw, front: FaultyAws, tables: str) -> None:
    gw = make_gw(GATEWAY_RATE_LIMIT="2/86400")
    tok = token(sub="spender")
    statuses = [get(gw, tok)["statusCode"] for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    assert front.count("UpdateItem") == 2  # was 6: one write per denied request
    assert counter(tables, "user:spender") == 2
    assert [line["limiter"] for line in gw.access_lines()] == ["dynamodb"] * 2 + ["cache"] * 4


def test_deny_cache_off_writes_every_request(make_gw, front: FaultyAws) -> None:
    gw = make_gw(GATEWAY_RATE_LIMIT="2/86400", GATEWAY_RATE_LIMIT_DENY_CACHE="0")
    tok = token(sub="spender")
    assert [get(gw, tok)["statusCode"] for _ in range(4)] == [200, 200, 429, 429]
    assert front.count("UpdateItem") == 4


def test_outage_fails_open_within_this_process_count(make_gw, front: FaultyAws) -> None:
    """Fail-open is for true outages, logged as one alarmable line per request, and even then a
    key gets no more than its limit from this process."""
    gw = make_gw(GATEWAY_RATE_LIMIT="3/86400")
    gw.runtime.ddb.rand = lambda: 0.0
    tok = token(sub="outage")
    assert get(gw, tok)["statusCode"] == 200  # counted by DynamoDB: 1
    front.plan("503", "UpdateItem", times=-1)
    statuses = [get(gw, tok)["statusCode"] for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    errors = [line for line in gw.logs() if line["level"] == "ERROR"]
    assert [e["error_code"] for e in errors] == ["rate_limit_unavailable"] * 2
    assert all("failing open" in e["message"] for e in errors)
    assert [line["limiter"] for line in gw.access_lines()] == ["dynamodb"] + ["degraded"] * 2 + [
        "cache"
    ] * 2


def test_retries_stop_at_the_requests_deadline(make_gw, front: FaultyAws) -> None:
    """A Lambda with 0.7 s left: one attempt fits; a retry whose backoff would not is not made."""
    from tests.gateway.support import LambdaContext

    class Hurried(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 700

    gw = make_gw(GATEWAY_RATE_LIMIT_FAILURE_MODE="closed")
    gw.runtime.ddb.rand = lambda: 1.0  # the first throttling backoff is then 1 s
    front.plan("throttle", "UpdateItem", times=-1)
    result = gw(
        "GET", "/api/users/x", headers={"authorization": f"Bearer {token()}"}, context=Hurried()
    )
    assert result["statusCode"] == 429
    assert front.count("UpdateItem") == 1


def test_clock_skew_is_corrected_from_the_date_header(
    make_gw, front: FaultyAws, tables: str
) -> None:
    gw = make_gw()
    front.clock_offset = 3600.0  # AWS's clock is an hour ahead of ours
    result = get(gw, token(sub="skewed"))
    assert result["statusCode"] == 200 and "ratelimit" in result["headers"]
    assert front.count("UpdateItem") == 2
    assert abs(gw.runtime.ddb.clock_offset - 3600.0) < 5
    assert get(gw, token(sub="skewed"))["statusCode"] == 200
    assert front.count("UpdateItem") == 3  # corrected once, then signed right
    assert counter(tables, "user:skewed") == 2


@pytest.fixture
def container_creds(front: FaultyAws) -> Iterator[CredentialServer]:
    with CredentialServer(front, lifetime=3600) as server:
        yield server


def container_env(server: CredentialServer) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", **server.env()}


def test_container_credentials_are_refreshed_before_they_expire(
    make_gw, front, container_creds
) -> None:
    """Issue 11: container credentials were read once; after expiry every call was ExpiredToken."""
    container_creds.lifetime = 2.0  # always inside the mandatory window: refreshed on every use
    gw = make_gw(**container_env(container_creds))
    session = json.loads(
        gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {token(exp_in=7200)}"})[
            "body"
        ]
    )["token"]
    time.sleep(2.1)  # the first set is now expired for the front
    ok = get(gw, session)
    assert ok["statusCode"] == 200, ok
    assert container_creds.issued >= 2
    assert all(r.get("authorization") == container_creds.token for r in container_creds.requests)
    assert not [line for line in gw.logs() if line["level"] == "ERROR"]


def test_credentials_the_service_calls_expired_are_refetched(
    make_gw, front, container_creds
) -> None:
    gw = make_gw(**container_env(container_creds))
    assert get(gw, token(sub="a"))["statusCode"] == 200
    assert container_creds.issued == 1
    for tok in list(front.tokens):
        front.tokens[tok] = 0  # revoked early: AWS answers ExpiredTokenException
    result = get(gw, token(sub="b"))
    assert result["statusCode"] == 200 and "ratelimit" in result["headers"]
    assert container_creds.issued == 2
    assert front.count("UpdateItem") == 3


def test_container_credentials_unavailable_is_a_generic_503(
    make_gw, front, container_creds
) -> None:
    env = container_env(container_creds)
    container_creds.token = "something-else"  # every fetch is refused
    gw = make_gw(GATEWAY_RATE_LIMIT_FAILURE_MODE="closed", **env)
    result = get(gw, token())
    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"] == {
        "code": "rate_limit_unavailable",
        "message": "rate limiting is unavailable; try again",
        "request_id": "req-1",
    }
    assert "127.0.0.1" not in result["body"]


def sessions_of(gw: Gateway, sub: str, n: int) -> list[str]:
    tok = token(sub=sub, exp_in=7200)
    out = []
    for _ in range(n):
        created = gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {tok}"})
        out.append(json.loads(created["body"])["token"])
    return out


def live(gw: Gateway, sessions: list[str]) -> int:
    return sum(get(gw, s)["statusCode"] == 200 for s in sessions)


def test_revoke_all_retries_unprocessed_items(make_gw, front: FaultyAws) -> None:
    gw = make_gw()
    gw.runtime.sessions.rand = lambda: 0.0
    sessions = sessions_of(gw, "carol", 3)
    front.plan("unprocessed=2", "BatchWriteItem")
    result = gw(
        "DELETE", "/auth/sessions", headers={"authorization": f"Bearer {token(sub='carol')}"}
    )
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"revoked": 3}
    assert front.count("BatchWriteItem") == 2
    assert live(gw, sessions) == 0


def test_revoke_all_never_claims_what_it_did_not_do(make_gw, front: FaultyAws) -> None:
    """Issue 11: {"revoked": N} while BatchWriteItem left them unprocessed and all N still worked."""
    gw = make_gw()
    gw.runtime.sessions.rand = lambda: 0.0
    sessions = sessions_of(gw, "dave", 3)
    front.plan("unprocessed=1", "BatchWriteItem", times=-1)  # one item never goes through
    result = gw(
        "DELETE", "/auth/sessions", headers={"authorization": f"Bearer {token(sub='dave')}"}
    )
    assert result["statusCode"] == 503
    body = json.loads(result["body"])
    assert body["error"]["code"] == "revoke_incomplete" and body["error"]["request_id"]
    assert result["headers"]["retry-after"] == "1"
    still = live(gw, sessions)
    assert still == body["remaining"] == 1 and body["revoked"] == 2
    errors = [line for line in gw.logs() if line.get("error_code") == "revoke_incomplete"]
    assert len(errors) == 1


def test_session_create_whose_answer_was_lost_still_succeeds(
    make_gw, front: FaultyAws, tables: str
) -> None:
    """The PutItem was applied, its answer lost; the retry's condition fails on our own item."""
    gw = make_gw()
    gw.runtime.ddb.rand = lambda: 0.0
    front.plan("lost", "PutItem")
    created = gw(
        "POST",
        "/auth/sessions",
        headers={"authorization": f"Bearer {token(sub='erin', exp_in=7200)}"},
    )
    assert created["statusCode"] == 201, created
    assert front.count("PutItem") == 2
    assert get(gw, json.loads(created["body"])["token"])["statusCode"] == 200
    items = boto3.client("dynamodb", endpoint_url=tables, region_name="us-east-1").scan(
        TableName="gw-sessions"
    )["Items"]
    assert len(items) == 1


def test_a_full_deny_cache_evicts_but_never_admits(make_gw, front: FaultyAws) -> None:
    gw = make_gw(GATEWAY_RATE_LIMIT="1/86400", GATEWAY_RATE_LIMIT_DENY_CACHE="2")
    users = [token(sub=f"evict-{i}") for i in range(4)]
    assert [get(gw, t)["statusCode"] for t in users] == [200] * 4
    assert len(gw.runtime.limiter._denied) == 2  # bounded: the two oldest were dropped
    writes = front.count("UpdateItem")
    again = [users[2], users[3], users[0], users[1]]  # the cached two first
    assert [get(gw, t)["statusCode"] for t in again] == [429] * 4
    assert front.count("UpdateItem") == writes + 2  # only the evicted two asked DynamoDB again


def test_after_an_outage_dynamodb_is_not_asked_for_a_moment(make_gw, front: FaultyAws) -> None:
    """A black-holed or failing DynamoDB must not cost every request its retries and timeouts:
    the failure mode decides at once until the backoff lets one request probe again."""
    from gateway.refresh import Backoff

    gw = make_gw(GATEWAY_RATE_LIMIT="100/86400")
    gw.runtime.ddb.rand = lambda: 0.0
    gw.runtime.limiter._outage = Backoff(60.0, 60.0)  # a long pause, so the count is exact
    front.plan("503", "UpdateItem", times=-1)
    statuses = [get(gw, token(sub=f"o{i}"))["statusCode"] for i in range(5)]
    assert statuses == [200] * 5  # failing open
    assert front.count("UpdateItem") == gw.runtime.ddb.max_attempts  # only the first asked
    errors = [line for line in gw.logs() if line.get("error_code") == "rate_limit_unavailable"]
    assert len(errors) == 5 and "not asked again" in errors[-1]["message"]
    gw.runtime.limiter._outage.succeeded()  # the pause is over and DynamoDB is back
    front.clear()
    assert "ratelimit" in get(gw, token(sub="back"))["headers"]
