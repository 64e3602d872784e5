"""Mangum for API Gateway HTTP API payload v2 events, with the path as API Gateway delivers it.

API Gateway HTTP APIs hand the function a path that is already percent-decoded once (``rawPath``
and ``requestContext.http.path`` alike; a client's ``/a%2541`` arrives as ``/a%41``), and
Mangum decodes it a second time (``/aA``). ``HttpApiV2`` builds the ASGI scope from the path as
delivered: ``path`` is it unchanged, ``raw_path`` its percent-encoding (every byte outside RFC
3986's unreserved set and ``/``), so the upstream receives what the client meant: ``%2541``
stays ``%2541`` and ``%3B %2B %26 %3D %40`` stay encoded. What API Gateway already decoded
(``%2F``, for one) cannot be told apart from a literal character here.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

from mangum import Mangum
from mangum.handlers import HTTPGateway


class HttpApiV2(HTTPGateway):
    """Mangum's payload-v2 handler without the second decoding of the path."""

    @classmethod
    def infer(cls, event: Any, context: Any, config: Any) -> bool:
        return event.get("version") == "2.0" and "requestContext" in event

    @property
    def scope(self) -> MutableMapping[str, Any]:
        scope = super().scope
        path = self.event.get("rawPath") or self.event["requestContext"]["http"]["path"] or "/"
        scope["path"] = path
        scope["raw_path"] = quote(path, safe="/", errors="surrogatepass").encode()
        return scope


def lambda_handler(asgi_app: Any) -> Mangum:
    """Mangum around ``asgi_app`` with the payload-v2 path fix."""
    return Mangum(asgi_app, lifespan="off", custom_handlers=[HttpApiV2])
