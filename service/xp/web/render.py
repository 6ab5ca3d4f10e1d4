"""What every served page shares: its security headers, its header bar and message pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, current_app, session, url_for
from flask_wtf.csrf import generate_csrf

if TYPE_CHECKING:
    from xp.reports.html import Nav
# xp.reports.html loads scipy (through the results document): imported where a page renders.

# Pages embed their CSS and draw charts as inline SVG: nothing else may load or run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def csrf_token() -> str | None:
    """The form token of this session, when the service can sign one (``XP_SECRET_KEY``)."""
    return generate_csrf() if current_app.secret_key else None


def nav() -> Nav:
    from xp.reports.html import Nav

    logged_in = bool(current_app.secret_key) and "key_digest" in session
    if not logged_in:
        return Nav(home=url_for("pages.index"))
    return Nav(home=url_for("pages.index"), logout=url_for("session.logout"), csrf=csrf_token())


def message(status: int, title: str, *paragraphs: str) -> Response:
    from xp.reports.html import render

    body = render("message.html", title=title, paragraphs=paragraphs, nav=nav())
    return Response(body, status=status, mimetype="text/html")
