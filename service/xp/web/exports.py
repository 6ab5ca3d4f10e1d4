"""``GET /v1/experiments/<key>/units.csv``: every exposed unit, streamed (admin)."""

from __future__ import annotations

from flask import Blueprint, Response, stream_with_context
from flask.typing import ResponseReturnValue

from xp.api.definitions import find
from xp.auth import require
from xp.runtime import runtime

bp = Blueprint("exports", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/units.csv")
@require("admin")
def units_csv_view(key: str) -> ResponseReturnValue:
    from xp.reports.units_csv import units_csv  # its module loads scipy: only when exporting

    definition = find(key)
    rows = runtime().store.iter_units(definition)
    return Response(
        stream_with_context(units_csv(definition, rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-units.csv"',
            "Cache-Control": "no-store",
        },
    )
