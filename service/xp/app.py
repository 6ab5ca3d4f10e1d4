"""The Flask application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from xp import logs, redaction
from xp.api import (
    analyze,
    assign,
    definitions,
    events,
    features,
    health,
    metrics,
    openapi,
    results,
    units,
)
from xp.api.assign_route import AssignRoute
from xp.api.encoding import OrjsonProvider
from xp.errors import register_error_handlers
from xp.persistence import check_store_persistence
from xp.ratelimit import install_rate_limits
from xp.runtime import Runtime
from xp.settings import Settings
from xp.web import exports, pages, session

log = logging.getLogger("xp.service")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from ``XP_*`` variables, overridden by ``test_config`` (Settings fields)."""
    settings = Settings.from_env()
    if test_config:
        settings = settings.replace(**dict(test_config))
    redaction.register(settings.store_url)
    logs.configure(settings.log_level, settings.log_format)
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["XP_SETTINGS"] = settings
    # one byte over the limit, so a chunked body (no Content-Length) can be seen to exceed it
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies
    app.extensions["xp"] = Runtime(settings)
    register_error_handlers(app)
    _around_requests(app)
    for module in (
        assign,
        events,
        features,
        definitions,
        results,
        units,
        analyze,
        health,
        metrics,
        openapi,
    ):
        app.register_blueprint(module.bp)
    for web in (pages, session, exports):
        app.register_blueprint(web.bp)
    limited = (assign, events, definitions, results, units, analyze, exports)
    install_rate_limits(app, settings, session.bp, [m.bp for m in limited])
    if not settings.api_keys:
        log.warning("XP_API_KEYS is not set: the API is open to anyone who can reach it")
    # The plain assignment request skips Flask (xp.api.assign_route); the proxies' view of
    # the client applies to it too, so ProxyFix stays outermost.
    route = AssignRoute(app, app.wsgi_app)
    app.extensions["xp.assign_route"] = route
    app.wsgi_app = route  # type: ignore[method-assign]
    if settings.proxy_hops:  # the client's address and scheme as the trusted proxies saw them
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    check_store_persistence(settings.store_url)
    return app


# Label values must come from a fixed set: a client inventing methods must not invent series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Where the hooks keep a request's start and log-context token (its environ, not ``g``).
STARTED = "xp.started"
ID_TOKEN = "xp.request_id_token"


def _around_requests(app: Flask) -> None:
    """Give each request its id (:mod:`xp.logs`) and count and time it by its route (the rule,
    not the path: bounded labels). One hook each side: Flask's per-hook dispatch, ``g`` and a
    teardown cost a cheap request more than the work itself."""
    metrics = app.extensions["xp"].metrics

    @app.before_request
    def _begin() -> None:
        environ = request.environ
        environ[STARTED] = time.perf_counter()
        environ[ID_TOKEN] = logs.begin_request(environ)

    @app.after_request
    def _end(response: Response) -> Response:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        token = environ.pop(ID_TOKEN, None)
        if token is None:  # the request failed before its hook ran
            return response
        logs.end_request(environ, response, token)
        rule = req.url_rule
        method = req.method
        metrics.count_request(
            rule.rule if rule is not None else "(unmatched)",
            method if method in HTTP_METHODS else "OTHER",
            response.status_code,
            time.perf_counter() - environ[STARTED],
        )
        return response
