"""``GET /openapi.json``: the machine API as an OpenAPI 3.1 document.

Request bodies validated by marshmallow are described from the schemas themselves (one
source of truth); the rest is written here. A test fails when a route of the app is missing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, missing, validate

from xp.api.assign import AssignRequestSchema
from xp.errors import ErrorSchema
from xp.events.parse import MAX_EVENTS
from xp.stats.analyze import AnalyzeSchema

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document())


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "xp",
            "version": "1",
            "description": "Experiment assignment, event statistics and lift analysis. "
            "Keys go in 'Authorization: Bearer <key>'; scope sdk covers assign, events and "
            "config, scope admin everything.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "AssignRequest": schema_of(AssignRequestSchema()),
                "AnalyzeRequest": schema_of(AnalyzeSchema()),
                "EventBatch": EVENT_BATCH,
                "Error": schema_of(ErrorSchema()),
            },
        },
        "paths": PATHS,
    }


def schema_of(schema: Schema) -> dict[str, Any]:
    """JSON Schema of a marshmallow schema: its fields, what is required, nothing else allowed."""
    properties = {name: field_schema(field) for name, field in schema.fields.items()}
    required = [name for name, field in schema.fields.items() if field.required]
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def field_schema(field: fields.Field) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(field, fields.Nested):
        nested = field.schema
        out = schema_of(nested)
        if getattr(nested, "many", False):
            out = {"type": "array", "items": out}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_schema(field.inner)}
    elif isinstance(field, fields.Dict):
        values = field.value_field
        out = {"type": "object", "additionalProperties": field_schema(values) if values else {}}
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(field, fields.Number):
        out = {"type": "number"}
    elif isinstance(field, fields.String):
        out = {"type": "string"}
    else:
        out = {}
    for rule in field.validators:
        out.update(_rule(rule, out.get("type")))
    default = field.load_default
    if default is not None and not callable(default) and default is not missing:
        out["default"] = default
    if field.allow_none:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _rule(rule: Any, kind: str | None) -> dict[str, Any]:
    if isinstance(rule, validate.Length):
        low, high = {
            "array": ("minItems", "maxItems"),
            "object": ("minProperties", "maxProperties"),
        }.get(kind or "", ("minLength", "maxLength"))
        out = {}
        if rule.min is not None:
            out[low] = rule.min
        if rule.max is not None:
            out[high] = rule.max
        return out
    if isinstance(rule, validate.Range):
        out = {}
        if rule.min is not None:
            out["minimum" if rule.min_inclusive else "exclusiveMinimum"] = rule.min
        if rule.max is not None:
            out["maximum" if rule.max_inclusive else "exclusiveMaximum"] = rule.max
        return out
    if isinstance(rule, validate.OneOf):
        return {"enum": list(rule.choices)}
    return {}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


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
EVENT = {
    "type": "object",
    "required": ["type", "user_id"],
    "oneOf": [
        {"properties": {"type": {"const": "exposure"}}, "required": ["experiment", "variant"]},
        {"properties": {"type": {"const": "conversion"}}, "required": ["event", "event_id"]},
    ],
    "properties": {
        "type": {"enum": ["exposure", "conversion"]},
        "experiment": {"type": "string", "description": "exposure: the experiment key"},
        "variant": {"type": "string", "description": "exposure: the variant key"},
        "event": {"type": "string", "description": "conversion: the event name"},
        "user_id": {"type": ["string", "integer"], "maxLength": 256},
        "value": {"type": "number", "minimum": -1e12, "maximum": 1e12},
        "ts": {"type": ["number", "string"], "description": "epoch seconds or ISO 8601"},
        "attributes": {"type": "object"},
        "covariates": {"type": "object", "additionalProperties": {"type": "number"}},
        "event_id": {"type": "string", "maxLength": 128, "description": "required on conversions"},
    },
}
EVENT_BATCH = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "items": EVENT, "minItems": 1, "maxItems": MAX_EVENTS}
    },
}
OBJECT = {"type": "object"}


def _op(summary: str, security: Any, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": security, "responses": {**responses, **ERRORS}, **extra}


PATHS: dict[str, Any] = {
    "/v1/assign": {
        "post": _op(
            "Variants of one unit (logs exposures unless log_exposure is false)",
            SDK,
            {"200": _json(OBJECT)},
            requestBody=_body("AssignRequest"),
        )
    },
    "/v1/events": {
        "post": _op(
            "A batch of exposures and conversions; a result per event",
            SDK,
            {"200": _json(OBJECT)},
            requestBody=_body("EventBatch"),
        )
    },
    "/v1/config": {
        "get": _op(
            "Every live definition, for SDK local evaluation (ETag, 304)",
            SDK,
            {"200": _json(OBJECT), "304": {"description": "Not modified"}},
        )
    },
    "/v1/experiments": {"get": _op("Summaries of all experiments", ADMIN, {"200": _json(OBJECT)})},
    "/v1/experiments/{key}": {
        "get": _op("One experiment", ADMIN, {"200": _json(OBJECT)}, parameters=[KEY])
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
                    "schema": {"enum": ["frequentist", "sequential"]},
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
            ],
        )
    },
    "/v1/experiments/{key}/units.csv": {
        "get": _op(
            "One CSV row per exposed unit, streamed",
            ADMIN,
            {"200": {"description": "CSV", "content": {"text/csv": {}}}},
            parameters=[KEY],
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
            requestBody=_body("AnalyzeRequest"),
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
