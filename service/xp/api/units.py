"""``DELETE /v1/units/<unit_id>``: erase one unit and its contribution to every statistic.

``DELETE /v1/units?unit_id=...`` does the same for any id, including ids a URL path cannot
carry (a leading ``/``, ``//``).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from xp.auth import require
from xp.errors import BadRequest
from xp.runtime import runtime
from xp_client.unit_ids import canonical_unit_id, unit_id_problem

bp = Blueprint("units", __name__, url_prefix="/v1")


# merge_slashes=False: "/v1/units//x" must not be redirected to the unit "x".
@bp.delete("/units/<path:unit_id>", merge_slashes=False)
@require("admin")
def erase_unit(unit_id: str) -> ResponseReturnValue:
    return _erase(unit_id)


@bp.delete("/units")
@require("admin")
def erase_unit_by_query() -> ResponseReturnValue:
    unit_id = request.args.get("unit_id")
    if not unit_id:
        raise BadRequest("give the unit as ?unit_id=...", {"unit_id": ["required"]})
    return _erase(unit_id)


def _erase(unit_id: str) -> ResponseReturnValue:
    # A URL carries text, and text is its own canonical id: erase unit 42.0 as "42".
    if canonical_unit_id(unit_id) is None:
        problem = unit_id_problem(unit_id, "")
        raise BadRequest(f"unit_id {problem}", {"unit_id": [str(problem)]})
    rt = runtime()
    erased = rt.store.erase_unit(unit_id, rt.registry.current().definitions)
    return jsonify({"unit_id": unit_id, "experiments": erased})
