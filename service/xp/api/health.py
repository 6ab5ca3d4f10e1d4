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
    rt = runtime()
    ok, detail = rt.store_ready()
    buffer = rt.exposures.status()
    exposures = {  # this worker's buffer: /v1/assign keeps answering through an outage
        "buffered": buffer.depth,
        "dropped": buffer.dropped,
        "failing_since": buffer.failing_since,
    }
    body = {"status": "ready" if ok else "unavailable", "store": detail, "exposures": exposures}
    return jsonify(body), (200 if ok else 503)
