"""gunicorn's loggers in the service's format, request id and redaction (:mod:`xp.logs`).

``xp serve`` sets it as gunicorn's ``logger_class``; run gunicorn by hand with
``--logger-class xp.cli.gunicorn_logging.GunicornLogger`` for the same lines.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from xp.logs import FORMATS, decorate


class GunicornLogger(Logger):
    """gunicorn's error and access logs, each handler decorated like the service's own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        log_format = os.environ.get("XP_LOG_FORMAT", "text").strip().lower() or "text"
        if log_format not in FORMATS:
            log_format = "text"  # Settings refuses it with a message before gunicorn starts
        for log, keep in ((self.error_log, False), (self.access_log, True)):
            for handler in log.handlers:
                decorate(handler, log_format, keep_formatter=keep)
