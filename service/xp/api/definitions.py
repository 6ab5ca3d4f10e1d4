"""``GET /v1/config`` for SDKs, ``GET /v1/experiments[/<key>]`` for people."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from xp.auth import require
from xp.definitions.model import Definition
from xp.errors import NotFound
from xp.runtime import runtime

bp = Blueprint("definitions", __name__, url_prefix="/v1")


@bp.get("/config")
@require("sdk")
def config() -> ResponseReturnValue:
    snapshot = runtime().registry.current()
    if snapshot.etag in request.if_none_match or request.if_none_match.contains_weak(
        snapshot.etag.strip('"')
    ):
        response = Response(status=304)
    else:
        response = jsonify(snapshot.config)
    response.headers["ETag"] = snapshot.etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/experiments")
@require("viewer")
def list_experiments() -> ResponseReturnValue:
    definitions = runtime().registry.current().definitions
    return jsonify({"experiments": [summary(d) for _, d in sorted(definitions.items())]})


@bp.get("/experiments/<key>")
@require("viewer")
def get_experiment(key: str) -> ResponseReturnValue:
    return jsonify({**summary(find(key)), "definition": find(key).config})


def find(key: str) -> Definition:
    definition = runtime().registry.current().definitions.get(key)
    if definition is None:
        raise NotFound(f"no experiment {key!r}", {"key": key})
    return definition


def summary(d: Definition) -> dict[str, Any]:
    layer = d.experiment.layer
    return {
        "key": d.key,
        "name": d.name,
        "status": d.status,
        "owner": d.owner,
        "hypothesis": d.hypothesis,
        "winner": d.experiment.winner,
        "variants": [{"key": v.key, "weight": v.weight} for v in d.experiment.variants],
        "coverage": d.experiment.coverage,
        "layer": None if layer is None else {"name": layer.name, "range": [layer.start, layer.end]},
        "metrics": [{"name": m.name, "kind": m.kind, "role": m.role} for m in d.metrics],
        "segments": list(d.segments),
        "start": d.start.isoformat() if d.start else None,
        "end": d.end.isoformat() if d.end else None,
    }
