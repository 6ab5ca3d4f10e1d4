"""Typed errors and the one JSON body every 4xx and 5xx uses.

``{"error": {"code": ..., "message": ..., "details": ...}}``: raised as :class:`ApiError`
subclasses anywhere, mapped to a response in :func:`register_error_handlers` only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from xp.redaction import redact
from xp.store.base import StoreError

log = logging.getLogger("xp.service")


class ApiError(Exception):
    """Base of every error the API answers with."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class ValidationFailed(ApiError):
    """Details map field paths (``attributes.country``) to lists of messages."""

    status = 422
    code = "validation_failed"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(ApiError):
    status = 503
    code = "unavailable"


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Raw(allow_none=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


ERROR_SCHEMA = ErrorSchema()


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    # Every message goes through the one redaction: a driver's text names hosts and URLs.
    body = ERROR_SCHEMA.dump(
        {"error": {"code": code, "message": redact(message), "details": details}}
    )
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """The one place exceptions become HTTP responses."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(StoreError)
    def _store_error(exc: StoreError) -> Response:
        # A retry is safe: replayed event ids and repeated exposures change nothing.
        # The driver's text (hosts, ports) goes to the log, redacted; the caller gets none.
        log.error("store unavailable: %s", exc)
        return error_response(
            503, ServiceUnavailable.code, "the event store is unavailable; retry later"
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, code, exc.description or exc.name or "error")
        if status == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the service log has it")
