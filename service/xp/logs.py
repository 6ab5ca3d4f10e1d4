"""Logging: one format for every line (``XP_LOG_FORMAT=text|json``), a request id on each, and
every line through the one redaction (:mod:`xp.redaction`).

The request id comes from an ``X-Request-Id`` header (kept when it is a short token, replaced
otherwise) or is made up; it is echoed on the response, set on every line logged while the
request runs, and read back from the response header for gunicorn's access line.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import itertools
import json
import logging
import os
import re
import secrets
import sys
from typing import Any, TextIO

from flask import Response

from xp.redaction import RedactionFilter

HEADER = "X-Request-Id"
ENVIRON_KEY = "xp.request_id"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A client's id is kept only when it cannot forge log structure or grow without bound.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "xp_request_id", default=None
)


class RequestContextFilter(logging.Filter):
    """Puts ``request_id`` on each record: the running request's, or, on gunicorn's access
    line, the one the response carried. Runs before redaction, which flattens the args."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id.get()
            args = record.args
            if request_id is None and record.name == "gunicorn.access" and _is_atoms(args):
                found = args.get("{x-request-id}o")  # type: ignore[union-attr]
                request_id = found if isinstance(found, str) and found != "-" else None
                record.http = {
                    "method": args.get("m"),  # type: ignore[union-attr]
                    "path": args.get("U"),  # type: ignore[union-attr]
                    "status": _int(args.get("s")),  # type: ignore[union-attr]
                    "duration_ms": _int(args.get("M")),  # type: ignore[union-attr]
                }
            record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, ``request_id``,
    ``http`` on access lines and ``exc`` with a traceback (newlines escaped, never split)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        http = getattr(record, "http", None)
        if http:
            document["http"] = http
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return json.dumps(document, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def decorate(handler: logging.Handler, log_format: str, keep_formatter: bool = False) -> None:
    """Give ``handler`` the request id and redaction filters (once) and the chosen format."""
    if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
        handler.addFilter(RequestContextFilter())
        handler.addFilter(RedactionFilter())
    if not keep_formatter or log_format == "json":
        handler.setFormatter(formatter(log_format))


class _XpHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """The handler :func:`configure` installs, recognised so a second call replaces it."""


def configure(level: str, log_format: str, stream: TextIO | None = None) -> None:
    """Send the root logger's records to ``stream`` (stderr) in ``log_format``, redacted."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _XpHandler):
            root.removeHandler(handler)
    handler = _XpHandler(stream or sys.stderr)
    decorate(handler, log_format)
    root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's development server and gunicorn's loggers keep their own handlers.
    for name in ("gunicorn.error", "gunicorn.access", "werkzeug"):
        for other in logging.getLogger(name).handlers:
            decorate(other, log_format, keep_formatter=name == "gunicorn.access")


def new_request_id() -> str:
    """A fresh id, 32 hex digits: this process's random prefix and a counter (``uuid4`` reads
    the OS random source on every call, several times the cost)."""
    return f"{_id_prefix[0]}{next(_id_counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def _new_prefix() -> None:
    _id_prefix[0] = secrets.token_hex(8)  # a forked worker must not repeat its parent's ids


_id_counter = itertools.count()
_id_prefix = [""]
_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def begin_request(environ: dict[str, Any]) -> contextvars.Token[str | None]:
    """Take or make the request's id (``environ[ENVIRON_KEY]``) and log with it until
    :func:`end_request` resets the returned token."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    request_id = given if _ACCEPTED_ID.fullmatch(given) else new_request_id()
    environ[ENVIRON_KEY] = request_id
    return current_request_id.set(request_id)


def end_request(
    environ: dict[str, Any], response: Response, token: contextvars.Token[str | None]
) -> None:
    """Answer the id in ``X-Request-Id`` and stop logging with it (gunicorn's access line,
    written after the request, reads it from the response header)."""
    response.headers[HEADER] = environ[ENVIRON_KEY]
    current_request_id.reset(token)


def _is_atoms(args: object) -> bool:
    return hasattr(args, "get") and not isinstance(args, tuple)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
