"""Run the gateway under uvicorn (local runs): ``python -m gateway.serve [APP] [uvicorn options]``.

``APP`` defaults to ``gateway.app:app``; every other argument goes to uvicorn unchanged. The one
difference from ``uvicorn`` itself is whom it believes about the client's address. uvicorn's
default trusts ``X-Forwarded-For``/``X-Forwarded-Proto`` from 127.0.0.1 and ::1, which on a
developer machine is every client: any of them could choose its own ``client_ip`` (and with it
the per-IP limit on failed sign-ins). Here proxy headers are ignored unless
``GATEWAY_TRUSTED_PROXIES`` names the proxies in front of the gateway (comma-separated addresses
or CIDR ranges, uvicorn's ``--forwarded-allow-ips`` syntax); only a request arriving from one of
them has its forwarded client address believed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

DEFAULT_APP = "gateway.app:app"


def uvicorn_args(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """uvicorn's command line for ``argv`` (ours) under the trusted-proxies setting."""
    args = list(argv)
    app = args.pop(0) if args and not args[0].startswith("-") else DEFAULT_APP
    trusted = env.get("GATEWAY_TRUSTED_PROXIES", "").strip()
    proxy = (
        ["--proxy-headers", "--forwarded-allow-ips", trusted] if trusted else ["--no-proxy-headers"]
    )
    return [app, *args, *proxy]  # last: uvicorn (click) keeps the last value of a repeated flag


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    uvicorn.main.main(
        args=uvicorn_args(sys.argv[1:] if argv is None else argv, os.environ),
        prog_name="gateway.serve",
    )


if __name__ == "__main__":
    main()
