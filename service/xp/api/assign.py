"""``POST /v1/assign``: which variant each experiment gives one unit.

Every experiment of one request is judged at one instant: ``app.config["XP_CLOCK"]`` when a
test sets it, ``time.time`` otherwise. An experiment behind a holdout asks the holdout first
(:func:`xp_client.holdouts.guard`, the SDK's code); the holdout's exposure is logged with
the request's others. The plain request is answered before Flask by :mod:`xp.api.assign_route`,
through the same :func:`assign_answer`.
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
from xp.events.fields import MAX_ATTRIBUTES, MAX_NAME, UnitId
from xp.runtime import Runtime, runtime
from xp.sticky import sticky_assignments
from xp_client.engine import Assignment, assigner_for
from xp_client.holdouts import guard
from xp_client.unit_ids import MAX_USER_ID

bp = Blueprint("assign", __name__, url_prefix="/v1")


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: ``"no"`` meaning true would be a surprise."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"must be true or false, got {value!r}")
        return value


class OptionalUnitId(UnitId):
    """``user_id`` of an assignment or evaluation: missing, null and ``""`` are no unit (the
    engine answers as the SDK's local evaluation does: ``missing_unit``, or a stopped or
    shipped experiment's answer); any other value must be a unit id."""

    empty_is_none = True  # read by xp.events.fastpath

    def __init__(self) -> None:
        super().__init__(load_default=None, allow_none=True)
        # "" is accepted (as no unit), so the document's minLength is 0; the rest as UnitId.
        self.validators = [validate.Length(min=0, max=MAX_USER_ID)]
        self.metadata = {
            **self.metadata,
            "description": "the unit (a number is its canonical string: 42 and 42.0 are '42'); "
            "missing, null or '' is no unit: each experiment gives its answer for a missing "
            "unit (reason missing_unit, or a stopped or shipped one's) and logs nothing",
        }

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kw: Any) -> Any:
        if value is None or (value.__class__ is str and not value):
            return None
        return super().deserialize(value, attr, data, **kw)


def unit_attributes(data: Mapping[str, Any]) -> dict[str, Any]:
    """The request's attributes with its ``user_id`` joined; with none, without any: the
    engine then answers ``missing_unit`` for experiments on ``user_id`` and logs nothing."""
    attributes = dict(data["attributes"])
    if data["user_id"] is None:
        attributes.pop("user_id", None)
    else:
        attributes["user_id"] = data["user_id"]
    return attributes


class AssignRequestSchema(Schema):
    user_id = OptionalUnitId()
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
    return jsonify(assign_answer(runtime(), request_data, service_now(current_app.config)))


def service_now(config: Mapping[str, Any]) -> float:
    """The instant a request is judged at: ``config["XP_CLOCK"]()`` when a test sets it."""
    now: float = config.get("XP_CLOCK", time.time)()
    return now


def assign_answer(rt: Runtime, request_data: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The answer to one loaded assignment request, judged at ``now``, its exposures handed
    to the buffer: what the Flask route and the WSGI route (:mod:`xp.api.assign_route`)
    both answer."""
    snapshot = rt.registry.current()
    definitions = snapshot.definitions
    attributes = unit_attributes(request_data)
    wanted = request_data["experiments"]
    if wanted is None:  # holdouts answer only when asked by key
        keys = [k for k, d in definitions.items() if d.is_live and k not in snapshot.holdouts]
    else:
        keys = wanted
    assignments: dict[str, Any] = {}
    unknown = []
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
    return body
