"""What ``Client.ready`` means in remote mode: the service has not refused the API key.

Remote mode has no config to wait for, so ``ready`` starts true; a ``401`` or ``403`` from
the service makes it false, with one error line naming the cause (not one per call), and
the next answer the key is accepted for makes it true again.
"""

from __future__ import annotations

import logging
import threading

REFUSED = {401: "not accepted (401: missing or unknown key)", 403: "not allowed (403: scope)"}


class KeyCheck:
    """Thread-safe record of whether the service accepts this client's API key."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._refused: int | None = None

    @property
    def accepted(self) -> bool:
        return self._refused is None

    def answered(self, status: int, path: str) -> bool:
        """Record an answer's status; true when it was a refusal of the key (already logged).
        Only a 2xx says the key is accepted: a 5xx or 429 says nothing about it."""
        if status not in REFUSED and not 200 <= status < 300:
            return False
        refused = status if status in REFUSED else None
        with self._lock:
            changed, self._refused = refused != self._refused, refused
        if changed and refused is not None:
            self._log.error(
                "remote mode: the API key is %s on %s; every call serves its default with "
                "reason remote_error until the key is fixed (Client.ready is False)",
                REFUSED[refused],
                path,
            )
        elif changed:
            self._log.info("remote mode: the API key is accepted again (Client.ready is True)")
        return refused is not None
