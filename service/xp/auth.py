"""API keys with scopes, sent as ``Authorization: Bearer <key>`` and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request, session

from xp.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

# A scope grants itself and everything below it.
GRANTS = {"admin": {"admin", "sdk"}, "sdk": {"sdk"}}
# A login lasts this long; a copied cookie is useless afterwards.
SESSION_MAX_AGE = 12 * 3600


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
    return session_scope(keys) if current_app.secret_key else None


def key_digest(key: str) -> str:
    """What the login cookie holds instead of the key: Flask signs its session cookie but does
    not encrypt it, so the key itself must never be in it."""
    secret = str(current_app.secret_key).encode()
    return hmac.new(secret, b"xp-login:" + key.encode(), hashlib.sha256).hexdigest()


def start_session(key: str) -> None:
    session.clear()
    session["key_digest"] = key_digest(key)
    session["issued"] = int(time.time())


def session_scope(keys: Mapping[str, str]) -> str | None:
    """Scope of the key the session logged in with, while the login is fresh."""
    digest, issued = session.get("key_digest"), session.get("issued")
    if not isinstance(digest, str) or not isinstance(issued, int):
        return None
    if not 0 <= time.time() - issued <= SESSION_MAX_AGE:
        return None
    found = None
    for known, scope in keys.items():
        if hmac.compare_digest(digest.encode(), key_digest(known).encode()):
            found = scope
    return found


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
