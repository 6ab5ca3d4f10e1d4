"""What the service accepts in one event; the SDK drops what it would refuse before queueing,
so one bad call never costs the batch it would have travelled in."""

from __future__ import annotations

import math
from typing import Any

from xp_client.unit_ids import MAX_USER_ID, unit_id_problem

__all__ = [
    "MAX_ABS_VALUE",
    "MAX_EVENT_ID",
    "MAX_EVENT_NAME",
    "MAX_USER_ID",
    "conversion_problem",
    "unit_id_problem",
]

MAX_EVENT_NAME = 128
MAX_EVENT_ID = 128
# Larger values are data errors (a timestamp or an id in the wrong field); their squares would
# overflow the sums every statistic depends on.
MAX_ABS_VALUE = 1e12


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
