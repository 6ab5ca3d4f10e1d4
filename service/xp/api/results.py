"""``GET /v1/experiments/<key>/results?method=&alpha=&format=``: an experiment's results."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from xp.api.definitions import find
from xp.auth import require
from xp.errors import ValidationFailed
from xp.runtime import runtime

bp = Blueprint("results", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/results")
@require("admin")
def results(key: str) -> ResponseReturnValue:
    # Here, not at the top: scipy loads only in processes that analyse (issue 13).
    from xp.reports.formats import FORMATS, render
    from xp.results.build import experiment_results

    definition = find(key)
    method = method_arg()
    format_ = request.args.get("format", "json")
    if format_ not in FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(FORMATS)}, got {format_!r}",
            {"format": [f"Must be one of: {', '.join(FORMATS)}."]},
        )
    alpha = _alpha(request.args.get("alpha", "0.05"))
    document = experiment_results(definition, runtime().store, method=method, alpha=alpha)
    content, mimetype = render(document, format_)
    headers = {"Cache-Control": "no-store"}
    if format_ == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{key}-results.csv"'
    return Response(content, content_type=mimetype, headers=headers)


def method_arg() -> str:
    """The ``method`` query parameter (default frequentist), or a 422 naming it."""
    from xp.results.build import METHODS

    method = request.args.get("method", "frequentist")
    if method not in METHODS:
        raise ValidationFailed(
            f"method must be one of {', '.join(METHODS)}, got {method!r}",
            {"method": [f"Must be one of: {', '.join(METHODS)}."]},
        )
    return method


def _alpha(raw: str) -> float:
    try:
        alpha = float(raw)
    except ValueError:
        alpha = float("nan")
    if not 0 < alpha < 1:  # also false for nan
        raise ValidationFailed(
            f"alpha must be a number between 0 and 1, got {raw!r}",
            {"alpha": ["Must be a number between 0 and 1 (exclusive)."]},
        )
    return alpha
