"""Responses encoded by orjson read back as the standard library's encoding read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from xp.api.encoding import OrjsonProvider, encode


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    tags: tuple[str, ...]


def by_flask(document: Any) -> Any:
    """How Flask's default provider (the standard library) encoded ``document``, read back."""
    return json.loads(DefaultJSONProvider(Flask(__name__)).dumps(document))


@pytest.mark.parametrize(
    "document",
    [
        {"assignments": {"checkout-button": {"variant": "green", "payload": None}}},
        {"text": "Zürich 日本 \U0001f600", "empty": "", "list": [1, 2.5, True, None]},
        {"big": 2**64 - 1, "bigger": 10**30, "negative": -(2**63)},  # the last two: fallback
        {"when": dt.datetime(2026, 12, 2, 13, 0, tzinfo=dt.UTC), "day": dt.date(2026, 12, 2)},
        {"id": uuid.UUID(int=7), "amount": decimal.Decimal("1.10"), "point": Point(1.5, ("a",))},
        {1: "integer key", 2: {3.5: "float key"}},
        [],
        "plain",
        0.1,
    ],
)
def test_encode_reads_back_as_the_standard_library_encoding(document: Any) -> None:
    body = encode(document)
    assert body.endswith(b"\n")
    assert json.loads(body) == by_flask(document)


def test_nan_becomes_null_where_the_standard_library_wrote_invalid_json() -> None:
    assert json.loads(encode({"p": math.nan, "q": math.inf})) == {"p": None, "q": None}


def test_jsonify_uses_orjson_in_the_app(app: Flask) -> None:
    assert isinstance(app.json, OrjsonProvider)
    response = app.test_client().post(
        "/v1/assign", json={"user_id": "u-1", "log_exposure": False, "attributes": {"c": "é"}}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_data() == encode(response.json)  # compact, insertion order
