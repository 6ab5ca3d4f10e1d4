"""The one redaction of store URLs, hosts and credentials from text shown or logged.

Every log line passes through :class:`RedactionFilter` (installed by ``xp.logs``) and every
error message the service answers with through :func:`redact` (``xp.errors``), so a driver
message such as ``Error 111 connecting to 10.0.0.5:6379`` or ``AUTH failed for
redis://:hunter2@cache:6379/0`` never reaches a client or a log reader verbatim.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "[redacted]"
# The schemes of store URLs (xp.store.open_store): such a URL is hidden whole, wherever seen.
STORE_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "sqlite")

# scheme://anything-up-to-whitespace-or-a-quote.
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,30})://([^\s'\"<>]+)")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def secrets_of(url: str | None) -> tuple[str, ...]:
    """The pieces of ``url`` that must never be shown: user, password, host, port, path."""
    if not url:
        return ()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed URL: hide all of it
        return (url,)
    pieces = {url, parts.netloc, parts.password or "", parts.username or ""}
    pieces |= {unquote(parts.password or ""), unquote(parts.username or "")}
    if parts.hostname and parts.hostname not in ("localhost",):
        pieces.add(parts.hostname)
    if parts.scheme == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db
        pieces.add(url[len("sqlite:///") :])
    elif parts.scheme == "unix":
        pieces.add(parts.path)
    if port is not None:
        pieces.add(f":{port}")
        if parts.hostname:
            pieces.add(f"{parts.hostname}:{port}")
    # The longest first, so a password containing the host is not half replaced.
    return tuple(sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True))


def register(*urls: str | None) -> None:
    """Remember the secrets of ``urls`` (the configured store) for every later :func:`redact`."""
    global _secrets
    with _lock:
        known = set(_secrets)
        for url in urls:
            known.update(secrets_of(url))
        _secrets = tuple(sorted(known, key=len, reverse=True))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` without the registered store's URL, user, password, host, port or path (and
    ``extra``), without any store URL, and without the credentials of any other URL."""
    for secret in (*_secrets, *extra):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return _URL.sub(_hide_url, text)


def _hide_url(match: re.Match[str]) -> str:
    scheme, rest = match[1], match[2]
    if scheme.lower() in STORE_SCHEMES:
        return f"{scheme}://{MASK}"
    userinfo, at, place = rest.partition("@")
    if at and "/" not in userinfo:  # user:password@host: keep where, hide who
        return f"{scheme}://{MASK}@{place}"
    return match[0]


class RedactionFilter(logging.Filter):
    """Rewrites each record's message (and traceback) through :func:`redact` before any
    handler formats it; attached to handlers, so it sees every logger's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "xp_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep logging, show the raw template
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.xp_redacted = True
        return True
