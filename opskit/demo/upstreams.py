"""Demo upstream services behind the gateway: users, products and orders.

Small real HTTP services (aiohttp) on 127.0.0.1, one free port each, with the
slowness and failures real backends have, so the gateway's logs, alarms and cost
figures have something to show:

- users:    GET /            list            fast (3-15 ms)
            GET /{id}        one user        404 for ids outside 1..500
            GET /{id}/preferences
            PATCH /{id}      update (echo)
- products: GET /            catalogue page  10-30 ms
            GET /{id}        one product     404 outside 1..200
            GET /search?q=   slow: full-text search without an index (0.3-1.5 s)
            GET /{id}/inventory  3 % answer 503 (inventory backend down), Retry-After: 2
- orders:   GET /            the caller's orders (X-User-ID set by the gateway)
            POST /           create: 201, 5 % answer 500 (payment provider error)
            GET /{id}        one order
            GET /reports/monthly  very slow report (1.2-2.5 s)
            GET /legacy/export    drops the connection (the gateway answers 502)
            GET /stuck            never answers in time (the gateway answers 504)

Paths are relative to the service root: the gateway strips `/api/<service>`.
Every service also answers `GET /__demo/stats` (requests served, by status;
status 0 = connection dropped).

Run all three as one process (what `make demo` does):

    python -m opskit.demo.upstreams [--seed 7] [--latency-scale 1.0] [--stuck-s 35]

It prints one JSON line on stdout with the base URLs, e.g.
`{"users": "http://127.0.0.1:40123", "products": ..., "orders": ..., "pid": 1234}`,
then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

SERVICES = ("users", "products", "orders")
USER_IDS = range(1, 501)
PRODUCT_IDS = range(1, 201)
FIRST_NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Radia",
    "Ken",
    "Frances",
    "Leslie",
)
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Perlman",
    "Thompson",
    "Allen",
    "Lamport",
)
PRODUCT_WORDS = (
    "keyboard",
    "monitor",
    "cable",
    "lamp",
    "desk",
    "chair",
    "headset",
    "webcam",
    "dock",
    "mouse",
)


@dataclass
class Behaviour:
    """Knobs for slowness and failures; one seeded RNG per service keeps runs repeatable."""

    seed: int = 7
    latency_scale: float = 1.0  # multiplies every artificial delay (tests use less)
    stuck_s: float = 35.0  # how long /orders/stuck waits: longer than the gateway's timeout
    inventory_failure_rate: float = 0.03
    order_failure_rate: float = 0.05
    rngs: dict[str, random.Random] = field(default_factory=dict)
    served: dict[str, Counter[int]] = field(default_factory=dict)

    def rng(self, service: str) -> random.Random:
        if service not in self.rngs:
            self.rngs[service] = random.Random(f"{self.seed}:{service}")
        return self.rngs[service]

    async def pause(self, service: str, low_ms: float, high_ms: float) -> None:
        """Sleep a log-uniform time in [low_ms, high_ms] (most calls fast, a long tail)."""
        rng = self.rng(service)
        ms = low_ms * (high_ms / low_ms) ** rng.random()
        await asyncio.sleep(ms * self.latency_scale / 1000)


def _user(user_id: int) -> dict[str, object]:
    first = FIRST_NAMES[user_id % len(FIRST_NAMES)]
    last = LAST_NAMES[(user_id // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return {
        "id": user_id,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{user_id}@example.com",
        "plan": ("free", "pro", "team")[user_id % 3],
    }


def _product(product_id: int) -> dict[str, object]:
    word = PRODUCT_WORDS[product_id % len(PRODUCT_WORDS)]
    return {
        "id": product_id,
        "name": f"{word.title()} model {product_id}",
        "price_cents": 999 + (product_id * 731) % 40000,
        "currency": "USD",
    }


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _not_found(what: str) -> web.Response:
    return web.json_response(
        {"error": {"code": "not_found", "message": f"{what} not found"}}, status=404
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _counting(service: str, behaviour: Behaviour) -> Callable[..., Awaitable[web.StreamResponse]]:
    counter = behaviour.served.setdefault(service, Counter())

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            counter[exc.status] += 1
            raise
        if request.path != "/__demo/stats":
            dropped = request.transport is None or request.transport.is_closing()
            counter[0 if dropped else response.status] += 1  # 0 = connection dropped
        return response

    return middleware


def _stats_route(service: str, behaviour: Behaviour) -> web.RouteDef:
    async def stats(_: web.Request) -> web.Response:
        counts = behaviour.served.get(service, Counter())
        return web.json_response(
            {
                "service": service,
                "requests": sum(counts.values()),
                "by_status": {str(k): v for k, v in sorted(counts.items())},
            }
        )

    return web.get("/__demo/stats", stats)


def users_app(behaviour: Behaviour) -> web.Application:
    app = web.Application(middlewares=[_counting("users", behaviour)])

    async def list_users(request: web.Request) -> web.Response:
        await behaviour.pause("users", 3, 15)
        limit = min(_int_or_none(request.query.get("limit", "")) or 20, 100)
        return web.json_response(
            {"items": [_user(i) for i in range(1, limit + 1)], "total": len(USER_IDS)}
        )

    async def get_user(request: web.Request) -> web.Response:
        await behaviour.pause("users", 2, 10)
        user_id = _int_or_none(request.match_info["id"])
        if user_id is None or user_id not in USER_IDS:
            return _not_found("user")
        return web.json_response(_user(user_id))

    async def preferences(request: web.Request) -> web.Response:
        await behaviour.pause("users", 4, 20)
        user_id = _int_or_none(request.match_info["id"])
        if user_id is None or user_id not in USER_IDS:
            return _not_found("user")
        return web.json_response(
            {
                "user_id": user_id,
                "theme": ("dark", "light")[user_id % 2],
                "newsletter": user_id % 4 == 0,
            }
        )

    async def update_user(request: web.Request) -> web.Response:
        await behaviour.pause("users", 8, 30)
        user_id = _int_or_none(request.match_info["id"])
        if user_id is None or user_id not in USER_IDS:
            return _not_found("user")
        try:
            changes = await request.json()
        except ValueError:
            return web.json_response(
                {"error": {"code": "bad_request", "message": "body is not JSON"}}, status=400
            )
        return web.json_response(
            {**_user(user_id), **(changes if isinstance(changes, dict) else {})}
        )

    app.add_routes(
        [
            _stats_route("users", behaviour),
            web.get("/", list_users),
            web.get("/{id}", get_user),
            web.get("/{id}/preferences", preferences),
            web.patch("/{id}", update_user),
        ]
    )
    return app


def products_app(behaviour: Behaviour) -> web.Application:
    app = web.Application(middlewares=[_counting("products", behaviour)])

    async def list_products(request: web.Request) -> web.Response:
        await behaviour.pause("products", 10, 30)
        limit = min(_int_or_none(request.query.get("limit", "")) or 20, 100)
        return web.json_response(
            {"items": [_product(i) for i in range(1, limit + 1)], "total": len(PRODUCT_IDS)}
        )

    async def search(request: web.Request) -> web.Response:
        await behaviour.pause("products", 300, 1500)  # a LIKE '%q%' over the catalogue
        query = request.query.get("q", "").lower()
        hits = [
            _product(i) for i in PRODUCT_IDS if query and query in str(_product(i)["name"]).lower()
        ]
        return web.json_response({"query": query, "items": hits[:20], "total": len(hits)})

    async def get_product(request: web.Request) -> web.Response:
        await behaviour.pause("products", 4, 20)
        product_id = _int_or_none(request.match_info["id"])
        if product_id is None or product_id not in PRODUCT_IDS:
            return _not_found("product")
        return web.json_response(_product(product_id))

    async def inventory(request: web.Request) -> web.Response:
        await behaviour.pause("products", 15, 60)
        product_id = _int_or_none(request.match_info["id"])
        if product_id is None or product_id not in PRODUCT_IDS:
            return _not_found("product")
        if behaviour.rng("products").random() < behaviour.inventory_failure_rate:
            return web.json_response(
                {"error": {"code": "unavailable", "message": "inventory backend unavailable"}},
                status=503,
                headers={"Retry-After": "2"},
            )
        return web.json_response({"product_id": product_id, "in_stock": (product_id * 37) % 50})

    app.add_routes(
        [
            _stats_route("products", behaviour),
            web.get("/", list_products),
            web.get("/search", search),
            web.get("/{id}", get_product),
            web.get("/{id}/inventory", inventory),
        ]
    )
    return app


def orders_app(behaviour: Behaviour) -> web.Application:
    app = web.Application(middlewares=[_counting("orders", behaviour)])

    def caller(request: web.Request) -> str:
        return request.headers.get("X-User-ID", "anonymous")

    async def list_orders(request: web.Request) -> web.Response:
        await behaviour.pause("orders", 10, 40)
        user = caller(request)
        items = [
            {"id": f"{user}-{n}", "user_id": user, "total_cents": 1000 + n * 250}
            for n in range(1, 6)
        ]
        return web.json_response({"items": items})

    async def create_order(request: web.Request) -> web.Response:
        await behaviour.pause("orders", 30, 120)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                {"error": {"code": "bad_request", "message": "body is not JSON"}}, status=400
            )
        if behaviour.rng("orders").random() < behaviour.order_failure_rate:
            return web.json_response(
                {"error": {"code": "payment_failed", "message": "payment provider error"}},
                status=500,
            )
        order_id = behaviour.rng("orders").randrange(10**8, 10**9)
        return web.json_response(
            {
                "id": str(order_id),
                "user_id": caller(request),
                "items": body.get("items", []) if isinstance(body, dict) else [],
            },
            status=201,
        )

    async def get_order(request: web.Request) -> web.Response:
        await behaviour.pause("orders", 5, 25)
        return web.json_response(
            {"id": request.match_info["id"], "user_id": caller(request), "status": "shipped"}
        )

    async def monthly_report(_: web.Request) -> web.Response:
        await behaviour.pause("orders", 1200, 2500)  # aggregates a month of orders on every call
        return web.json_response({"month": "current", "orders": 1234, "revenue_cents": 9876543})

    async def legacy_export(request: web.Request) -> web.Response:
        await behaviour.pause("orders", 5, 20)
        if request.transport is not None:
            request.transport.abort()  # the legacy exporter crashes mid-request: connection reset
        return web.Response(status=500)  # never sent: the connection is already gone

    async def stuck(_: web.Request) -> web.Response:
        await asyncio.sleep(behaviour.stuck_s)  # a deadlocked backend
        return web.json_response({"status": "finally"})

    app.add_routes(
        [
            _stats_route("orders", behaviour),
            web.get("/", list_orders),
            web.post("/", create_order),
            web.get("/reports/monthly", monthly_report),
            web.get("/legacy/export", legacy_export),
            web.get("/stuck", stuck),
            web.get("/{id}", get_order),
        ]
    )
    return app


APP_FACTORIES = {"users": users_app, "products": products_app, "orders": orders_app}


class Upstreams:
    """The three services on free ports of 127.0.0.1, in the current event loop."""

    def __init__(self, behaviour: Behaviour | None = None, host: str = "127.0.0.1"):
        self.behaviour = behaviour or Behaviour()
        self.host = host
        self.urls: dict[str, str] = {}
        self._runners: list[web.AppRunner] = []

    async def start(self) -> dict[str, str]:
        for name in SERVICES:
            runner = web.AppRunner(
                APP_FACTORIES[name](self.behaviour), access_log=None, shutdown_timeout=1.0
            )
            await runner.setup()
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
            self._runners.append(runner)
            port = runner.addresses[0][1]
            self.urls[name] = f"http://{self.host}:{port}"
        return dict(self.urls)

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def serve(behaviour: Behaviour, announce: Callable[[dict[str, object]], None]) -> None:
    upstreams = Upstreams(behaviour)
    urls = await upstreams.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    announce({**urls, "pid": os.getpid()})
    try:
        await stop.wait()
    finally:
        await upstreams.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opskit.demo.upstreams", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed for latencies and failures (default 7)"
    )
    parser.add_argument(
        "--latency-scale", type=float, default=1.0, help="multiply every artificial delay"
    )
    parser.add_argument(
        "--stuck-s", type=float, default=35.0, help="how long GET /orders/stuck hangs"
    )
    args = parser.parse_args(argv)
    behaviour = Behaviour(seed=args.seed, latency_scale=args.latency_scale, stuck_s=args.stuck_s)

    def announce(info: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    asyncio.run(serve(behaviour, announce))
    return 0


if __name__ == "__main__":
    sys.exit(main())
