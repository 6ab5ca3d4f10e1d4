"""The one gunicorn configuration: ``xp serve`` loads it, and so does ``gunicorn -c
python:xp.gunicorn_conf 'xp.wsgi:app'`` (the image runs ``xp serve``). Both then apply
``GUNICORN_CMD_ARGS`` on top, as gunicorn documents.

gunicorn's threads read a request synchronously, so a client trickling its bytes holds one
thread for as long as it likes: 2 workers x 4 threads are 8 slow clients from a stalled
service. In production a buffering proxy (nginx, ``deploy/nginx/``) receives whole requests
before it hands them on, and the timeouts below assume one in front.
"""

from __future__ import annotations

import os
from typing import Any

bind = [f"{os.environ.get('XP_HOST', '127.0.0.1')}:{os.environ.get('XP_PORT', '8000')}"]
workers = int(os.environ.get("XP_WORKERS") or 2)
threads = int(os.environ.get("XP_THREADS") or 4)
worker_class = "gthread"
# gunicorn 24+ opens a control socket at one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl): a second instance on the machine takes it over and stopping either
# removes it, so `gunicornc` could reach the wrong one. xp does not use it: off.
control_socket_disable = True
# A request taking longer than this is a stuck worker: gunicorn restarts it.
timeout = 30
graceful_timeout = 30
# nginx keeps upstream connections alive (``keepalive`` in deploy/nginx/nginx.conf); this must
# outlast its idle period so gunicorn does not close one nginx is about to reuse.
keepalive = 75
# Request line and header limits: gunicorn's defaults, written out because they are part of
# what a hostile client meets.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the app: move everything alive into the collector's
    permanent generation. A full collection otherwise walks the whole start-up heap (~60,000
    objects: modules, definitions, schemas) and, under load, that pause was the logged
    ``/v1/assign``'s p99 tail (docs/benchmarks.md, 2026-12-03). Objects made at start-up live as
    long as the worker; a reload's replaced definitions are freed by reference counting."""
    import gc

    gc.collect()
    gc.freeze()
    worker.log.debug(
        "worker %s: %d objects frozen out of collection", os.getpid(), gc.get_freeze_count()
    )
