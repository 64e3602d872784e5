"""Lambda's response payload limit, as the Lambda path's responses are serialised.

A synchronous invocation's response may be at most 6,291,456 bytes (6 MB; AWS Lambda quotas),
counted on the JSON document the runtime sends: Mangum's ``{"statusCode", "headers", "cookies",
"body", "isBase64Encoded"}``. Mangum sends a body as text when its content type is one of its
text types and it is UTF-8, else base64 (4 bytes per 3); the runtime's ``json.dumps`` escapes
text (at most 6 bytes per input byte, ``\\u00XX``). Over the limit API Gateway would answer 502
with no body while the access line said 200: the gateway answers its own JSON 502 instead.
"""

from __future__ import annotations

import json

LIMIT = 6_291_456
_ENVELOPE = 96  # {"statusCode":NNN,"headers":,"cookies":,"body":"","isBase64Encoded":false}


def fits(headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
    """Whether Mangum's payload-v2 response for this answer stays within ``LIMIT``."""
    head = _ENVELOPE + sum(len(k) + len(v) + 8 for k, v in headers) * 6
    if head + len(body) * 6 <= LIMIT:  # the worst case fits: no need to encode anything
        return True
    exact_head = _ENVELOPE + len(
        json.dumps([[k.decode("latin-1"), v.decode("utf-8", "replace")] for k, v in headers])
    )
    return exact_head + _body_size(headers, body) <= LIMIT


def _body_size(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

    # Mangum labels a body without a content type application/json, then applies its rule.
    content_type = next((v for k, v in headers if k == b"content-type"), b"application/json")
    if any(t in content_type.decode("latin-1") for t in DEFAULT_TEXT_MIME_TYPES):
        try:
            return len(json.dumps(body.decode("utf-8")))
        except UnicodeDecodeError:
            pass
    return (len(body) + 2) // 3 * 4 + 2
