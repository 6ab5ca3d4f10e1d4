"""What the service accepts in one event; the SDK drops what it would refuse before queueing,
so one bad call never costs the batch it would have travelled in."""

from __future__ import annotations

import math
from typing import Any

MAX_USER_ID = 256
MAX_EVENT_NAME = 128
MAX_EVENT_ID = 128
# Larger values are data errors (a timestamp or an id in the wrong field); their squares would
# overflow the sums every statistic depends on.
MAX_ABS_VALUE = 1e12


def unit_id_problem(user_id: Any) -> str | None:
    """Why ``user_id`` cannot identify a unit, or None."""
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        return f"user_id must be a string, got {type(user_id).__name__}"
    text = str(user_id)
    if not text:
        return "user_id is empty"
    if len(text) > MAX_USER_ID:
        return f"user_id is longer than {MAX_USER_ID} characters"
    return None


def conversion_problem(event: Any, user_id: Any, value: Any, event_id: Any) -> str | None:
    """Why the service would reject this conversion, or None."""
    if not isinstance(event, str) or not event or len(event) > MAX_EVENT_NAME:
        return f"event must be a non-empty string of at most {MAX_EVENT_NAME} characters"
    problem = unit_id_problem(user_id)
    if problem:
        return problem
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"value must be a number, got {type(value).__name__}"
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        if not (math.isfinite(number) and abs(number) <= MAX_ABS_VALUE):
            return f"value must be finite and within +/-{MAX_ABS_VALUE:g}"
    if event_id is not None and (
        not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID
    ):
        return f"event_id must be a non-empty string of at most {MAX_EVENT_ID} characters"
    return None
