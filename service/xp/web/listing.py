"""The experiment list's tabs, text filter and sort, read from query parameters (no script).

``?status=running&q=checkout&sort=units&order=desc``: an unknown value is a 422 naming the
parameter, like every other bad query. The decision column reads the status first: a shipped
experiment shows "Shipped: <winner>", a stopped one "Stopped", whatever its data would say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from xp.errors import ValidationFailed

TABS = ("all", "running", "draft", "stopped", "shipped", "archived")
SORTS = ("name", "start", "units", "decision")
ORDERS = ("asc", "desc")
MAX_QUERY = 200

# Decisions ordered from "act now" to "nothing to read", for sorting by decision.
DECISION_RANK = {
    "shipped": 0,
    "ship": 1,
    "guardrail_breached": 2,
    "srm_alarm": 3,
    "no_ship": 4,
    "keep_running": 5,
    "stopped": 6,
    "insufficient_data": 7,
    "not_started": 8,
}


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: str = "all"
    q: str = ""
    sort: str = "name"
    order: str = "asc"

    def href(self, **changes: str) -> str:
        """This query with ``changes``, as a query string (defaults left out)."""
        values = {"status": self.status, "q": self.q, "sort": self.sort, "order": self.order}
        values.update(changes)
        defaults = ListQuery()
        kept = {k: v for k, v in values.items() if v != getattr(defaults, k)}
        return "?" + urlencode(kept) if kept else "?"


def parse_query(args: Mapping[str, str]) -> ListQuery:
    """The list query of request ``args``; a 422 naming the first bad parameter."""
    chosen: dict[str, str] = {}
    for name, allowed in (("status", TABS), ("sort", SORTS), ("order", ORDERS)):
        value = args.get(name)
        if value is None or value == "":
            continue
        if value not in allowed:
            problem = f"must be one of {', '.join(allowed)}, got {value!r}"
            raise ValidationFailed(f"{name} {problem}", {name: [problem]})
        chosen[name] = value
    text = args.get("q", "").strip()
    if len(text) > MAX_QUERY:
        problem = f"at most {MAX_QUERY} characters"
        raise ValidationFailed(f"q: {problem}", {"q": [problem]})
    return ListQuery(q=text, **chosen)


def shown_decision(status: str, decision: str) -> str:
    """The decision code the list shows: the status wins for shipped and stopped experiments,
    and a draft (overrides only, nothing to analyse) is not started."""
    if status in ("shipped", "stopped"):
        return status
    if status == "draft":
        return "not_started"
    return decision


def select(rows: Sequence[Mapping[str, Any]], query: ListQuery) -> list[Mapping[str, Any]]:
    """The rows of ``query``'s tab that match its text, in its order."""
    needle = query.q.casefold()
    kept = [
        row
        for row in rows
        if (query.status == "all" or row["status"] == query.status)
        and (
            not needle
            or any(needle in str(row.get(f) or "").casefold() for f in ("key", "name", "owner"))
        )
    ]

    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        if query.sort == "start":
            return (row.get("start") or "9999", row["key"])  # no start sorts last (ascending)
        if query.sort == "units":
            return (row["units"], row["key"])
        if query.sort == "decision":
            return (DECISION_RANK.get(row["decision"], 99), row["key"])
        return (str(row["name"]).casefold(), row["key"])

    return sorted(kept, key=key, reverse=query.order == "desc")


def tab_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {tab: 0 for tab in TABS}
    counts["all"] = len(rows)
    for row in rows:
        if row["status"] in counts:
            counts[row["status"]] += 1
    return counts
