"""``POST /v1/events``: a batch of exposures and conversions, with a result per event."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from xp.api.body import json_body
from xp.auth import require
from xp.errors import BadRequest, PayloadTooLarge
from xp.events.parse import BatchError, BatchTooLarge
from xp.ingest import ingest_batch
from xp.runtime import runtime

bp = Blueprint("events", __name__, url_prefix="/v1")
# (outcome, its count in the answer)
OUTCOME_FIELDS = (("accepted", "accepted"), ("duplicate", "duplicates"), ("rejected", "rejected"))


@bp.post("/events")
@require("sdk")
def post_events() -> ResponseReturnValue:
    body = json_body(check_text=False)  # a bad string rejects its event, not the batch
    rt = runtime()
    definitions = rt.registry.current().definitions
    try:
        answer = ingest_batch(rt.store, definitions, body, time.time(), rt.on_conflict)
    except BatchTooLarge as exc:
        raise PayloadTooLarge(str(exc), {exc.field: [exc.message]}) from None
    except BatchError as exc:
        raise BadRequest(str(exc), {exc.field or "(body)": [exc.message]}) from None
    for status, field in OUTCOME_FIELDS:
        if answer[field]:
            rt.metrics.inc("xp_events_total", answer[field], status=status)
    return jsonify(answer)
