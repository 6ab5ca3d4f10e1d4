"""``GET /v1/experiments/<key>/units.csv``: every exposed unit, streamed (admin).

The first chunk is built before the response starts, so a store that fails at once gets the
JSON 503 every other route answers; a failure later ends the file with the ``# error:`` line
and cuts the connection, and a complete file ends with ``# end: <n> rows``
(:mod:`xp.reports.units_csv`).
"""

from __future__ import annotations

import itertools

from flask import Blueprint, Response, stream_with_context
from flask.typing import ResponseReturnValue

from xp.api.definitions import find
from xp.auth import require
from xp.reports.units_csv import units_csv
from xp.runtime import runtime

bp = Blueprint("exports", __name__, url_prefix="/v1")


@bp.get("/experiments/<key>/units.csv")
@require("admin")
def units_csv_view(key: str) -> ResponseReturnValue:
    definition = find(key)
    chunks = units_csv(definition, runtime().store.iter_unit_values(definition), trailer=True)
    first = next(chunks)  # a StoreError here is the JSON 503: nothing was sent yet
    return Response(
        stream_with_context(itertools.chain((first,), chunks)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-units.csv"',
            "Cache-Control": "no-store",
        },
    )
