"""API keys with scopes, sent as ``Authorization: Bearer <key>`` and compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request, session

from service.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

# A scope grants itself and everything below it.
GRANTS = {"admin": {"admin", "sdk"}, "sdk": {"sdk"}}


def scope_of(key: str, keys: Mapping[str, str]) -> str | None:
    """Scope of ``key``: every configured key is compared so timing says nothing of which."""
    found = None
    candidate = key.encode()
    for known, scope in keys.items():
        if hmac.compare_digest(candidate, known.encode()):
            found = scope
    return found


def request_scope() -> str | None:
    keys: Mapping[str, str] = current_app.config["XP_SETTINGS"].api_keys
    if not keys:
        return "admin"  # no keys configured: the service runs open and said so at start
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return scope_of(token.strip(), keys)
    stored = session.get("api_key") if current_app.secret_key else None
    if isinstance(stored, str):
        return scope_of(stored, keys)
    return None


def require(scope: str) -> Callable[[F], F]:
    """Decorate a view so it needs a key granting ``scope``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            check_scope(scope)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def check_scope(scope: str) -> None:
    granted = request_scope()
    if granted is None:
        raise Unauthorized(
            "a valid API key is required: send 'Authorization: Bearer <key>'",
            {"header": "Authorization"},
        )
    if scope not in GRANTS[granted]:
        raise Forbidden(f"this key has scope {granted!r}; this endpoint needs {scope!r}")
