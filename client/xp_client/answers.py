"""How the SDK reads the service's answer to a batch of events: retry, drop, or count rejections."""

from __future__ import annotations

from xp_client.transport import Response

# 408 and 429 say "not now", not "never": retried like a 5xx.
RETRYABLE_4XX = frozenset({408, 429})
# A wrong, revoked or under-scoped key: every later batch would be refused the same way.
AUTH_REFUSALS = frozenset({401, 403})


def refusal(n: int, response: Response) -> str:
    """The log line for ``n`` events the service refused (a 4xx that is not retried)."""
    if response.status in AUTH_REFUSALS:
        return (
            f"xp: the service refused {n} events with HTTP {response.status}: the api_key is "
            "wrong, revoked or lacks the sdk scope; events are dropped until it is fixed"
        )
    body = response.body[:200]
    return f"xp: the service refused {n} events with HTTP {response.status}: {body!r}; dropped"


def rejections(response: Response) -> tuple[int, str]:
    """How many events the service's answer rejected, and the first one's field and reason."""
    try:
        answer = response.json()
        rejected = int(answer.get("rejected", 0)) if isinstance(answer, dict) else 0
        if rejected <= 0:
            return 0, ""
        first = next(r for r in answer["results"] if r.get("status") == "rejected")
        return rejected, f"{first.get('field', '')}: {first.get('reason', '')}"
    except Exception:  # an answer we do not understand is not worth failing a delivery over
        return 0, ""


def retry_after(response: Response) -> float:
    """Seconds from a numeric ``Retry-After`` header; 0 when absent or a date."""
    try:
        return max(0.0, float(response.headers.get("retry-after", 0)))
    except ValueError:
        return 0.0
