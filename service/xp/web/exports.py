"""``GET /v1/experiments/<key>/units.csv``: every exposed unit, streamed (viewer).

The pages serve the same file at ``/experiments/<key>/units.csv`` under their own access.
The first chunk is built before the response starts, so a store that fails at once gets the
JSON 503 every other route answers; a failure later ends the file with the ``# error:`` line
and cuts the connection, and a complete file ends with ``# end: <n> rows``
(:mod:`xp.reports.units_csv`).
"""

from __future__ import annotations

import itertools

from flask import Blueprint, Response, stream_with_context
from flask.typing import ResponseReturnValue

from xp.api.definitions import locate, phase_arg
from xp.auth import require
from xp.runtime import runtime

bp = Blueprint("exports", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/units.csv")
@require("viewer")
def units_csv_view(key: str) -> ResponseReturnValue:
    return units_csv_response(key)


def units_csv_response(key: str) -> Response:
    """The per-unit CSV of ``key`` in the ``phase`` the query names (default: the live one)."""
    from xp.reports.units_csv import stored_units_csv  # loads scipy: only when exporting

    found = locate(key, phase_arg())
    chunks = stored_units_csv(runtime().store, found.stored, found.definition, trailer=True)
    first = next(chunks)  # a StoreError here is the JSON 503: nothing was sent yet
    return Response(
        stream_with_context(itertools.chain((first,), chunks)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-units.csv"',
            "Cache-Control": "no-store",
        },
    )
