"""``/login`` and ``/logout``: a signed session cookie for the pages, CSRF-checked and
rate-limited (``XP_RATE_LIMIT_LOGIN``, installed by :mod:`xp.ratelimit`).

The cookie holds a digest of the key, never the key, and authenticates the pages only: the
JSON API takes ``Authorization: Bearer`` alone (:mod:`xp.auth`).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import TooManyRequests

from xp.auth import LOGIN_SCOPES, scope_of, start_session
from xp.web.render import csrf_token, message, security_headers

bp = Blueprint("session", __name__)
csrf = CSRFProtect()


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    # Defence in depth with the token: the cookie is not sent on cross-site subrequests.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Only these forms are checked: the JSON API takes no cookie, so it needs no token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)


@bp.before_request
def _check_token() -> None:
    if request.method == "POST" and current_app.secret_key:
        csrf.protect()


bp.after_request(security_headers)


@bp.errorhandler(CSRFError)
def _refused(exc: CSRFError) -> Response:
    return message(
        400,
        "The form expired",
        f"The form was refused: {exc.description} Reload the page and try again.",
    )


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Response:
    response = message(
        429, "Too many attempts", f"Too many login attempts ({exc.description}); wait and retry."
    )
    if exc.response is not None and "Retry-After" in exc.response.headers:
        response.headers["Retry-After"] = exc.response.headers["Retry-After"]
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    keys = current_app.config["XP_SETTINGS"].api_keys
    if not keys:
        return redirect(url_for("pages.index"))
    if not current_app.secret_key:
        return message(
            404 if request.method == "GET" else 400,
            "No login form",
            "XP_SECRET_KEY is not set, so the service cannot sign a login cookie. Send "
            "'Authorization: Bearer <viewer or admin key>' instead, or set XP_SECRET_KEY.",
        )
    target = local_path(request.values.get("next", ""))
    if request.method == "GET":
        return _login_form(target)
    key = request.form.get("key", "").strip()
    if scope_of(key, keys) not in LOGIN_SCOPES:
        return _login_form(target, "That is not a viewer or admin key."), 401
    start_session(key)
    return redirect(target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if not current_app.secret_key:  # no secret, no session to end (and Flask's would raise)
        return redirect(url_for("pages.index"))
    session.clear()
    return redirect(url_for("session.login"))


def _login_form(target: str, error: str | None = None) -> str:
    from xp.reports.html import render  # it loads scipy: only when a form is drawn

    return render(
        "login.html",
        action=url_for("session.login"),
        next=target,
        error=error,
        csrf_token=csrf_token(),
        nav=None,
    )


def local_path(target: str) -> str:
    """``target`` when it is a path on this site, else the home page (no open redirects)."""
    # Browsers drop tabs and newlines and read "\\" as "/": "/\t/evil.example" is "//evil...".
    safe = (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() and not c.isspace() for c in target)
    )
    if safe:
        return target
    return url_for("pages.index")
