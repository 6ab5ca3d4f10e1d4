"""``DELETE /v1/units/<unit_id>``: erase one unit and its contribution to every statistic."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from service.auth import require
from service.errors import BadRequest
from service.runtime import runtime

bp = Blueprint("units", __name__, url_prefix="/v1")

MAX_UNIT_ID = 256  # the longest user_id that assignment and events accept


@bp.delete("/units/<path:unit_id>")
@require("admin")
def erase_unit(unit_id: str) -> ResponseReturnValue:
    if len(unit_id) > MAX_UNIT_ID:
        raise BadRequest(
            f"unit_id is longer than {MAX_UNIT_ID} characters", {"unit_id": ["too long"]}
        )
    rt = runtime()
    erased = rt.store.erase_unit(unit_id, rt.registry.current().definitions)
    return jsonify({"unit_id": unit_id, "experiments": erased})
