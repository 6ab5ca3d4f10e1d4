"""``GET /v1/config`` for SDKs, ``GET /v1/experiments[/<key>]`` for people.

People also see archived experiments: a key with data in the store and no file any more,
shown with the last definition the store recorded, status ``archived``. An earlier phase of
a live experiment is reached with ``?phase=N`` and is archived too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from xp.auth import request_environment, require
from xp.definitions.model import Definition
from xp.definitions.phases import store_view
from xp.definitions.registry import Snapshot
from xp.errors import NotFound, ValidationFailed
from xp.runtime import runtime

ARCHIVED = "archived"
MAX_PHASE = 1000

bp = Blueprint("definitions", __name__, url_prefix="/v1")


@bp.get("/config")
@require("sdk")
def config() -> ResponseReturnValue:
    # Each key reads its own environment's features only (and its own ETag).
    document, etag = runtime().registry.current().config_for(request_environment())
    if etag in request.if_none_match or request.if_none_match.contains_weak(etag.strip('"')):
        response = Response(status=304)
    else:
        response = jsonify(document)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@dataclass(frozen=True, slots=True)
class Located:
    """One phase of one experiment, live or read back from the store."""

    definition: Definition
    status: str  # the definition's status, or "archived"
    phases: tuple[int, ...]  # every phase that is live or has data

    @property
    def stored(self) -> Definition:
        """The definition as the store names it (``key@N`` from phase 2 on)."""
        return store_view(self.definition)


@bp.get("/experiments")
@require("viewer")
def list_experiments() -> ResponseReturnValue:
    return jsonify({"experiments": [summary(found) for found in every_experiment()]})


@bp.get("/experiments/<key>")
@require("viewer")
def get_experiment(key: str) -> ResponseReturnValue:
    found = locate(key, phase_arg())
    return jsonify({**summary(found), "definition": found.definition.config})


def every_experiment() -> list[Located]:
    """Live experiments and archived ones, by key."""
    snapshot = runtime().registry.current()
    keys = sorted({*snapshot.definitions, *snapshot.archived()})
    return [locate_in(snapshot, key, None) for key in keys]


def find(key: str) -> Definition:
    """The current definition of ``key`` (live, else archived), or a 404."""
    return locate(key).definition


def locate(key: str, phase: int | None = None) -> Located:
    """``key`` in ``phase`` (default: the live phase, else the last one with data), or a 404."""
    return locate_in(runtime().registry.current(), key, phase)


def locate_in(snapshot: Snapshot, key: str, phase: int | None) -> Located:
    """``key`` in ``phase`` of ``snapshot`` (the CLI's lookup too), or a :class:`NotFound`."""
    live = snapshot.definitions.get(key)
    phases = set(snapshot.history.phases(key))
    if live is not None:
        phases.add(live.phase)
    if phase is None:
        definition = live or snapshot.archived().get(key)
    else:
        definition = snapshot.phase_definition(key, phase)
    if definition is None:
        if phase is not None and phases:
            raise NotFound(
                f"experiment {key!r} has no phase {phase} (phases: {sorted(phases)})",
                {"phase": phase},
            )
        raise NotFound(f"no experiment {key!r}", {"key": key})
    status = definition.status if definition is live else ARCHIVED
    return Located(definition, status, tuple(sorted(phases)))


def phase_arg() -> int | None:
    """The ``phase`` query parameter (a whole number from 1), or a 422 naming it."""
    raw = request.args.get("phase")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_PHASE:
        raise ValidationFailed(
            f"phase must be a whole number from 1 to {MAX_PHASE}, got {raw!r}",
            {"phase": [f"Must be a whole number from 1 to {MAX_PHASE}."]},
        )
    return int(raw)


def summary(found: Located) -> dict[str, Any]:
    d = found.definition
    layer = d.experiment.layer
    return {
        "key": d.key,
        "name": d.name,
        "status": found.status,
        "phase": d.phase,
        "phases": list(found.phases),
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
