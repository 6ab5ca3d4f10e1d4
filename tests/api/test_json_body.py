"""Request bodies through orjson read as the standard library read them, depth limit included.

``decode`` parses with orjson and hands to the standard library what orjson refuses or would
read differently; these tests hold it to the standard library's reading (NaN and Infinity
refused, as before) on a corpus of good, degenerate and hostile bodies, and check the byte
scan that replaced the depth walk against the walk itself.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from flask.testing import FlaskClient

from xp.api.body import MAX_DEPTH, bracket_depth, decode, too_deep
from xp.errors import BadRequest


def reference(raw: bytes) -> Any:
    """What the service answered before orjson: the document, or a BadRequest's details."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        document = json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return "refused"
    path = too_deep(document)
    return ("too deep", path) if path is not None else document


def answer(raw: bytes) -> Any:
    try:
        document = decode(raw, check_text=False)
    except BadRequest as exc:
        if "nested deeper" in exc.message and exc.details:
            return ("too deep", next(iter(exc.details)))
        return "refused"
    return document


def same(a: Any, b: Any) -> bool:
    """Equal, with types compared too (``1`` is not ``1.0``) and nan equal to itself."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"a":' * depth + leaf + b"}" * depth


BODIES: list[bytes] = [
    b'{"user_id": "u-1", "attributes": {"country": "US"}}',
    b"{}",
    b"[]",
    b"null",
    b'"text"',
    b"0",
    b"-0",
    b"-0.0",
    b"1e400",
    b"-1e400",
    b"[1e-400]",
    b"5e-324",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b'{"user_id": 1' + b"0" * 300 + b"}",
    b'{"id": "123456789012345678901234567890"}',
    b"NaN",
    b"[Infinity]",
    b"[-Infinity]",
    b'"\\ud800"',
    b'{"\\udc00": 1}',
    b'"\\ud83d\\ude00"',
    "\U0001f600".encode(),
    b'"\xed\xa0\x80"',
    b'"\xff"',
    b"\xef\xbb\xbf{}",
    b'{"a": 1, "a": 2}',
    b'"a\\"b\\\\"',
    b'["]]]]", "[[[[", "\\"[", "\\\\", "{"]',
    b"{",
    b"[1,]",
    b'{"a" 1}',
    b"",
    b" ",
    b'{"a": 1} x',
    b'"\x01"',
    nested(MAX_DEPTH),
    nested(MAX_DEPTH + 1),
    nested(MAX_DEPTH, b"{}"),
    nested(MAX_DEPTH, b"[]"),
    nested(MAX_DEPTH + 1, b"[]"),
    nested(MAX_DEPTH + 1, b"[[]]"),
    nested(40, b'"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"'),
    b"[" * 1100 + b"]" * 1100,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"events": [' + b",".join([b'{"type": "exposure", "user_id": "u"}'] * 500) + b"]}",
]


def generated(count: int = 300) -> list[bytes]:
    """Random documents of strings with brackets, quotes and backslashes, and nesting around
    the limit."""
    rng = random.Random(4)
    pieces = ["[", "]", "{", "}", '"', "\\", "a", "é", "\\u005c"]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 4 or roll < 0.3:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        if roll < 0.4:
            return rng.choice([0, -1, 2.5, 10**25, -(10**19), True, None])
        if roll < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 2))]
        return {str(value(depth + 1))[:8]: value(depth + 1) for _ in range(rng.randint(0, 2))}

    def document() -> Any:
        doc = value(0)
        for _ in range(rng.choice([0, rng.randint(28, 38)])):  # around the limit, half the time
            doc = rng.choice([[doc], {"k]": doc}, [doc, "]]}"], {"\\": doc, "[": "[["}])
        return doc

    return [json.dumps(document()).encode() for _ in range(count)]


@pytest.mark.parametrize("raw", BODIES, ids=lambda raw: repr(raw[:40]))
def test_decode_reads_what_the_standard_library_read(raw: bytes) -> None:
    assert same(answer(raw), reference(raw))


def test_decode_reads_generated_documents_as_the_standard_library_did() -> None:
    answers = [reference(raw) for raw in generated()]
    too_deep_count = sum(isinstance(a, tuple) for a in answers)
    assert 10 < too_deep_count < len(answers) - 100  # both sides of the limit are covered
    for raw, expected in zip(generated(), answers, strict=True):
        assert same(answer(raw), expected), raw


def containers(value: Any) -> int:
    """How many arrays and objects nest, counted on the document."""
    if not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((containers(c) for c in children), default=0)


def test_the_byte_scan_measures_the_depth_of_the_document() -> None:
    for raw in BODIES + generated():
        if reference(raw) != "refused":
            expected = min(containers(json.loads(raw)), MAX_DEPTH + 1)  # it stops counting there
            assert bracket_depth(raw) == expected, raw


def test_the_byte_scan_without_brackets_in_strings_matches_the_document() -> None:
    # No string holds a bracket: the scan drops every '""' in one pass (its quick way).
    for depth in (1, 2, 31, 32, 33, 40):
        doc: Any = {"a": "b", "c": ["d", ""]}
        for i in range(depth - 2):
            doc = [doc, "x"] if i % 2 else {"k": doc, "": 1}
        raw = json.dumps(doc).encode()
        assert bracket_depth(raw) == min(containers(doc), MAX_DEPTH + 1), depth
    # One string with a bracket among plain ones takes the careful way, with the same answer.
    assert bracket_depth(b'[{"a":"b"},"]]]",["x"]]') == 2
    assert bracket_depth(b'["","[[","",[[[""]]]]') == 4


def test_a_huge_integer_stays_an_integer() -> None:
    assert decode(b"[123456789012345678901234567890]") == [123456789012345678901234567890]
    assert decode(b"[-9223372036854775809]") == [-9223372036854775809]
    assert decode(b"[18446744073709551615]") == [18446744073709551615]


def test_an_events_batch_keeps_per_event_rejection_of_bad_strings(client: FlaskClient) -> None:
    body = (
        b'{"events": [{"type": "exposure", "experiment": "checkout-button", "user_id": '
        b'"\\ud800", "variant": "control"}, {"type": "conversion", "event": "purchase", '
        b'"user_id": 1' + b"0" * 300 + b', "event_id": "e-1"}, {"type": "conversion", '
        b'"event": "purchase", "user_id": 12345678901234567890123, "event_id": "e-2"}]}'
    )
    response = client.post("/v1/events", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.json["results"]
    assert [r["status"] for r in results[:2]] == ["rejected", "rejected"]
    assert results[0]["field"] == "events.0.user_id"
    assert results[1]["field"] == "events.1.user_id"
    assert "longer than" in results[1]["reason"]  # still an integer, not a float
    assert results[2].get("field") != "events.2.user_id"  # a 23-digit unit id is a unit id
