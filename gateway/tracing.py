"""Tracing behind a deliberately small interface, so X-Ray can be swapped for OpenTelemetry.

``get_tracer(settings_tracing)`` returns a ``NoopTracer`` outside Lambda or when
GATEWAY_TRACING=off; inside Lambda it returns an ``XRayTracer`` that imports aws-xray-sdk
lazily (first use), patches botocore if the process uses it (the request path does not: DynamoDB
is called through ``gateway.aws``), and opens one subsegment per request, named after the route
once routing has found it (``rename``, as OpenTelemetry's ``Span.update_name``), plus one per
outgoing call (``dynamodb.UpdateItem``, ``upstream.<name>``): the gateway's own HTTP client is
traced explicitly here, since the SDK cannot patch it. The X-Ray SDK is in maintenance mode from 2026-02-25.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class Tracer(Protocol):
    enabled: bool

    def segment(self, name: str) -> AbstractContextManager[object]: ...

    def annotate(self, key: str, value: str | int | bool) -> None: ...

    def rename(self, name: str) -> None: ...


class NoopTracer:
    enabled = False

    def segment(self, name: str) -> AbstractContextManager[object]:
        return _NULL

    def annotate(self, key: str, value: str | int | bool) -> None:
        return None

    def rename(self, name: str) -> None:
        return None


_NULL: AbstractContextManager[object] = nullcontext()  # stateless and reusable


class XRayTracer:
    enabled = True

    def __init__(self) -> None:
        self._recorder = None

    def _get(self):  # the SDK type is imported lazily
        if self._recorder is None:
            from aws_xray_sdk.core import patch, xray_recorder

            xray_recorder.configure(context_missing="IGNORE_ERROR")
            if "botocore" in sys.modules:  # only when something loaded it (credential fallback)
                patch(["botocore"])
            self._recorder = xray_recorder
        return self._recorder

    def segment(self, name: str) -> AbstractContextManager[object]:
        try:
            return self._get().in_subsegment(name[:200])
        except Exception:  # tracing must never fail a request
            return nullcontext()

    def annotate(self, key: str, value: str | int | bool) -> None:
        try:
            sub = self._get().current_subsegment()
            if sub is not None:
                sub.put_annotation(key, value)
        except Exception:  # tracing must never fail a request
            pass

    def rename(self, name: str) -> None:
        """Name the innermost open subsegment (sent when it closes, so the name can come late)."""
        try:
            sub = self._get().current_subsegment()
            if sub is not None:
                sub.name = name[:200]
        except Exception:  # tracing must never fail a request
            pass


def get_tracer(enabled: bool, environ: Mapping[str, str] | None = None) -> Tracer:
    env = os.environ if environ is None else environ
    if not enabled or not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return NoopTracer()
    return XRayTracer()
