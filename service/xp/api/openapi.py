"""``GET /openapi.json``: the machine API as an OpenAPI 3.1 document, built by apispec.

Every request body is described by :mod:`apispec`'s ``MarshmallowPlugin`` from the very
schema that validates it (:func:`request_bodies`); the rest is written here. Tests fail when
a route of the app is missing, or when the service and its document disagree about a body.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from xp.api.assign import ASSIGN_REQUEST_SCHEMA
from xp.api.features import EVALUATE_REQUEST_SCHEMA
from xp.errors import ErrorSchema
from xp.events.parse import (
    CONVERSION_SCHEMA,
    EVENT_BATCH_SCHEMA,
    EXPOSURE_SCHEMA,
    SCHEMAS,
    EventField,
)

bp = Blueprint("openapi", __name__)


@cache
def request_bodies() -> dict[tuple[str, str], tuple[str, Schema]]:
    """(path, method) -> (component name, the schema that validates its body)."""
    # Here, not at the top: the analysis schema's module loads scipy (issue 13).
    from xp.stats.analyze import ANALYZE_SCHEMA

    return {
        ("/v1/assign", "post"): ("AssignRequest", ASSIGN_REQUEST_SCHEMA),
        ("/v1/events", "post"): ("EventBatch", EVENT_BATCH_SCHEMA),
        ("/v1/evaluate", "post"): ("EvaluateRequest", EVALUATE_REQUEST_SCHEMA),
        ("/v1/analyze", "post"): ("AnalyzeRequest", ANALYZE_SCHEMA),
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document())


def event_one_of(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """An event of a batch is an exposure or a conversion, told apart by ``type``."""
    if not isinstance(field, EventField):
        return {}
    refs = {kind: self.resolve_nested_schema(schema) for kind, schema in SCHEMAS.items()}
    return {
        "oneOf": list(refs.values()),
        "discriminator": {
            "propertyName": "type",
            "mapping": {kind: ref["$ref"] for kind, ref in refs.items()},
        },
    }


def exact_bounds(
    self: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """What apispec leaves out: open ``Range`` ends (``0 < alpha < 1``), the size of an object
    (``Length`` on a ``Dict`` counts its entries, not characters) and its key rules."""
    out: dict[str, Any] = {}
    for rule in field.validators:
        if isinstance(rule, validate.Range):
            if rule.min is not None and not rule.min_inclusive:
                out["exclusiveMinimum"] = rule.min
                ret.pop("minimum", None)
            if rule.max is not None and not rule.max_inclusive:
                out["exclusiveMaximum"] = rule.max
                ret.pop("maximum", None)
    if isinstance(field, fields.Dict):
        if field.key_field is not None:
            out["propertyNames"] = self.field2property(field.key_field)
        for chars, entries in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
            if chars in ret:
                out[entries] = ret.pop(chars)
    return out


@cache
def document() -> dict[str, Any]:
    """The document, built once per process."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="xp",
        version="1",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "description": "Experiment assignment, event statistics and lift analysis. "
            "Keys go in 'Authorization: Bearer <key>'; scope sdk covers assign, events and "
            "config, scope viewer experiments, results and exports, scope admin everything "
            "(alone erasure, analyze and metrics). In an events batch an event its schema refuses "
            "is rejected alone (its result names the field); the others are ingested."
        },
    )
    for attribute_function in (event_one_of, exact_bounds):
        plugin.converter.add_attribute_function(attribute_function)  # type: ignore[union-attr]
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Exposure", schema=EXPOSURE_SCHEMA)
    spec.components.schema("Conversion", schema=CONVERSION_SCHEMA)
    spec.components.schema("Error", schema=ErrorSchema)
    for name, schema in request_bodies().values():
        spec.components.schema(name, schema=schema)
    for path, operations in PATHS.items():
        spec.path(path=path, operations=_with_bodies(path, operations))
    return spec.to_dict()


def _with_bodies(path: str, operations: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for method, operation in operations.items():
        body = request_bodies().get((path, method))
        if body is not None:
            name, _ = body
            content = {"application/json": {"schema": _ref(name)}}
            operation = {**operation, "requestBody": {"required": True, "content": content}}
        out[method] = operation
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(name: str, where: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": True, "schema": {"type": "string"}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "4XX": _json(_ref("Error"), "Bad input, no key, wrong scope or unknown resource"),
    "503": _json(_ref("Error"), "The event store is unavailable"),
}
SDK: list[dict[str, list[str]]] = [{"bearer": []}]  # sdk or admin
ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]  # admin only
KEY = _string("key", "path")
# An experiment's phase (default: the live one, else the last with data); earlier ones archived.
PHASE = {
    "name": "phase",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}
