"""API keys with scopes, sent as ``Authorization: Bearer <key>`` and compared in constant time.

Scopes: ``sdk`` (assign, events, config), ``viewer`` (pages, results, reports, exports) and
``admin`` (all of it, plus erasure, analyze and metrics). The JSON API takes the bearer header
only; the login session cookie authenticates the pages (``xp.web``), so a page a logged-in
browser is lured to cannot reach the API with its cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request, session

from xp.errors import Forbidden, Unauthorized
from xp.settings import DEFAULT_ENVIRONMENT

F = TypeVar("F", bound=Callable[..., Any])

# What each scope grants.
GRANTS = {"admin": {"admin", "viewer", "sdk"}, "viewer": {"viewer"}, "sdk": {"sdk"}}
# Scopes that may log in to the pages: an SDK key is shipped inside applications.
LOGIN_SCOPES = frozenset({"viewer", "admin"})
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


def bearer_token() -> str | None:
    return bearer_of(request.headers.get("Authorization", ""))


def bearer_of(header: str) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header's value, or None."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_grants(header: str, keys: Mapping[str, str], scope: str) -> bool:
    """Whether the ``Authorization`` header's key grants ``scope`` (open when no keys are
    configured), without a request context: :func:`check_scope`'s rule, for the WSGI route."""
    if not keys:
        return True
    token = bearer_of(header)
    found = None if token is None else scope_of(token, keys)
    return found is not None and scope in GRANTS[found]


def request_scope(allow_session: bool = False) -> str | None:
    """The scope of this request's bearer key; with ``allow_session`` (pages only), of its
    login session when it sends no header."""
    keys: Mapping[str, str] = current_app.config["XP_SETTINGS"].api_keys
    if not keys:
        return "admin"  # no keys configured: the service runs open and said so at start
    token = bearer_token()
    if token is not None:
        return scope_of(token, keys)
    if allow_session and current_app.secret_key:
        return session_scope(keys)
    return None


def request_environment() -> str:
    """The environment of this request's bearer key (``production`` when it names none, or
    when the service runs without keys); compared in constant time like the scope."""
    settings = current_app.config["XP_SETTINGS"]
    token = bearer_token()
    found = DEFAULT_ENVIRONMENT
    if token is not None:
        candidate = token.encode()
        for known, environment in settings.key_environments.items():
            if hmac.compare_digest(candidate, known.encode()):
                found = environment
    return str(found)


def granted(scope: str) -> bool:
    """Whether this request's bearer key grants ``scope`` (for optional details)."""
    found = request_scope()
    return found is not None and scope in GRANTS[found]


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
    found = request_scope()
    if found is None:
        raise Unauthorized(
            "a valid API key is required: send 'Authorization: Bearer <key>'",
            {"header": "Authorization"},
        )
    if scope not in GRANTS[found]:
        raise Forbidden(f"this key has scope {found!r}; this endpoint needs {scope!r}")
