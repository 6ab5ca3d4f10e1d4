"""Reading request bodies: JSON only, bounded in size and depth, loaded through a schema."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError

from xp.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from xp.events.parse import is_unicode_text
from xp.validation import messages_by_path

MAX_DEPTH = 32
# A UTF-16 surrogate escape; only these can make a JSON string that is not valid Unicode.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_body(check_text: bool = True) -> Any:
    """The request's JSON document, or a 4xx saying what is wrong with it.

    ``check_text=False`` leaves strings holding lone surrogates to the caller (the events
    endpoint rejects such events one by one).
    """
    limit = current_app.config["XP_SETTINGS"].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not request.is_json:
        raise UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'",
            {"Content-Type": request.mimetype or None},
        )
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    try:
        document = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", {"body": str(exc)}) from None
    path = too_deep(document)
    if path is not None:
        message = f"JSON is nested deeper than {MAX_DEPTH} levels"
        raise BadRequest(message, {path: [message]})
    if check_text and SURROGATE_ESCAPE.search(raw):
        path = bad_text(document)
        if path is not None:
            message = "a string is not valid Unicode text (a lone surrogate)"
            raise BadRequest(f"{path or 'body'}: {message}", {path: [message]})
    return document


def load(schema: Schema, document: Any) -> Any:
    """``schema.load(document)`` with errors as ``{field.path: [messages]}`` in a 422."""
    if not isinstance(document, dict):
        raise ValidationFailed(
            f"the body must be a JSON object, not {type(document).__name__}",
            {"": ["not an object"]},
        )
    try:
        return schema.load(document)
    except ValidationError as exc:
        details = messages_by_path(exc.messages)
        first = next(iter(details), "")
        raise ValidationFailed(f"invalid field {first!r}: {details[first][0]}", details) from None


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
