"""``POST /v1/assign``: which variant each experiment gives one unit.

Every experiment of one request is judged at one instant: ``app.config["XP_CLOCK"]`` when a
test sets it, ``time.time`` otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate

from xp.api.body import json_body, load
from xp.auth import require
from xp.events.parse import MAX_ATTRIBUTES, MAX_NAME, UnitId
from xp.runtime import runtime
from xp.sticky import sticky_assignments
from xp_client.engine import assign_variant

bp = Blueprint("assign", __name__, url_prefix="/v1")


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: ``"no"`` meaning true would be a surprise."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"must be true or false, got {value!r}")
        return value


class AssignRequestSchema(Schema):
    user_id = UnitId(required=True)
    attributes = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=128)),
        load_default=dict,
        validate=validate.Length(max=MAX_ATTRIBUTES),
    )
    experiments = fields.List(
        fields.String(validate=validate.Length(min=1, max=MAX_NAME)),
        load_default=None,
        validate=validate.Length(max=500),
    )
    log_exposure = StrictBoolean(load_default=True)


ASSIGN_REQUEST_SCHEMA = AssignRequestSchema()


@bp.post("/assign")
@require("sdk")
def assign() -> ResponseReturnValue:
    request_data = load(ASSIGN_REQUEST_SCHEMA, json_body())
    rt = runtime()
    definitions = rt.registry.current().definitions
    attributes = {**request_data["attributes"], "user_id": request_data["user_id"]}
    wanted = request_data["experiments"]
    keys = wanted if wanted is not None else [k for k, d in definitions.items() if d.is_live]
    assignments: dict[str, Any] = {}
    unknown = []
    now = current_app.config.get("XP_CLOCK", time.time)()
    for key in keys:
        definition = definitions.get(key)
        if definition is None:
            unknown.append(key)
            continue
        assignments[key] = assign_variant(definition.experiment, attributes, now)
    if rt.settings.sticky and assignments:  # XP_STICKY: remembered variants win over weights
        assignments = sticky_assignments(
            assignments, definitions, attributes, lambda: rt.store, rt.settings.sticky_ttl
        )
    if request_data["log_exposure"]:
        rt.log_exposures(list(assignments.values()), attributes, definitions)
    body: dict[str, Any] = {"assignments": {k: a.to_dict() for k, a in assignments.items()}}
    if unknown:
        body["unknown_experiments"] = unknown
    return jsonify(body)
