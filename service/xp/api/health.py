"""``/healthz`` (is the process serving, are the definitions good) and ``/readyz`` (store).

Both are open to probes, so they show no host, port, path, URL or file content: a refused
experiment file appears as its name and the field paths at fault. An admin key (bearer header)
adds the details: each problem's message and value, the store's redacted error.
"""

from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from xp.auth import granted
from xp.redaction import redact
from xp.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    rt = runtime()
    snapshot = rt.registry.current()
    details = granted("admin")
    problems = [
        p.to_dict() if details else {"file": PurePath(p.file).name, "path": p.path}
        for p in rt.registry.problems
    ]
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
    body: dict[str, object] = {
        "status": "ready" if ok else "unavailable",
        # this worker's buffer: /v1/assign keeps answering through an outage
        "exposures": {
            "buffered": buffer.depth,
            "dropped": buffer.dropped,
            "failing_since": buffer.failing_since,
        },
    }
    if granted("admin"):
        body["store"] = redact(detail)
    return jsonify(body), (200 if ok else 503)
