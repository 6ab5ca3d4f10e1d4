"""The security and operations settings: parsed from ``XP_*``, refused with the name and value."""

from __future__ import annotations

import pytest

from xp.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.log_format == "text"
    assert settings.rate_limit_login == "10 per minute"
    assert settings.rate_limit_api == "off"
    assert settings.proxy_hops == 0


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"XP_LOG_FORMAT": "JSON"}, "log_format", "json"),
        ({"XP_LOG_FORMAT": " "}, "log_format", "text"),
        ({"XP_RATE_LIMIT_LOGIN": "5/second;100/hour"}, "rate_limit_login", "5/second;100/hour"),
        ({"XP_RATE_LIMIT_LOGIN": "OFF"}, "rate_limit_login", "off"),
        ({"XP_RATE_LIMIT_API": "6000 per minute"}, "rate_limit_api", "6000 per minute"),
        ({"XP_RATE_LIMIT_API": "0"}, "rate_limit_api", "off"),
        ({"XP_PROXY_HOPS": "2"}, "proxy_hops", 2),
        ({"XP_API_KEYS": "a:viewer"}, "api_keys", {"a": "viewer"}),
    ],
)
def test_values(env: dict[str, str], field: str, value: object) -> None:
    assert getattr(Settings.from_env(env), field) == value


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"XP_LOG_FORMAT": "xml"}, "XP_LOG_FORMAT"),
        ({"XP_RATE_LIMIT_LOGIN": "ten a minute"}, "XP_RATE_LIMIT_LOGIN"),
        ({"XP_RATE_LIMIT_API": "5 per fortnight"}, "XP_RATE_LIMIT_API"),
        ({"XP_PROXY_HOPS": "-1"}, "XP_PROXY_HOPS"),
        ({"XP_PROXY_HOPS": "many"}, "XP_PROXY_HOPS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
