"""The Lambda entry point: ``gateway.handler.handler`` (API Gateway HTTP API, payload v2)."""

from __future__ import annotations

from gateway.app import app
from gateway.lambda_adapter import lambda_handler

handler = lambda_handler(app)
