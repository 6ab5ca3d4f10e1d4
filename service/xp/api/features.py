"""``POST /v1/evaluate`` (a unit's feature values) and ``GET /v1/features`` (the listing).

Evaluation runs the SDK's engine (:mod:`xp_client.features`) on the features of the key's
environment, exactly as ``/v1/config`` serves them; experiment rules and holdouts assign
through :func:`xp.api.assign.request_assigner` and log their exposures like ``/v1/assign``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from xp.api.assign import (
    OptionalUnitId,
    StrictBoolean,
    request_assigner,
    service_now,
    unit_attributes,
)
from xp.api.body import json_body, load
from xp.auth import request_environment, require
from xp.definitions.features import FeatureDefinition
from xp.definitions.registry import Snapshot
from xp.events.fields import MAX_ATTRIBUTES, MAX_NAME
from xp.runtime import runtime
from xp_client.features import Feature, compile_features, evaluate_feature
from xp_client.holdouts import compile_holdouts

bp = Blueprint("features", __name__, url_prefix="/v1")
log = logging.getLogger("xp.features")


class EvaluateRequestSchema(Schema):
    user_id = OptionalUnitId()
    attributes = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=128)),
        load_default=dict,
        validate=validate.Length(max=MAX_ATTRIBUTES),
    )
    features = fields.List(
        fields.String(validate=validate.Length(min=1, max=MAX_NAME)),
        load_default=None,
        validate=validate.Length(max=500),
    )
    log_exposure = StrictBoolean(load_default=True)


EVALUATE_REQUEST_SCHEMA = EvaluateRequestSchema()
# (config ETag) -> the compiled features of that document; a few environments at most.
_compiled: dict[str, dict[str, Feature]] = {}


def compiled_features(snapshot: Snapshot, environment: str) -> dict[str, Feature]:
    """The engine's features for ``environment``, compiled once per served document."""
    document, etag = snapshot.config_for(environment)
    found = _compiled.get(etag)
    if found is None:
        if len(_compiled) > 64:
            _compiled.clear()
        holdouts = compile_holdouts(document["holdouts"], log)
        found = _compiled[etag] = compile_features(document["features"], log, holdouts)
    return found


@bp.post("/evaluate")
@require("sdk")
def evaluate() -> ResponseReturnValue:
    data = load(EVALUATE_REQUEST_SCHEMA, json_body())
    rt = runtime()
    snapshot = rt.registry.current()
    definitions = snapshot.definitions
    features = compiled_features(snapshot, request_environment())
    attributes = unit_attributes(data)
    now = service_now(current_app.config)
    assign, assigned = request_assigner(snapshot, now)

    wanted = data["features"] if data["features"] is not None else sorted(features)
    results: dict[str, Any] = {}
    unknown = []
    for key in wanted:
        feature = features.get(key)
        if feature is None:
            unknown.append(key)
            continue
        results[key] = evaluate_feature(feature, attributes, features, assign).to_dict()
    if data["log_exposure"] and assigned:
        rt.log_exposures(list(assigned.values()), attributes, definitions)
    body: dict[str, Any] = {"features": results}
    if unknown:
        body["unknown_features"] = unknown
    return jsonify(body)


@bp.get("/features")
@require("viewer")
def list_features() -> ResponseReturnValue:
    snapshot = runtime().registry.current()
    return jsonify({"features": [summary(f) for _, f in sorted(snapshot.features.items())]})


def summary(feature: FeatureDefinition) -> dict[str, Any]:
    """A feature with each environment's switch and rules (the listing and the pages)."""
    return {
        "key": feature.key,
        "type": feature.type,
        "default": feature.default,
        "description": feature.description,
        "owner": feature.owner,
        "prerequisites": [dict(p) for p in feature.prerequisites],
        "environments": {
            name: {"enabled": bool(env.get("enabled", True)), "rules": list(env.get("rules") or [])}
            for name, env in sorted(feature.environments.items())
        },
    }
