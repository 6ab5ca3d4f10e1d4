"""The one error handler answers every status with the one documented body."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException, default_exceptions

from xp import errors
from xp.errors import ApiError, ErrorSchema

API_ERRORS = [
    cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ApiError)
]


@pytest.mark.parametrize("cls", API_ERRORS, ids=lambda c: c.__name__)
def test_typed_errors(app: Flask, cls: type[ApiError]) -> None:
    @app.get(f"/boom-{cls.__name__}")
    def boom() -> None:
        raise cls("went wrong", {"field": ["why"]})

    response = app.test_client().get(f"/boom-{cls.__name__}")
    assert response.status_code == cls.status
    assert ErrorSchema().validate(response.json) == {}
    assert response.json == {
        "error": {"code": cls.code, "message": "went wrong", "details": {"field": ["why"]}}
    }


@pytest.mark.parametrize("status", sorted(c for c in default_exceptions if c >= 400))
def test_werkzeug_errors(app: Flask, status: int) -> None:
    exc_class: type[HTTPException] = default_exceptions[status]

    @app.get(f"/http-{status}")
    def boom() -> None:
        raise exc_class()

    response = app.test_client().get(f"/http-{status}")
    assert response.status_code == status
    assert ErrorSchema().validate(response.json) == {}
    assert response.json["error"]["code"]


def test_unexpected_exception_is_a_500_without_a_traceback(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR, logger="xp.service"):
        response = app.test_client().get("/crash")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert response.json["error"]["code"] == "internal_error"
    assert "secret internals" in caplog.text
