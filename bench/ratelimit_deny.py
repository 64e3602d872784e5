"""What a denied request costs: DynamoDB writes (and time) with the deny cache, against the old
behaviour (one conditional UpdateItem per request, ``GATEWAY_RATE_LIMIT_DENY_CACHE=0``) measured
in the same run, through the real Lambda handler path against moto over HTTP.

Traffic: 20 users, each sending 50 requests against a limit of 5 per hour: 100 admitted, 900
denied. Prints ``ddb_writes_per_denied_request`` (target 0 while the deny cache holds), its
baseline, the writes saved, and the handler time per denied request for both.
"""

from __future__ import annotations

import io
import time

from _support import AWS_ENV, create_tables, gateway_env, start_moto, token

USERS, REQUESTS, LIMIT = 20, 50, 5


def run(moto: str, deny_cache: str) -> dict[str, float]:
    from mangum import Mangum

    from gateway.app import create_app
    from tests.gateway.support import LambdaContext, event

    env = gateway_env(moto, "http://127.0.0.1:9", GATEWAY_RATE_LIMIT=f"{LIMIT}/3600",
                      GATEWAY_RATE_LIMIT_DENY_CACHE=deny_cache, **AWS_ENV)  # fmt: skip
    app = create_app(env, stream=io.StringIO())
    handler = Mangum(app, lifespan="off")
    runtime = app.state.runtime
    tag = f"{deny_cache}-{time.monotonic_ns()}"
    tokens = [token(f"bench-{tag}-{u}") for u in range(USERS)]
    context = LambdaContext()
    admitted = denied = 0
    denied_s = 0.0
    writes_before = runtime.limiter.writes
    for _ in range(REQUESTS):
        for tok in tokens:
            # a JWT on the current-session route: authenticated, rate-limited, then a 400
            # (no upstream, no session write): what is measured is the limiter
            ev = event(
                "DELETE", "/auth/sessions/current", headers={"authorization": f"Bearer {tok}"}
            )
            started = time.perf_counter()
            status = handler(ev, context)["statusCode"]
            elapsed = time.perf_counter() - started
            if status == 429:
                denied += 1
                denied_s += elapsed
            else:
                admitted += 1
    writes = runtime.limiter.writes - writes_before
    return {
        "admitted": admitted,
        "denied": denied,
        "writes": writes,
        "writes_per_denied": (writes - admitted) / denied,
        "denied_us": denied_s / denied * 1e6,
    }


def main() -> None:
    moto, url = start_moto()
    try:
        create_tables(url)
        baseline = run(url, "0")
        cached = run(url, "10000")
    finally:
        moto.stop()
    assert cached["admitted"] == baseline["admitted"] == USERS * LIMIT, (cached, baseline)
    print(f"ddb_writes_per_denied_request={cached['writes_per_denied']:.2f}")
    print(f"ddb_writes_per_denied_request_baseline={baseline['writes_per_denied']:.2f}")
    print(f"ddb_writes_saved={int(baseline['writes'] - cached['writes'])}")
    print(f"ddb_writes_saved_share={1 - cached['writes'] / baseline['writes']:.3f}")
    print(f"denied_request_us={cached['denied_us']:.0f}")
    print(f"denied_request_us_baseline={baseline['denied_us']:.0f}")
    print(f"denied_request_speedup={baseline['denied_us'] / cached['denied_us']:.2f}")


if __name__ == "__main__":
    main()
