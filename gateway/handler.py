"""The Lambda entry point: ``gateway.handler.handler`` (API Gateway HTTP API, payload v2)."""

from __future__ import annotations

from mangum import Mangum

from gateway.app import app

handler = Mangum(app, lifespan="off")
