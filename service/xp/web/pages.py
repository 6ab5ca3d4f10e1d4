"""``/``, ``/experiments/<key>`` and its downloads: results pages for people.

Access: open when no keys are configured, otherwise a ``viewer`` or ``admin`` key as a bearer
header or, when ``XP_SECRET_KEY`` is set, the login session (:mod:`xp.web.session`). The
downloads are served here, under the pages' access, because the JSON API does not take the
session cookie. The key never travels in a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from xp.api.definitions import Located, every_experiment, locate, phase_arg
from xp.api.results import located_results, method_arg, thresholds_arg
from xp.auth import GRANTS, request_scope
from xp.definitions.features import FeatureDefinition
from xp.errors import ApiError, NotFound
from xp.reports.conditions import condition_words
from xp.runtime import runtime
from xp.web.exports import units_csv_response
from xp.web.links import features_using
from xp.web.listing import SORTS, parse_query, select, shown_decision, tab_counts
from xp.web.render import message, nav, security_headers

if TYPE_CHECKING:
    from xp.definitions.holdouts import HoldoutDefinition
    from xp.definitions.registry import Registry
    from xp.reports.html import HoldoutScope
    from xp.results.document import ResultsDocument
# The reports and results modules load scipy: imported where a page renders, so that a
# process serving only the API never loads it (issue 13).

bp = Blueprint("pages", __name__)

# The downloads a page links to: file suffix -> (label, report format).
DOWNLOADS = {"csv": ("CSV", "csv"), "md": ("Markdown", "md"), "json": ("JSON", "json")}


@bp.before_request
def _require_viewer() -> ResponseReturnValue | None:
    scope = request_scope(allow_session=True)
    if scope is None:
        if current_app.secret_key:
            return redirect(url_for("session.login", next=request.full_path.rstrip("?")))
        response = message(
            401,
            "A viewer key is needed",
            "These pages need an API key with the viewer or admin scope, sent as the header "
            "'Authorization: Bearer <key>'.",
            "There is no login form because XP_SECRET_KEY is not set: the service has no "
            "secret to sign a login cookie with. Set it to enable the form.",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="xp"'
        return response
    if "viewer" not in GRANTS[scope]:
        return message(
            403,
            "This key cannot see results",
            f"The key has the {scope!r} scope; results pages need a viewer or admin key.",
        )
    return None


bp.after_request(security_headers)


@bp.errorhandler(ApiError)
def _page_error(exc: ApiError) -> Response:
    return message(exc.status, exc.message)


@bp.get("/")
def index() -> ResponseReturnValue:
    query = parse_query(request.args)  # a bad parameter is a 422 before any work
    rows = []
    for found in every_experiment():
        definition, key = found.definition, found.definition.key
        results = _results(found, "frequentist")
        rows.append(
            {
                "key": key,
                "name": definition.name or key,
                "status": found.status,
                "owner": definition.owner,
                "units": sum(results.units.values()),
                "decision": shown_decision(found.status, results.decision.decision),
                "winner": definition.experiment.winner,
                "start": results.experiment.start,
                "href": url_for("pages.experiment", key=key),
                "phase": definition.phase,
                # Earlier phases stay readable, archived, each on its own page.
                "earlier": [
                    (n, url_for("pages.experiment", key=key, phase=n))
                    for n in found.phases
                    if n != definition.phase
                ],
            }
        )
    from xp.reports.html import render as render_template

    features = feature_rows(runtime().registry.current().features.values())
    return render_template(
        "index.html",
        rows=select(rows, query),
        query=query,
        tabs=tab_counts(rows),
        sorts=SORTS,
        features=features,
        nav=nav(),
    )


def feature_rows(features: Iterable[FeatureDefinition]) -> list[dict[str, Any]]:
    """Each feature with each environment's switch and rules in words, for the index."""
    return [
        {
            "key": f.key,
            "type": f.type,
            "default": json.dumps(f.default),
            "owner": f.owner,
            "description": f.description,
            "prerequisites": [
                f"{p['feature']} = {json.dumps(p.get('value', True))}" for p in f.prerequisites
            ],
            "environments": [
                (
                    name,
                    bool(env.get("enabled", True)),
                    [rule_parts(r) for r in env.get("rules") or []],
                )
                for name, env in sorted(f.environments.items())
            ],
        }
        for f in sorted(features, key=lambda f: f.key)
    ]


