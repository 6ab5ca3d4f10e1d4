"""``GET /v1/experiments/<key>/results?method=&alpha=&format=&phase=``: an experiment's
results (archived ones and earlier phases too)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from xp.api.definitions import ARCHIVED, Located, locate, phase_arg
from xp.auth import require
from xp.errors import ValidationFailed
from xp.runtime import runtime

if TYPE_CHECKING:
    from xp.results.document import ResultsDocument

bp = Blueprint("results", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/results")
@require("viewer")
def results(key: str) -> ResponseReturnValue:
    # Here, not at the top: scipy loads only in processes that analyse (issue 13).
    from xp.reports.formats import FORMATS, render

    found = locate(key, phase_arg())
    method = method_arg()
    format_ = request.args.get("format", "json")
    if format_ not in FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(FORMATS)}, got {format_!r}",
            {"format": [f"Must be one of: {', '.join(FORMATS)}."]},
        )
    alpha = _alpha(request.args.get("alpha", "0.05"))
    document = located_results(found, method, alpha)
    content, mimetype = render(document, format_)
    headers = {"Cache-Control": "no-store"}
    if format_ == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{key}-results.csv"'
    return Response(content, content_type=mimetype, headers=headers)


def located_results(found: Located, method: str, alpha: float = 0.05) -> ResultsDocument:
    """The results document of one phase (status ``archived`` when read back from the store)."""
    from xp.results.build import experiment_results

    document = experiment_results(found.definition, runtime().store, method=method, alpha=alpha)
    return with_status(document, found)


def with_status(document: ResultsDocument, found: Located) -> ResultsDocument:
    """``document`` with ``found``'s status (``archived`` for a phase read from the store)."""
    if found.status != ARCHIVED:
        return document
    experiment = dataclasses.replace(document.experiment, status=ARCHIVED)
    return dataclasses.replace(document, experiment=experiment)


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
