"""``GET /v1/experiments/<key>/results?method=&alpha=&format=&phase=``: an experiment's
results (archived ones and earlier phases too); with ``method=bayesian`` also
``chance_to_win=`` and ``risk_threshold=``, overriding the definition's decision rule."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
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
    document = located_results(found, method, alpha, thresholds_arg(method))
    content, mimetype = render(document, format_)
    headers = {"Cache-Control": "no-store"}
    if format_ == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{key}-results.csv"'
    return Response(content, content_type=mimetype, headers=headers)


def located_results(
    found: Located,
    method: str,
    alpha: float = 0.05,
    thresholds: Mapping[str, float] | None = None,
) -> ResultsDocument:
    """The results document of one phase (status ``archived`` when read back from the store);
    ``thresholds`` override the definition's Bayesian rule."""
    from xp.results.build import experiment_results

    document = experiment_results(
        found.definition, runtime().store, method=method, alpha=alpha, thresholds=thresholds
    )
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


# The Bayesian rule's query parameters: [lowest, highest) as fractions (None: unbounded).
THRESHOLDS: dict[str, tuple[float, float | None]] = {
    "chance_to_win": (0.5, 1.0),
    "risk_threshold": (0.0, None),
}


def thresholds_arg(method: str) -> dict[str, float]:
    """``chance_to_win`` and ``risk_threshold`` when given (fractions), or a 422 naming one."""
    return parse_thresholds(request.args, method)


def parse_thresholds(args: Mapping[str, str], method: str) -> dict[str, float]:
    """The Bayesian rule's thresholds found in ``args`` (the query, or ``xp report``'s
    options), checked; :class:`ValidationFailed` names the first bad one."""
    given = {name: args[name] for name in THRESHOLDS if args.get(name) is not None}
    if given and method != "bayesian":
        name = next(iter(given))
        raise ValidationFailed(
            f"{name} applies to method=bayesian only, got method={method!r}",
            {name: ["Only with method=bayesian."]},
        )
    out = {}
    for name, raw in given.items():
        low, high = THRESHOLDS[name]
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not (low <= value and (value < high if high is not None else math.isfinite(value))):
            bound = (
                f"at least {low:g} and below {high:g}" if high else f"a number of {low:g} or more"
            )
            raise ValidationFailed(
                f"{name} must be {bound}, got {raw!r}", {name: [f"Must be {bound}."]}
            )
        out[name] = value
    return out


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
