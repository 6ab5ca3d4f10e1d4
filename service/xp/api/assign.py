"""``POST /v1/assign``: which variant each experiment gives one unit.

Every experiment of one request is judged at one instant: ``app.config["XP_CLOCK"]`` when a
test sets it, ``time.time`` otherwise. An experiment behind a holdout asks the holdout first
(:func:`xp_client.holdouts.guard`, the SDK's code); the holdout's exposure is logged with
the request's others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate

from xp.api.body import json_body, load
from xp.auth import require
from xp.definitions.registry import Snapshot
from xp.events.parse import MAX_ATTRIBUTES, MAX_NAME, UnitId
from xp.runtime import runtime
from xp.sticky import sticky_assignments
from xp_client.engine import Assignment, assigner_for
from xp_client.holdouts import guard

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
AssignFn = Callable[[str, None, Mapping[str, Any]], "Assignment | None"]


def request_assigner(snapshot: Snapshot, now: float) -> tuple[AssignFn, dict[str, Assignment]]:
    """One request's ``assign(key, None, attributes)`` (the SDK's ``get_variant`` shape, for
    one unit) and every answer it gave, holdouts included: what the request logs."""
    definitions = snapshot.definitions
    reached: dict[str, Assignment] = {}

    def assign(key: str, _: None, attributes: Mapping[str, Any]) -> Assignment | None:
        found = reached.get(key)
        if found is None:
            definition = definitions.get(key)
            if definition is None:
                return None
            experiment = definition.experiment
            behind = snapshot.holdouts_of_experiment(key)
            found = guard(assigner_for(experiment), experiment, behind, assign)(attributes, now)
            reached[key] = found
        return found

    return assign, reached


@bp.post("/assign")
@require("sdk")
def assign() -> ResponseReturnValue:
    request_data = load(ASSIGN_REQUEST_SCHEMA, json_body())
    rt = runtime()
    snapshot = rt.registry.current()
    definitions = snapshot.definitions
    attributes = {**request_data["attributes"], "user_id": request_data["user_id"]}
    wanted = request_data["experiments"]
    if wanted is None:  # holdouts answer only when asked by key
        keys = [k for k, d in definitions.items() if d.is_live and k not in snapshot.holdouts]
    else:
        keys = wanted
    assignments: dict[str, Any] = {}
    unknown = []
    now = current_app.config.get("XP_CLOCK", time.time)()
    assign, reached = request_assigner(snapshot, now)
    for key in keys:
        definition = definitions.get(key)
        if definition is None:
            unknown.append(key)
            continue
        assignments[key] = assign(key, None, attributes)
    if rt.settings.sticky and assignments:  # XP_STICKY: remembered variants win over weights
        assignments = sticky_assignments(
            assignments, definitions, attributes, lambda: rt.store, rt.settings.sticky_ttl
        )
    if request_data["log_exposure"]:
        logged = {**reached, **assignments}  # holdouts reached, experiments as answered
        rt.log_exposures(list(logged.values()), attributes, definitions)
    body: dict[str, Any] = {"assignments": {k: a.to_dict() for k, a in assignments.items()}}
    if unknown:
        body["unknown_experiments"] = unknown
    return jsonify(body)
