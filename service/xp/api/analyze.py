"""``POST /v1/analyze``: sufficient statistics in, lift out, for warehouse-native analysts."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from xp.api.body import json_body
from xp.auth import require
from xp.errors import ValidationFailed

bp = Blueprint("analyze", __name__, url_prefix="/v1")


@bp.post("/analyze")
@require("admin")
def analyze_view() -> ResponseReturnValue:
    # Here, not at the top: scipy loads only in processes that analyse (issue 13).
    from xp.stats.analyze import AnalyzeInputError, analyze

    document = json_body()
    try:
        return jsonify(analyze(document))
    except AnalyzeInputError as exc:
        details = exc.errors or {"": [str(exc)]}
        first = next(iter(details))
        raise ValidationFailed(f"invalid field {first!r}: {details[first][0]}", details) from None
