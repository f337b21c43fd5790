"""What never leaves for Sentry: secret values, tokens, cookies, prompts, generated code.

``before_send`` walks the whole event. Known-sensitive fields (request bodies,
cookies, credentials headers, anything keyed like a prompt, bundle, secret or
token) are replaced; every remaining string has our token formats and every
secret value this process decrypted recently replaced too, wherever it hides
(a message, an exception value, a breadcrumb). Stack frames keep file, function
and line number, but lose their local variables and source lines.
"""

from __future__ import annotations

import re
from typing import Any

from store.sensitive_values import SCRUBBED, SENSITIVE

_SENSITIVE_KEY = re.compile(
    r"authorization|cookie|csrf|token|secret|passw|api[_-]?key|prompt|bundle|session|"
    r"ciphertext|plaintext|generated|source_code|files|^body$|^code$",
    re.IGNORECASE,
)


def _walk(node: Any, key: str | None = None) -> Any:
    if isinstance(node, str):
        return SENSITIVE.redact(node)
    if isinstance(node, dict):
        cleaned: dict[str, Any] = {}
        for k, v in node.items():
            name = str(k)
            if _SENSITIVE_KEY.search(name) and v not in (None, ""):
                cleaned[name] = SCRUBBED
            else:
                cleaned[name] = _walk(v, name)
        return cleaned
    if isinstance(node, list | tuple):
        return [_walk(item, key) for item in node]
    return node


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's ``before_send`` (and ``before_send_transaction``)."""
    request = event.get("request")
    if isinstance(request, dict):
        for field in ("cookies", "data", "query_string", "env"):
            if request.get(field):
                request[field] = SCRUBBED
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: (SCRUBBED if _SENSITIVE_KEY.search(k) else v) for k, v in headers.items()
            }
    for frame in _frames(event):
        # No local variables and no source lines: either may hold a secret or code.
        for key in ("vars", "pre_context", "context_line", "post_context"):
            frame.pop(key, None)
    cleaned: dict[str, Any] = _walk(event)
    return cleaned


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for exc in (event.get("exception") or {}).get("values") or []:
        frames.extend((exc.get("stacktrace") or {}).get("frames") or [])
    for thread in (event.get("threads") or {}).get("values") or []:
        frames.extend((thread.get("stacktrace") or {}).get("frames") or [])
    return frames


def scrub_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's ``before_breadcrumb``: the same rules for breadcrumbs."""
    cleaned: dict[str, Any] = _walk(crumb)
    return cleaned
