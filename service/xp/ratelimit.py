"""Rate limits by Flask-Limiter: the login form by client address, the JSON API by API key.

The counters live in the configured store's Redis when there is one (every worker and every
instance shares them), in each process's memory otherwise. A Redis outage does not fail a
request: the limiter logs it and counts in memory until Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from xp.auth import bearer_token, scope_of
from xp.redaction import redact
from xp.settings import Settings

log = logging.getLogger("xp.service")

OFF = "off"
KEY_PREFIX = "xp-ratelimit"
# limits' name for each store URL scheme it can share.
SCHEMES = {
    "redis://": "redis://",
    "rediss://": "rediss://",
    "unix://": "redis+unix://",
    "redis+cluster://": "redis+cluster://",
}


def storage_uri(store_url: str | None) -> str:
    """Where the counters live: the store's Redis, or memory for SQLite and the rest."""
    for scheme, theirs in SCHEMES.items():
        if store_url and store_url.startswith(scheme):
            return theirs + store_url[len(scheme) :]
    return "memory://"


def client_address() -> str:
    return request.remote_addr or "unknown"


def api_bucket() -> str:
    """One bucket per configured API key (its digest: the key never lands in Redis); a
    request without a valid key counts against its address."""
    token = bearer_token()
    keys = current_app.config["XP_SETTINGS"].api_keys
    if token is not None and scope_of(token, keys) is not None:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + client_address()


def install_rate_limits(
    app: Flask, settings: Settings, login: Blueprint, api: Iterable[Blueprint]
) -> Limiter:
    """Limit POSTs to ``login``'s endpoints by address and every ``api`` blueprint by key."""
    uri = storage_uri(settings.store_url)
    options = {
        "key_func": client_address,
        "headers_enabled": True,
        "swallow_errors": True,
        "in_memory_fallback_enabled": uri != "memory://",
        "key_prefix": KEY_PREFIX,
        "strategy": "fixed-window",
    }
    try:
        limiter = Limiter(storage_uri=uri, **options)  # type: ignore[arg-type]
        limiter.init_app(app)
    except Exception as exc:  # a cluster that cannot be reached at start: count in memory
        log.warning("rate limits count in memory: %s", redact(f"{type(exc).__name__}: {exc}"))
        limiter = Limiter(storage_uri="memory://", **options)  # type: ignore[arg-type]
        limiter.init_app(app)
    limited = []
    if settings.rate_limit_login != OFF:
        limiter.limit(settings.rate_limit_login, methods=["POST"])(login)
        limited.append(login)
    if settings.rate_limit_api != OFF:
        # One budget per key over the whole API, not one per route.
        shared = limiter.shared_limit(settings.rate_limit_api, scope="api", key_func=api_bucket)
        for blueprint in api:
            shared(blueprint)
            limited.append(blueprint)
    _check_only(app, limiter, limited)
    return limiter


def _check_only(app: Flask, limiter: Limiter, blueprints: list[Blueprint]) -> None:
    """Run the limiter's check before the requests of ``blueprints`` only.

    Flask-Limiter checks before every request of the app, resolving limits even for routes that
    have none; on a cheap request (assign, config) that is a large share of its time. Its hook
    is moved to the limited blueprints (limits are resolved the same way: by blueprint name).
    """
    hooks = app.before_request_funcs.get(None, [])
    check = next((f for f in hooks if getattr(f, "__self__", None) is limiter), None)
    if check is None:  # another Flask-Limiter: leave its app-wide check as it is
        return
    hooks.remove(check)
    for blueprint in blueprints:
        app.before_request_funcs.setdefault(blueprint.name, []).insert(0, check)
    # Its header and context hooks after the request have nothing to do where it did not
    # check: they follow the check (one is a partial of the class's method, one bound).
    for registry in (app.after_request_funcs, app.teardown_request_funcs):
        own = [f for f in registry.get(None, []) if _of_limiter(f, limiter)]
        for f in own:
            registry[None].remove(f)
            for blueprint in blueprints:
                registry.setdefault(blueprint.name, []).append(f)


def _of_limiter(hook: object, limiter: Limiter) -> bool:
    if getattr(hook, "__self__", None) is limiter:
        return True
    return limiter in getattr(hook, "args", ())
