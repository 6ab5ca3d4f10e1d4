"""``/``, ``/experiments/<key>``, ``/login`` and ``/logout``: results pages for people.

Access follows the API's keys: open when no keys are configured, otherwise an ``admin`` key as
a bearer header or, when ``XP_SECRET_KEY`` is set, through the login form's session cookie.
The key never travels in a URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from xp.api.definitions import find
from xp.api.results import method_arg
from xp.auth import GRANTS, request_scope, scope_of, start_session
from xp.definitions.model import Definition
from xp.errors import ApiError
from xp.runtime import runtime

if TYPE_CHECKING:
    from xp.reports.html import Nav
    from xp.results.document import ResultsDocument
# The reports and results modules load scipy: imported where a page renders, so that a
# process serving only the API never loads it (issue 13).

bp = Blueprint("pages", __name__)

OPEN_ENDPOINTS = frozenset({"pages.login", "pages.logout"})
# Pages embed their CSS and draw charts as inline SVG: nothing else may load or run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@bp.record_once
def _cookie_policy(state: BlueprintSetupState) -> None:
    # The login cookie is only sent on top-level navigation from other sites: no CSRF token.
    if state.app.config.get("SESSION_COOKIE_SAMESITE") is None:
        state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


@bp.before_request
def _require_admin() -> ResponseReturnValue | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    scope = request_scope()
    if scope is None:
        if current_app.secret_key:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        response = _message(
            401,
            "An admin key is needed",
            "These pages need an API key with the admin scope, sent as the header "
            "'Authorization: Bearer <key>'.",
            "There is no login form because XP_SECRET_KEY is not set: the service has no "
            "secret to sign a login cookie with. Set it to enable the form.",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="xp"'
        return response
    if "admin" not in GRANTS[scope]:
        return _message(
            403,
            "This key cannot see results",
            f"The key has the {scope!r} scope; results pages need an admin key.",
        )
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def _page_error(exc: ApiError) -> Response:
    return _message(exc.status, exc.message)


@bp.get("/")
def index() -> ResponseReturnValue:
    rows = []
    definitions = runtime().registry.current().definitions
    for key, definition in sorted(definitions.items()):
        results = _results(definition, "frequentist")
        rows.append(
            {
                "key": key,
                "name": definition.name or key,
                "status": definition.status,
                "owner": definition.owner,
                "units": sum(results.units.values()),
                "decision": results.decision.decision,
                "href": url_for("pages.experiment", key=key),
            }
        )
    from xp.reports.html import render

    return render("index.html", rows=rows, nav=_nav())


@bp.get("/experiments/<key>")
def experiment(key: str) -> ResponseReturnValue:
    from xp.reports.formats import METHODS
    from xp.reports.html import ReportLinks, render_html

    definition = find(key)
    method = method_arg()
    results = _results(definition, method)
    api = f"{request.script_root}/v1/experiments/{key}/results"
    links = ReportLinks(
        methods={m: url_for("pages.experiment", key=key, method=m) for m in METHODS},
        downloads=[
            *(
                (label, f"{api}?{urlencode({'format': fmt, 'method': method})}")
                for label, fmt in (("CSV", "csv"), ("Markdown", "md"), ("JSON", "json"))
            ),
            ("per-unit CSV", url_for("exports.units_csv_view", key=key)),
        ],
    )
    return render_html(results, _nav(), links)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    keys = current_app.config["XP_SETTINGS"].api_keys
    if not keys:
        return redirect(url_for("pages.index"))
    if not current_app.secret_key:
        return _message(
            404 if request.method == "GET" else 400,
            "No login form",
            "XP_SECRET_KEY is not set, so the service cannot sign a login cookie. Send "
            "'Authorization: Bearer <admin key>' instead, or set XP_SECRET_KEY.",
        )
    target = _local_path(request.values.get("next", ""))
    if request.method == "GET":
        return _login_form(target)
    key = request.form.get("key", "").strip()
    if scope_of(key, keys) != "admin":
        return _login_form(target, "That is not an admin key."), 401
    start_session(key)
    return redirect(target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    target = "pages.login" if current_app.secret_key else "pages.index"
    return redirect(url_for(target))


def _login_form(target: str, error: str | None = None) -> str:
    from xp.reports.html import render

    return render("login.html", action=url_for("pages.login"), next=target, error=error, nav=None)


def _results(definition: Definition, method: str) -> ResultsDocument:
    from xp.results.build import experiment_results

    return experiment_results(definition, runtime().store, method=method)


def _nav() -> Nav:
    from xp.reports.html import Nav

    logged_in = bool(current_app.secret_key) and "key_digest" in session
    return Nav(home=url_for("pages.index"), logout=url_for("pages.logout") if logged_in else None)


def _local_path(target: str) -> str:
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


def _message(status: int, title: str, *paragraphs: str) -> Response:
    from xp.reports.html import render

    body = render("message.html", title=title, paragraphs=paragraphs, nav=_nav())
    return Response(body, status=status, mimetype="text/html")
