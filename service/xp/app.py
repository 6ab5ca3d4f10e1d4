"""The Flask application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
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
    if settings.proxy_hops:  # the client's address and scheme as the trusted proxies saw them
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.json = OrjsonProvider(app)
    app.config["XP_SETTINGS"] = settings
    # one byte over the limit, so a chunked body (no Content-Length) can be seen to exceed it
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies
    app.extensions["xp"] = Runtime(settings)
    register_error_handlers(app)
    logs.install_request_ids(app)
    _count_requests(app)
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
    check_store_persistence(settings.store_url)
    return app


# Label values must come from a fixed set: a client inventing methods must not invent series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _count_requests(app: Flask) -> None:
    """Count and time every request by its route (the rule, not the path: bounded labels)."""

    @app.before_request
    def _start() -> None:
        g.xp_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("xp_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
            metrics = app.extensions["xp"].metrics
            metrics.inc(
                "xp_http_requests_total",
                route=route,
                method=request.method if request.method in HTTP_METHODS else "OTHER",
                status=str(response.status_code),
            )
            metrics.observe(
                "xp_http_request_duration_seconds", time.perf_counter() - started, route=route
            )
        return response
