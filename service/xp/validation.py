"""What every validating layer shares: marshmallow error trees as dotted paths, short values.

Stdlib only, so the bottom layers (definitions, events) and the pure statistics may all
import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_messages(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested error dict as ``(dotted.path, message)`` pairs, in order.

    ``{"variants": {1: {"n": ["..."]}}}`` -> ``[("variants.1.n", "...")]``; ``_schema``
    errors belong to the path above them.
    """
    out: list[tuple[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            part = "" if key == "_schema" else str(key)
            path = f"{prefix}.{part}" if prefix and part else prefix or part
            out.extend(flatten_messages(value, path))
    elif isinstance(messages, list | tuple):
        for value in messages:
            out.extend(flatten_messages(value, prefix))
    else:
        out.append((prefix, str(messages)))
    return out


def messages_by_path(messages: Any) -> dict[str, list[str]]:
    """:func:`flatten_messages` grouped: ``{"variants.1.n": ["...", ...]}``."""
    out: dict[str, list[str]] = {}
    for path, message in flatten_messages(messages):
        out.setdefault(path, []).append(message)
    return out


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