def rule_parts(rule: Mapping[str, Any]) -> dict[str, str | None]:
    """One rule as a line: its condition in words (``when``, with the exact JSON as
    ``when_json`` for a tooltip), then the experiment, the rollout or the value; an experiment
    rule's key apart (``experiment``, with its page's ``href``) so it is a link."""
    condition = rule.get("condition")
    parts: dict[str, str | None] = {
        "when": condition_words(condition) if condition else None,
        "when_json": json.dumps(condition, ensure_ascii=False) if condition else None,
    }
    # A condition leads a rollout or an experiment as "if ...:", and a forced value as "... →".
    lead = "if " if condition and ("experiment" in rule or "rollout" in rule) else ""
    parts["lead"] = lead
    then = ": " if lead else " "
    if "experiment" in rule:
        values = ", ".join(f"{k} → {json.dumps(v)}" for k, v in rule["values"].items())
        key = rule["experiment"]
        return {
            **parts,
            "before": f"{then if condition else ''}experiment ",
            "experiment": key,
            "href": url_for("pages.experiment", key=key),
            "after": f" ({values})",
        }
    if "rollout" in rule:
        share = f"{float(rule['rollout']) * 100:g}%"
        by = rule.get("hash_attribute") or "user_id"
        before = f"{then if condition else ''}{share} by {by} → {json.dumps(rule['value'])}"
        return {**parts, "before": before}
    return {**parts, "before": f"{' ' if condition else 'everyone '}→ {json.dumps(rule['value'])}"}


@bp.get("/experiments/<key>")
def experiment(key: str) -> ResponseReturnValue:
    from xp.reports.formats import METHODS
    from xp.reports.html import ReportLinks, render_html

    phase = phase_arg()
    found = locate(key, phase)
    method = method_arg()
    thresholds = thresholds_arg(method)
    results = _results(found, method, thresholds)
    registry = runtime().registry
    chosen: dict[str, Any] = {} if phase is None else {"phase": str(phase)}
    # The downloads (and the Bayesian switch) carry the page's rule: a file says what the
    # page says, and a look at another method and back keeps it.
    rule: dict[str, Any] = {name: repr(value) for name, value in thresholds.items()}
    links = ReportLinks(
        methods={
            m: url_for(
                "pages.experiment",
                key=key,
                method=m,
                **({**rule, **chosen} if m == "bayesian" else chosen),
            )
            for m in METHODS
        },
        downloads=[
            *(
                (
                    label,
                    url_for(
                        "pages.download",
                        key=key,
                        suffix=suffix,
                        method=method,
                        **{**rule, **chosen},
                    ),
                )
                for suffix, (label, _) in DOWNLOADS.items()
            ),
            ("per-unit CSV", url_for("pages.units", key=key, **chosen)),
        ],
        features=[
            (use.feature, feature_href(use.feature), use.environments)
            for use in features_using(registry.current().features.values(), key)
        ],
        holdout=_holdout(registry, key),
        holds_out=holdout_scope(registry.current().holdouts.get(key)),
    )
    return render_html(results, nav(), links)


@bp.get("/experiments/<key>/results.<suffix>")
def download(key: str, suffix: str) -> ResponseReturnValue:
    """The results as a file, the same document ``/v1/experiments/<key>/results`` renders."""
    if suffix not in DOWNLOADS:
        raise NotFound(f"no download {suffix!r}; one of {', '.join(DOWNLOADS)}")
    from xp.reports.formats import render

    found = locate(key, phase_arg())
    method = method_arg()
    document = _results(found, method, thresholds_arg(method))
    content, mimetype = render(document, DOWNLOADS[suffix][1])
    disposition = f'attachment; filename="{key}-results.{suffix}"'
    return Response(content, content_type=mimetype, headers={"Content-Disposition": disposition})


@bp.get("/experiments/<key>/units.csv")
def units(key: str) -> ResponseReturnValue:
    return units_csv_response(key)


def feature_href(feature: str) -> str:
    """A feature's row in the list page's features table."""
    return f"{url_for('pages.index')}#feature-{feature}"


def _holdout(registry: Registry, key: str) -> tuple[str, str | None] | None:
    # A holdout is analysed as a definition of its own, so its results page is an experiment's.
    holdout = registry.holdout_for_experiment(key)
    return None if holdout is None else (holdout, url_for("pages.experiment", key=holdout))


def holdout_scope(holdout: HoldoutDefinition | None) -> HoldoutScope | None:
    """What a holdout's own page says it covers, with links to each experiment and feature."""
    if holdout is None:
        return None
    from xp.reports.html import HoldoutScope

    applies = holdout.applies_to
    if isinstance(applies, str):  # "all": every experiment and rule opts in
        return HoldoutScope(holdout.share, holdout.description, everything=True)
    return HoldoutScope(
        holdout.share,
        holdout.description,
        experiments=[
            (k, url_for("pages.experiment", key=k)) for k in applies.get("experiments", ())
        ],
        features=[(k, feature_href(k)) for k in applies.get("features", ())],
    )


def _results(
    found: Located, method: str, thresholds: Mapping[str, float] | None = None
) -> ResultsDocument:
    return located_results(found, method, thresholds=thresholds)
