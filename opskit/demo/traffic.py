"""The demo's traffic driver: a few thousand realistic requests through the gateway.

Who calls (all through the gateway, over real HTTP):
- JWT users: HS256 tokens minted with PyJWT and the gateway's secret, browsing users,
  products and orders (a few 404s for ids that do not exist);
- session users: `POST /auth/sessions` with their JWT once, then the opaque session
  token; some log out at the end (`DELETE /auth/sessions/current`);
- anonymous callers: health checks, API calls without a token, with an expired
  token and with a token signed by someone else (401s);
- slow calls: product search and the monthly orders report (upstreams that take seconds);
- failing calls: inventory (sometimes 503), order creation (sometimes 500), a legacy
  export that drops the connection (502) and a stuck backend (504);
- bursts: two crawlers that fire far more than the rate limit allows in a second (429s).

    python -m opskit.demo.traffic --gateway http://127.0.0.1:8000 --secret S [--requests 3000]
    python -m opskit.demo.traffic --from-local      # the local account's gateway and secret

It shows a progress bar, then a summary of status codes by kind of caller.
`--json-out FILE` also writes the summary as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

DEFAULT_REQUESTS = 3000
DEFAULT_CONCURRENCY = 16
BURST_PRINCIPALS = 2
BURST_SIZE = 150  # per crawler, in about a second: well over a 100/60 limit
MAX_ANONYMOUS = 60  # anonymous calls share one client IP, so they share one rate-limit key
STATUS_MEANING = {
    0: "no response (connection failed)",
    200: "OK",
    201: "created",
    204: "no content",
    400: "bad request",
    401: "not authenticated (no, expired or forged token)",
    403: "forbidden",
    404: "not found (upstream)",
    413: "body too large",
    429: "rate limited",
    500: "upstream error, passed through",
    502: "upstream dropped the connection",
    503: "upstream unavailable or circuit open",
    504: "upstream timed out",
}


@dataclass(frozen=True)
class Call:
    scenario: str
    method: str
    path: str
    principal: str | None = None  # a key of Credentials.tokens, or None for no Authorization
    body: dict[str, Any] | None = None


@dataclass
class Result:
    scenario: str
    method: str
    path: str
    status: int
    latency_ms: float


@dataclass
class Credentials:
    secret: str
    audience: str | None = None
    issuer: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def mint(self, subject: str, lifetime_s: int = 3600, secret: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + lifetime_s}
        if self.audience:
            claims["aud"] = self.audience
        if self.issuer:
            claims["iss"] = self.issuer
        return jwt.encode(claims, secret or self.secret, algorithm="HS256")


@dataclass
class Plan:
    """How many requests of each kind; derived from the total so any size stays realistic."""

    requests: int = DEFAULT_REQUESTS
    seed: int = 7
    jwt_users: list[str] = field(default_factory=list)
    session_users: list[str] = field(default_factory=list)
    logins: list[Call] = field(default_factory=list)
    main: list[Call] = field(default_factory=list)
    burst: list[Call] = field(default_factory=list)
    logouts: list[Call] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.logins) + len(self.main) + len(self.burst) + len(self.logouts)


def _browse(rng: random.Random, principal: str) -> Call:
    scenario = "session user" if principal.startswith("session:") else "jwt user"
    roll = rng.random()
    user_id = rng.randint(1, 520)  # a few ids past 500 do not exist: 404
    product_id = rng.randint(1, 210)
    if roll < 0.25:
        return Call(scenario, "GET", f"/api/users/{user_id}", principal)
    if roll < 0.32:
        return Call(scenario, "GET", f"/api/users/{user_id}/preferences", principal)
    if roll < 0.37:
        return Call(scenario, "GET", "/api/users?limit=10", principal)
    if roll < 0.57:
        return Call(scenario, "GET", f"/api/products/{product_id}", principal)
    if roll < 0.70:
        return Call(scenario, "GET", "/api/products?limit=20", principal)
    if roll < 0.88:
        return Call(scenario, "GET", "/api/orders", principal)
    if roll < 0.95:
        return Call(scenario, "GET", f"/api/orders/{rng.randint(10**8, 10**9)}", principal)
    return Call(scenario, "PATCH", f"/api/users/{user_id}", principal, {"theme": "dark"})


def build_plan(requests: int = DEFAULT_REQUESTS, seed: int = 7, stuck_calls: int = 2) -> Plan:
    """The request mix. Every browsing user stays under ~60 requests, below a 100/60 limit."""
    if requests < 400:
        raise ValueError("at least 400 requests: the bursts alone take 300")
    rng = random.Random(seed)
    plan = Plan(requests=requests, seed=seed)
    burst_total = BURST_PRINCIPALS * BURST_SIZE
    anonymous = min(MAX_ANONYMOUS, requests // 30)
    slow = max(6, requests // 60)
    failing = max(8, requests // 30)
    browsing_budget = requests - burst_total - anonymous - slow - failing - stuck_calls
    people = max(20, math.ceil(browsing_budget / 55))
    sessions = max(4, people * 2 // 5)
    plan.jwt_users = [f"user-{n}" for n in range(1, people - sessions + 1)]
    plan.session_users = [f"member-{n}" for n in range(1, sessions + 1)]
    logouts = sessions // 2
    browsing = browsing_budget - sessions - logouts

    plan.logins = [
        Call("session login", "POST", "/auth/sessions", f"jwt:{user}")
        for user in plan.session_users
    ]
    principals = [f"jwt:{u}" for u in plan.jwt_users] + [f"session:{u}" for u in plan.session_users]
    calls: list[Call] = [_browse(rng, principals[i % len(principals)]) for i in range(browsing)]

    for i in range(anonymous):
        kind = i % 4
        if kind == 0:
            calls.append(Call("anonymous", "GET", "/health/live"))
        elif kind == 1:
            calls.append(Call("anonymous", "GET", "/api/products?limit=5"))
        elif kind == 2:
            calls.append(Call("anonymous", "GET", "/api/orders", "expired"))
        else:
            calls.append(Call("anonymous", "GET", "/api/users/1", "forged"))
    jwt_principals = [f"jwt:{u}" for u in plan.jwt_users]
    for i in range(slow):
        who = jwt_principals[(i * 7) % len(jwt_principals)]
        if i % 3 == 2:
            calls.append(Call("slow upstream", "GET", "/api/orders/reports/monthly", who))
        else:
            calls.append(
                Call(
                    "slow upstream",
                    "GET",
                    f"/api/products/search?q={rng.choice(['desk', 'lamp', 'dock', 'cable'])}",
                    who,
                )
            )
    for i in range(failing):
        who = jwt_principals[(i * 11 + 3) % len(jwt_principals)]
        kind = i % 5
        if kind in (0, 1):
            calls.append(
                Call(
                    "failing upstream", "GET", f"/api/products/{rng.randint(1, 200)}/inventory", who
                )
            )
        elif kind in (2, 3):
            calls.append(
                Call(
                    "failing upstream",
                    "POST",
                    "/api/orders",
                    who,
                    {"items": [{"product_id": rng.randint(1, 200), "qty": 1}]},
                )
            )
        else:
            calls.append(Call("failing upstream", "GET", "/api/orders/legacy/export", who))
    rng.shuffle(calls)
    # The stuck calls go first: they wait out the gateway's timeout while the rest runs.
    stuck = [
        Call(
            "failing upstream", "GET", "/api/orders/stuck", jwt_principals[i % len(jwt_principals)]
        )
        for i in range(stuck_calls)
    ]
    plan.main = stuck + calls

    for n in range(1, BURST_PRINCIPALS + 1):
        plan.burst += [
            Call("burst", "GET", f"/api/products/{(i % 200) + 1}", f"jwt:crawler-{n}")
            for i in range(BURST_SIZE)
        ]
    plan.logouts = [
        Call("session logout", "DELETE", "/auth/sessions/current", f"session:{u}")
        for u in plan.session_users[:logouts]
    ]
    return plan


def session_token(body: Any) -> str | None:
    """The opaque token in a `POST /auth/sessions` answer."""
    if not isinstance(body, dict):
        return None
    for key in ("token", "session_token", "access_token"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass
class Report:
    results: list[Result]
    wall_s: float
    sessions_created: int = 0

    @property
    def by_status(self) -> Counter[int]:
        return Counter(r.status for r in self.results)

    def by_scenario(self) -> dict[str, Counter[int]]:
        table: dict[str, Counter[int]] = defaultdict(Counter)
        for r in self.results:
            table[r.scenario][r.status] += 1
        return dict(table)

    def latency_pct(self, pct: float, scenario: str | None = None) -> float:
        values = sorted(
            r.latency_ms for r in self.results if scenario is None or r.scenario == scenario
        )
        if not values:
            return 0.0
        rank = (len(values) - 1) * pct / 100
        low, high = math.floor(rank), math.ceil(rank)
        return values[low] + (values[high] - values[low]) * (rank - low)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": len(self.results),
            "wall_s": round(self.wall_s, 2),
            "requests_per_s": round(len(self.results) / self.wall_s, 1) if self.wall_s else 0.0,
            "sessions_created": self.sessions_created,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_scenario": {
                s: {str(k): v for k, v in sorted(c.items())} for s, c in self.by_scenario().items()
            },
            "latency_ms": {f"p{p}": round(self.latency_pct(p), 1) for p in (50, 90, 99)},
        }


class Driver:
    def __init__(
        self,
        gateway_url: str,
        credentials: Credentials,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_s: float = 45.0,
        on_result: Callable[[Result], None] | None = None,
    ):
        self.gateway_url = gateway_url.rstrip("/")
        self.credentials = credentials
        self.concurrency = concurrency
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.on_result = on_result or (lambda _: None)
        self.results: list[Result] = []
        self.window_s = 60  # the rate limit's window, learned from RateLimit-Policy headers

    def _headers(self, principal: str | None) -> dict[str, str]:
        if principal is None:
            return {}
        token = self.credentials.tokens.get(principal)
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, http: aiohttp.ClientSession, call: Call) -> tuple[Result, Any]:
        started = time.perf_counter()
        body: Any = None
        try:
            async with http.request(
                call.method,
                self.gateway_url + call.path,
                json=call.body,
                headers=self._headers(call.principal),
            ) as response:
                raw = await response.read()
                status = response.status
                self._learn_policy(response.headers.get("RateLimit-Policy"))
            if raw and status in (200, 201):
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
        except (TimeoutError, aiohttp.ClientError, OSError):
            status = 0
        result = Result(
            call.scenario, call.method, call.path, status, (time.perf_counter() - started) * 1000
        )
        self.results.append(result)
        self.on_result(result)
        return result, body

    def _learn_policy(self, header: str | None) -> None:
        """`"default";q=100;w=60` (draft-ietf-httpapi-ratelimit-headers) -> the window length."""
        match = re.search(r";\s*w=(\d+)", header or "")
        if match:
            self.window_s = int(match.group(1))

    async def run_all(
        self, http: aiohttp.ClientSession, calls: list[Call], concurrency: int
    ) -> list[tuple[Result, Any]]:
        gate = asyncio.Semaphore(concurrency)

        async def one(call: Call) -> tuple[Result, Any]:
            async with gate:
                return await self.call(http, call)

        return await asyncio.gather(*(one(c) for c in calls))

    async def drive(self, plan: Plan) -> Report:
        creds = self.credentials
        for user in [
            *plan.jwt_users,
            *plan.session_users,
            *(f"crawler-{n}" for n in range(1, BURST_PRINCIPALS + 1)),
        ]:
            creds.tokens[f"jwt:{user}"] = creds.mint(user)
        creds.tokens["expired"] = creds.mint("user-1", lifetime_s=-600)
        creds.tokens["forged"] = creds.mint("user-1", secret="not-the-gateway-secret-" + "x" * 16)
        started = time.perf_counter()
        connector = aiohttp.TCPConnector(limit=max(self.concurrency, 64))
        async with aiohttp.ClientSession(connector=connector, timeout=self.timeout) as http:
            sessions = 0
            for (result, body), call in zip(
                await self.run_all(http, plan.logins, self.concurrency), plan.logins, strict=True
            ):
                token = session_token(body) if result.status == 201 else None
                if token:
                    creds.tokens["session:" + call.principal.removeprefix("jwt:")] = token  # type: ignore[union-attr]
                    sessions += 1
            await self.run_all(http, plan.main, self.concurrency)
            await _avoid_window_edge(self.window_s)
            await self.run_all(http, plan.burst, 64)
            await self.run_all(http, plan.logouts, self.concurrency)
        return Report(list(self.results), time.perf_counter() - started, sessions_created=sessions)


async def _avoid_window_edge(window_s: int = 60, margin_s: float = 10.0) -> None:
    """Start a burst well inside one fixed rate-limit window, so it reliably crosses the limit."""
    into = time.time() % window_s
    if window_s > 2 * margin_s and into > window_s - margin_s:
        await asyncio.sleep(window_s - into + 0.2)


def summary_tables(report: Report) -> list[Table]:
    totals = report.by_status
    status_table = Table(
        title=f"{len(report.results)} requests in {report.wall_s:.1f} s ({len(report.results) / max(report.wall_s, 1e-9):.0f} req/s)"
    )
    status_table.add_column("status", justify="right")
    status_table.add_column("count", justify="right")
    status_table.add_column("share", justify="right")
    status_table.add_column("meaning")
    for status, count in sorted(totals.items()):
        status_table.add_row(
            str(status),
            str(count),
            f"{100 * count / len(report.results):.1f}%",
            STATUS_MEANING.get(status, ""),
        )

    scenario_table = Table(title="by kind of caller")
    scenario_table.add_column("caller")
    scenario_table.add_column("requests", justify="right")
    scenario_table.add_column("statuses")
    scenario_table.add_column("p50 ms", justify="right")
    scenario_table.add_column("p99 ms", justify="right")
    for scenario, counts in sorted(report.by_scenario().items()):
        statuses = "  ".join(f"{s}x{n}" for s, n in sorted(counts.items()))
        scenario_table.add_row(
            scenario,
            str(sum(counts.values())),
            statuses,
            f"{report.latency_pct(50, scenario):.0f}",
            f"{report.latency_pct(99, scenario):.0f}",
        )
    return [status_table, scenario_table]


def run(
    gateway_url: str,
    credentials: Credentials,
    plan: Plan,
    console: Console,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Report:
    columns = (
        TextColumn("[bold]traffic"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[codes]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("traffic", total=plan.total, codes="")
        seen: Counter[int] = Counter()

        def tick(result: Result) -> None:
            seen[result.status] += 1
            codes = " ".join(f"{s}:{n}" for s, n in sorted(seen.items()))
            progress.update(task, advance=1, codes=codes)

        driver = Driver(gateway_url, credentials, concurrency=concurrency, on_result=tick)
        return asyncio.run(driver.drive(plan))


def from_local_account() -> tuple[str, Credentials]:
    """The running local account's gateway URL and JWT settings (from .opskit/local.json)."""
    from opskit.app import App
    from opskit.config import load_environment
    from opskit.errors import LocalAccountError
    from opskit.local.state import LocalState

    app = App(env=load_environment("local"))
    env = app.env
    state = LocalState.load(env)
    if state is None or not state.gateway_url or "gateway" not in state.pids:
        raise LocalAccountError(
            "no local gateway is running",
            f"{LocalState.path(env)} has no gateway",
            "run `opskit --env local local up` and `opskit --env local deploy --yes` first",
        )
    variables: dict[str, str] = {}
    try:
        function = (
            app.emulator_clients(state.endpoint_url, env.region)
            .lambda_()
            .get_function_configuration(FunctionName=env.function_name)
        )
        variables = (function.get("Environment") or {}).get("Variables") or {}
    except Exception:  # no function locally: no audience or issuer either
        pass
    secret = variables.get("GATEWAY_JWT_SECRET") or str(state.extra.get("jwt_secret") or "")
    return state.gateway_url, Credentials(
        secret,
        audience=variables.get("GATEWAY_JWT_AUDIENCE") or None,
        issuer=variables.get("GATEWAY_JWT_ISSUER") or None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opskit.demo.traffic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--gateway", help="gateway base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--from-local",
        action="store_true",
        help="use the local account's gateway and JWT secret (.opskit/local.json)",
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("GATEWAY_JWT_SECRET"),
        help="HS256 secret the gateway verifies (default $GATEWAY_JWT_SECRET)",
    )
    parser.add_argument("--audience", default=os.environ.get("GATEWAY_JWT_AUDIENCE"))
    parser.add_argument("--issuer", default=os.environ.get("GATEWAY_JWT_ISSUER"))
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"about how many requests (default {DEFAULT_REQUESTS}, at least 400)",
    )
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument(
        "--stuck-calls",
        type=int,
        default=2,
        help="calls to a backend that never answers (504 after the gateway's timeout)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    console, errors = Console(), Console(stderr=True, highlight=False)
    if args.from_local:
        from opskit.errors import OpsError

        try:
            args.gateway, credentials = from_local_account()
        except OpsError as exc:
            errors.print(f"Error: {exc.format_line()}", markup=False)
            return exc.exit_code
    else:
        credentials = Credentials(args.secret or "", args.audience, args.issuer)
    if not args.gateway:
        errors.print("Error: no gateway: pass --gateway URL or --from-local", markup=False)
        return 2
    if not credentials.secret:
        errors.print(
            "Error: no JWT secret: pass --secret or set GATEWAY_JWT_SECRET (the gateway's HS256 key)",
            markup=False,
        )
        return 2
    try:
        plan = build_plan(args.requests, seed=args.seed, stuck_calls=args.stuck_calls)
    except ValueError as exc:
        errors.print(f"Error: bad --requests: {exc}", markup=False)
        return 2
    report = run(args.gateway, credentials, plan, console, args.concurrency)
    for table in summary_tables(report):
        console.print(table)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(report.to_dict(), handle, indent=2)
    answered = len(report.results) - report.by_status.get(0, 0)
    if answered == 0:
        errors.print(
            f"Error: the gateway at {args.gateway} answered no request (is it running?)",
            markup=False,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
