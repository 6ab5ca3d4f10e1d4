"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from service.api import analyze, assign, definitions, events, health, results, units
from service.errors import register_error_handlers
from service.runtime import Runtime
from service.settings import Settings
from service.web import exports, pages

log = logging.getLogger("xp.service")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from ``XP_*`` variables, overridden by ``test_config`` (Settings fields)."""
    settings = Settings.from_env()
    if test_config:
        settings = settings.replace(**dict(test_config))
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__)
    app.config["XP_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies
    app.extensions["xp"] = Runtime(settings)
    register_error_handlers(app)
    for module in (assign, events, definitions, results, units, analyze, health):
        app.register_blueprint(module.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(exports.bp)
    if not settings.api_keys:
        log.warning("XP_API_KEYS is not set: the API is open to anyone who can reach it")
    return app