OBJECT = {"type": "object"}


def _op(summary: str, security: Any, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": security, "responses": {**responses, **ERRORS}, **extra}


# Request bodies are added from request_bodies().
PATHS: dict[str, dict[str, Any]] = {
    "/v1/assign": {
        "post": _op(
            "Variants of one unit (logs exposures unless log_exposure is false)",
            SDK,
            {"200": _json(OBJECT)},
        )
    },
    "/v1/events": {
        "post": _op(
            "A batch of exposures and conversions; a result per event",
            SDK,
            {"200": _json(OBJECT)},
        )
    },
    "/v1/evaluate": {
        "post": _op(
            "Feature values of one unit in the key's environment, each with its source",
            SDK,
            {"200": _json(OBJECT)},
        )
    },
    "/v1/features": {
        "get": _op("Every feature with each environment's rules", ADMIN, {"200": _json(OBJECT)})
    },
    "/v1/config": {
        "get": _op(
            "Every live definition and the key's environment's features, for SDK local "
            "evaluation (ETag, 304)",
            SDK,
            {"200": _json(OBJECT), "304": {"description": "Not modified"}},
        )
    },
    "/v1/experiments": {
        "get": _op("Summaries of all experiments, archived ones too", ADMIN, {"200": _json(OBJECT)})
    },
    "/v1/experiments/{key}": {
        "get": _op("One experiment", ADMIN, {"200": _json(OBJECT)}, parameters=[KEY, PHASE])
    },
    "/v1/experiments/{key}/results": {
        "get": _op(
            "Results: lift, intervals, corrected p-values, CUPED, SRM, decision, series, "
            "segments (docs/results.md)",
            ADMIN,
            {
                "200": {
                    "description": "The results document (json) or its rendering",
                    "content": {
                        "application/json": {"schema": OBJECT},
                        "text/markdown": {},
                        "text/csv": {},
                        "text/html": {},
                    },
                }
            },
            parameters=[
                KEY,
                {
                    "name": "method",
                    "in": "query",
                    "schema": {"enum": ["frequentist", "sequential", "bayesian"]},
                },
                {
                    "name": "alpha",
                    "in": "query",
                    "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                },
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"enum": ["json", "md", "csv", "html"]},
                },
                {  # method=bayesian only: the decision rule, overriding the definition's
                    "name": "chance_to_win",
                    "in": "query",
                    "schema": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 1},
                },
                {
                    "name": "risk_threshold",
                    "in": "query",
                    "schema": {"type": "number", "minimum": 0},
                },
                PHASE,
            ],
        )
    },
    "/v1/experiments/{key}/units.csv": {
        "get": _op(
            "One CSV row per exposed unit, streamed",
            ADMIN,
            {"200": {"description": "CSV", "content": {"text/csv": {}}}},
            parameters=[KEY, PHASE],
        )
    },
    "/v1/units/{unit_id}": {
        "delete": _op(
            "Erase a unit and its contribution to every statistic",
            ADMIN,
            {"200": _json(OBJECT)},
            parameters=[_string("unit_id", "path")],
        )
    },
    "/v1/units": {
        "delete": _op(
            "Erase a unit given as ?unit_id= (any id, also one a path cannot carry)",
            ADMIN,
            {"200": _json(OBJECT)},
            parameters=[_string("unit_id", "query")],
        )
    },
    "/v1/analyze": {
        "post": _op(
            "Sufficient statistics in, lift out",
            ADMIN,
            {"200": _json(OBJECT)},
        )
    },
    "/healthz": {
        "get": {
            "summary": "Serving; definitions good or degraded",
            "responses": {"200": _json(OBJECT)},
        }
    },
    "/readyz": {
        "get": {
            "summary": "The store answers",
            "responses": {"200": _json(OBJECT), "503": _json(OBJECT)},
        }
    },
    "/metrics": {
        "get": _op(
            "Prometheus metrics of every worker",
            ADMIN,
            {"200": {"description": "Prometheus text", "content": {"text/plain": {}}}},
        )
    },
    "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json(OBJECT)}}},
}
