"""``POST /v1/assign`` answered at the WSGI layer, in front of Flask.

Flask's request context, URL routing, hooks and response object cost a cheap request more
than its work (docs/benchmarks.md: the bare Flask app's own request is ~150 us in process,
the five experiments' assignment ~5 us). :class:`AssignRoute` answers the common request
itself: a plain JSON body within the size limit, loaded by the schema's fast path, from a key
granting ``sdk``, with neither the API rate limit nor sticky assignment on. The answer is
:func:`xp.api.assign.assign_answer`'s, the one the Flask route gives, with the same headers,
request id (:mod:`xp.logs`) and request metrics. Anything else (a refusal, an error, any body
the fast path does not load) goes to the Flask route untouched, which answers it as before.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from xp import logs
from xp.api.assign import ASSIGN_REQUEST_SCHEMA, assign_answer, service_now
from xp.api.body import decode, fast_loader, plain_body
from xp.api.encoding import encode
from xp.auth import key_grants
from xp.errors import ApiError
from xp.ratelimit import OFF
from xp.runtime import Runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

PATH = "/v1/assign"  # also the metrics' route label: Flask's url rule spells it the same
Answer = tuple[bytes, str]  # the body and the request id


class AssignRoute:
    """The WSGI application that answers plain ``POST /v1/assign`` requests and hands every
    other request to ``inner`` (the Flask app's own ``wsgi_app``)."""

    def __init__(self, app: Flask, inner: WSGIApplication) -> None:
        self.app = app
        self.inner = inner
        settings = app.config["XP_SETTINGS"]
        self.runtime: Runtime = app.extensions["xp"]
        self.keys = settings.api_keys
        self.limit = settings.max_body_bytes
        fast = fast_loader(ASSIGN_REQUEST_SCHEMA)
        assert fast is not None, "AssignRequestSchema is built for the fast path"
        self.load = fast.load
        # The limiter must see every request it limits; sticky assignment waits on the store
        # (its errors are the Flask route's to answer), so either keeps the Flask route.
        self.enabled = settings.rate_limit_api == OFF and not settings.sticky

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") == PATH
            and environ.get("REQUEST_METHOD") == "POST"
            and self.enabled
        ):
            answer = self.answer(environ)
            if answer is not None:
                body, request_id = answer
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))),
                        (logs.HEADER, request_id),
                    ],
                )
                return [body]
        return self.inner(environ, start_response)

    def answer(self, environ: WSGIEnvironment) -> Answer | None:
        """The answer's body and request id, or None for the Flask route to answer (with the
        body, if this read it, put back in ``wsgi.input``)."""
        started = time.perf_counter()
        if not key_grants(environ.get("HTTP_AUTHORIZATION", ""), self.keys, "sdk"):
            return None
        raw = plain_body(environ, self.limit)
        if raw is None:
            return None
        request_data = self._loaded(raw)
        if request_data is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return None
        token = logs.begin_request(environ)
        try:
            body = encode(assign_answer(self.runtime, request_data, service_now(self.app.config)))
        except Exception:  # the Flask route answers it through the app's error handlers
            environ["wsgi.input"] = io.BytesIO(raw)
            return None
        finally:
            logs.current_request_id.reset(token)
        elapsed = time.perf_counter() - started
        self.runtime.metrics.count_request(PATH, "POST", 200, elapsed)
        return body, environ[logs.ENVIRON_KEY]

    def _loaded(self, raw: bytes) -> Any:
        try:
            document = decode(raw)
        except ApiError:
            return None
        if document.__class__ is not dict:
            return None
        return self.load(document)
