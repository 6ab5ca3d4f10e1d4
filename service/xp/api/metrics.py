"""``GET /metrics``: Prometheus text format, every gunicorn worker added up (admin)."""

from __future__ import annotations

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from xp.auth import require
from xp.metrics import CONTENT_TYPE
from xp.runtime import runtime

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@require("admin")
def metrics() -> ResponseReturnValue:
    rt = runtime()
    ready, _ = rt.store_ready()
    snapshot = rt.registry.current()
    gauges = {
        "xp_experiments_loaded": float(len(snapshot.definitions) - len(snapshot.holdouts)),
        "xp_definition_problems": float(len(rt.registry.problems)),
        "xp_store_up": 1.0 if ready else 0.0,
        "xp_exposure_buffer_depth": float(rt.exposures.status().depth),
    }
    return Response(rt.metrics.render(gauges), content_type=CONTENT_TYPE)
