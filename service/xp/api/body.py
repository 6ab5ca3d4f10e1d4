"""Reading request bodies: JSON only, bounded in size and depth, loaded through a schema."""

from __future__ import annotations

import json
import re
import weakref
from typing import Any

import orjson
from flask import Request, current_app, request
from marshmallow import Schema, ValidationError

from xp.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from xp.events.fastpath import FastLoader, NotCompilable
from xp.events.values import is_unicode_text
from xp.validation import messages_by_path

MAX_DEPTH = 32
# A UTF-16 surrogate escape; only these can make a JSON string that is not valid Unicode.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_body(check_text: bool = True) -> Any:
    """The request's JSON document, or a 4xx saying what is wrong with it.

    ``check_text=False`` leaves strings holding lone surrogates to the caller (the events
    endpoint rejects such events one by one).
    """
    # One proxy lookup, not one per attribute (the proxy is typed as the Request itself).
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    limit = current_app.config["XP_SETTINGS"].max_body_bytes
    raw = plain_body(req.environ, limit)
    if raw is not None:
        return decode(raw, check_text)
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not req.is_json:
        raise UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'",
            {"Content-Type": req.mimetype or None},
        )
    raw = req.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return decode(raw, check_text)


def plain_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The body of the common request, read straight from the WSGI input: JSON by its plain
    media type and a ``Content-Length`` within ``limit``. None for anything else, which goes
    through werkzeug's parsing of the headers and its stream (what they cost is a tenth of a
    cheap request)."""
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type != "application/json" and not content_type.startswith("application/json;"):
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()) or int(length) > limit:
        return None
    data: bytes = environ["wsgi.input"].read(int(length))
    return data


def decode(raw: bytes, check_text: bool = True) -> Any:
    """``raw`` as a JSON document, within :data:`MAX_DEPTH`, or a :class:`BadRequest`.

    orjson parses what it can; what it refuses or would read differently from the standard
    library (lone surrogates, integers beyond 64 bits, ``1e400``, NaN, invalid UTF-8, a BOM,
    nesting past its 1024 levels) goes through :func:`decode_exactly`, so answers stay what
    they were: a bad string rejects only its event, a huge integer stays an integer.
    """
    if not _beyond_64_bits(raw):
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            # orjson refuses lone surrogates, so only the depth can still be wrong; the walk
            # that names the path runs only when the brackets nest past the limit.
            if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and bracket_depth(raw) > MAX_DEPTH:
                _check_depth(document)
            return document
    return decode_exactly(raw, check_text)


def decode_exactly(raw: bytes, check_text: bool = True) -> Any:
    """The standard library's reading of ``raw``, NaN and Infinity refused."""
    try:
        document = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", {"body": str(exc)}) from None
    _check_depth(document)
    if check_text and SURROGATE_ESCAPE.search(raw):
        path = bad_text(document)
        if path is not None:
            message = "a string is not valid Unicode text (a lone surrogate)"
            raise BadRequest(f"{path or 'body'}: {message}", {path or "body": [message]})
    return document


def _check_depth(document: Any) -> None:
    path = too_deep(document)
    if path is not None:
        message = f"JSON is nested deeper than {MAX_DEPTH} levels"
        raise BadRequest(message, {path: [message]})


# Digits become "0", a minus stays, all else "x": a 20-digit run (or a minus and 19 digits)
# may be an integer orjson would read as a float. A long digit string inside a JSON string
# also matches; it only costs that body the exact path.
_DIGIT_SHAPES = bytes(
    ord("0") if chr(b).isdigit() and b < 128 else b if b == ord("-") else ord("x")
    for b in range(256)
)


def _beyond_64_bits(raw: bytes) -> bool:
    shapes = raw.translate(_DIGIT_SHAPES)
    return b"0" * 20 in shapes or b"-" + b"0" * 19 in shapes


_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def bracket_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of a valid JSON text nest (a value inside the innermost
    is one level deeper), read from its bytes in C; counting stops past ``limit``."""
    if b"\\" in raw:  # escaped backslashes, then escaped quotes: what is left delimits strings
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _NOT_STRUCTURE)
    # A string with no bracket in it is left as '""': when that removes every quote, no string
    # held a bracket (the first that does keeps its opening quote) and the rest is structure.
    brackets = structure.replace(b'""', b"")
    if b'"' in brackets:  # even pieces are outside strings
        brackets = b"".join(structure.split(b'"')[::2])
    depth = 0
    while brackets and depth <= limit:  # one level of innermost pairs per pass
        brackets = _EMPTY_PAIR.sub(b"", brackets)
        depth += 1
    return depth


def load(schema: Schema, document: Any) -> Any:
    """``schema.load(document)`` with errors as ``{field.path: [messages]}`` in a 422."""
    if not isinstance(document, dict):
        raise ValidationFailed(
            f"the body must be a JSON object, not {type(document).__name__}",
            {"body": ["must be a JSON object"]},
        )
    fast = fast_loader(schema)
    loaded = None if fast is None else fast.load(document)
    if loaded is not None:
        return loaded
    try:
        return schema.load(document)
    except ValidationError as exc:
        details = messages_by_path(exc.messages)
        first = next(iter(details), "")
        raise ValidationFailed(f"invalid field {first!r}: {details[first][0]}", details) from None


_FAST_LOADERS: weakref.WeakKeyDictionary[Schema, FastLoader | None] = weakref.WeakKeyDictionary()


def fast_loader(schema: Schema) -> FastLoader | None:
    """The schema's fast path for plain bodies, compiled on first use (None: it has none)."""
    try:
        return _FAST_LOADERS[schema]
    except KeyError:
        pass
    try:
        fast: FastLoader | None = FastLoader(schema)
    except NotCompilable:
        fast = None
    _FAST_LOADERS[schema] = fast
    return fast


def too_deep(document: Any, limit: int = MAX_DEPTH) -> str | None:
    """Path of the first value nested deeper than ``limit``, or None."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limit:
            return path
        if isinstance(value, dict):
            stack.extend(
                (v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend(
                (v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(value)
            )
    return None


def bad_text(document: Any) -> str | None:
    """Path of the first key or string that cannot be encoded as UTF-8, or None."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not is_unicode_text(value):
                return path
        elif isinstance(value, dict):
            for k, v in value.items():
                child = f"{path}.{k}" if path else str(k)
                if not is_unicode_text(k):
                    return path or "(key)"
                stack.append((v, child))
        elif isinstance(value, list):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value))
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
