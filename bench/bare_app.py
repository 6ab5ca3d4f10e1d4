"""The baseline of ``bench/http_assign.py``: a bare Flask app with one JSON route.

It reads the JSON body and answers a small JSON object, as any Flask JSON endpoint must; no
validation, no store. Served by gunicorn with the same process model as ``xp serve``.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.post("/v1/assign")
def assign() -> ResponseReturnValue:
    body = request.get_json()
    return jsonify({"assignments": {}, "user_id": body["user_id"]})


@app.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify({"status": "ok"})
