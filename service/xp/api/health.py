"""``/healthz`` (is the process serving, are the definitions good) and ``/readyz`` (store)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from xp.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    rt = runtime()
    snapshot = rt.registry.current()
    problems = [p.to_dict() for p in rt.registry.problems]
    return jsonify(
        {
            "status": "degraded" if problems else "ok",
            "experiments": len(snapshot.definitions),
            "config_version": snapshot.config["version"],
            "problems": problems,
        }
    )


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    ok, detail = runtime().store_ready()
    return jsonify({"status": "ready" if ok else "unavailable", "store": detail}), (
        200 if ok else 503
    )
