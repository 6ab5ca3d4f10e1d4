"""``GET /v1/experiments/<key>/units.csv``: every exposed unit, streamed (viewer).

The pages serve the same file at ``/experiments/<key>/units.csv`` under their own access.
"""

from __future__ import annotations

from flask import Blueprint, Response, stream_with_context
from flask.typing import ResponseReturnValue

from xp.api.definitions import locate, phase_arg
from xp.auth import require
from xp.reports.units_csv import units_csv
from xp.runtime import runtime

bp = Blueprint("exports", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/units.csv")
@require("viewer")
def units_csv_view(key: str) -> ResponseReturnValue:
    return units_csv_response(key)


def units_csv_response(key: str) -> Response:
    """The per-unit CSV of ``key`` in the ``phase`` the query names (default: the live one)."""
    found = locate(key, phase_arg())
    definition = found.definition
    rows = runtime().store.iter_units(found.stored)
    return Response(
        stream_with_context(units_csv(definition, rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-units.csv"',
            "Cache-Control": "no-store",
        },
    )
