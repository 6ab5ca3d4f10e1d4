"""Settings from ``XP_*`` environment variables (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCOPES = ("sdk", "viewer", "admin")


class SettingsError(ValueError):
    """An ``XP_*`` variable with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    experiments_dir: str = "experiments"
    store_url: str | None = None
    data_dir: str = ".xp"
    api_keys: Mapping[str, str] = field(default_factory=dict)
    reload_interval: float = 2.0
    max_body_bytes: int = 1_000_000
    secret_key: str | None = None
    secure_cookies: bool = False
    log_level: str = "INFO"
    hold_seconds: float = 86_400.0  # how long a conversion waits for its unit's exposure

    log_format: str = "text"
    rate_limit_login: str = "10 per minute"
    rate_limit_api: str = "off"
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            experiments_dir=env.get("XP_EXPERIMENTS_DIR", "experiments"),
            store_url=env.get("XP_STORE_URL") or None,
            data_dir=env.get("XP_DATA_DIR", ".xp"),
            api_keys=parse_api_keys(env.get("XP_API_KEYS", "")),
            reload_interval=_number(env, "XP_RELOAD_INTERVAL", 2.0),
            max_body_bytes=int(_number(env, "XP_MAX_BODY_BYTES", 1_000_000)),
            secret_key=env.get("XP_SECRET_KEY") or None,
            secure_cookies=_flag(env, "XP_SECURE_COOKIES"),
            log_level=env.get("XP_LOG_LEVEL", "INFO").upper(),
            hold_seconds=_number(env, "XP_HOLD_SECONDS", 86_400.0),
            log_format=_choice(env, "XP_LOG_FORMAT", ("text", "json"), "text"),
            rate_limit_login=_rate(env, "XP_RATE_LIMIT_LOGIN", "10 per minute"),
            rate_limit_api=_rate(env, "XP_RATE_LIMIT_API", "off"),
            proxy_hops=int(_number(env, "XP_PROXY_HOPS", 0)),
        )

    def replace(self, **changes: Any) -> Settings:
        values = {**self.__dict__, **changes}
        if isinstance(values.get("api_keys"), str):
            values["api_keys"] = parse_api_keys(values["api_keys"])
        return Settings(**values)


def parse_api_keys(text: str) -> dict[str, str]:
    """``"key1:admin,key2:sdk"`` as ``{key: scope}``."""
    keys: dict[str, str] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, scope = item.rpartition(":")
        if not sep or not key or scope not in SCOPES:
            raise SettingsError(
                f"XP_API_KEYS: {item[:4]!r}... must look like KEY:SCOPE with SCOPE one of {SCOPES}"
            )
        keys[key] = scope
    return keys


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    text = env.get(name, "").strip().lower() or default
    if text not in choices:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {text!r}")
    return text


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit in Flask-Limiter's notation (``10 per minute``, ``5/second;100/hour``), or
    ``off``; checked here so a typo stops the start instead of every request."""
    text = env.get(name, "").strip() or default
    if text.lower() in ("off", "0", "none"):
        return "off"
    from limits import parse_many

    try:
        parse_many(text)
    except ValueError:
        raise SettingsError(
            f"{name}: {text!r} is not a rate limit (e.g. '10 per minute', '5/second', 'off')"
        ) from None
    return text


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}: expected 1/true/yes/on or 0/false/no/off, got {text!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} cannot be negative, got {raw!r}")
    return value
