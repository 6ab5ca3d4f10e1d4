"""Settings from ``XP_*`` environment variables (documented in the README)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCOPES = ("sdk", "viewer", "admin")
ENVIRONMENT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$")
# The environment of a key that names none (``KEY:SCOPE``).
DEFAULT_ENVIRONMENT = "production"


class SettingsError(ValueError):
    """An ``XP_*`` variable with a value that cannot be used."""


@dataclass(frozen=True)
class RedisSettings:
    """Deadlines of the Redis client (seconds), and what a batch waits for before it is
    acknowledged (docs/storage.md, docs/operations.md)."""

    connect_timeout: float = 2.0
    socket_timeout: float = 2.0  # a frozen server costs a request at most this per attempt
    health_check_interval: float = 10.0  # idle connections are PINGed before reuse after this
    # How long a cluster request keeps retrying an unreachable master: Redis' default
    # cluster-node-timeout (15 s) plus the replica's election.
    failover_timeout: float = 20.0
    wait_replicas: int = 0  # WAIT for this many replicas before acknowledging a batch
    wait_timeout: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RedisSettings:
        return cls(
            connect_timeout=_seconds(env, "XP_REDIS_CONNECT_TIMEOUT", 2.0),
            socket_timeout=_seconds(env, "XP_REDIS_SOCKET_TIMEOUT", 2.0),
            health_check_interval=_seconds(
                env, "XP_REDIS_HEALTH_CHECK_INTERVAL", 10.0, zero_ok=True
            ),
            failover_timeout=_seconds(env, "XP_REDIS_FAILOVER_TIMEOUT", 20.0, zero_ok=True),
            wait_replicas=_whole(env, "XP_REDIS_WAIT_REPLICAS", 0),
            wait_timeout=_seconds(env, "XP_REDIS_WAIT_TIMEOUT", 1.0),
        )


@dataclass(frozen=True)
class Settings:
    experiments_dir: str = "experiments"
    # None: the ``features`` folder beside the experiments folder (./features by default).
    features_dir: str | None = None
    # None: the ``holdouts`` folder beside the experiments folder (./holdouts by default).
    holdouts_dir: str | None = None
    store_url: str | None = None
    data_dir: str = ".xp"
    api_keys: Mapping[str, str] = field(default_factory=dict)
    # key -> the environment whose features it reads (``XP_API_KEYS`` ``KEY:SCOPE:ENV``).
    key_environments: Mapping[str, str] = field(default_factory=dict)
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
    redis: RedisSettings = field(default_factory=RedisSettings)
    exposure_buffer_size: int = 10_000
    exposure_flush_interval: float = 1.0
    exposure_retry_max: float = 10.0
    exposure_shutdown_timeout: float = 10.0
    sticky: bool = False  # /v1/assign remembers each unit's variant in the store (xp.sticky)
    sticky_ttl_days: float = 90.0  # a sticky record lives this long after its last use; 0: ever

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            experiments_dir=env.get("XP_EXPERIMENTS_DIR", "experiments"),
            features_dir=env.get("XP_FEATURES_DIR") or None,
            holdouts_dir=env.get("XP_HOLDOUTS_DIR") or None,
            store_url=env.get("XP_STORE_URL") or None,
            data_dir=env.get("XP_DATA_DIR", ".xp"),
            api_keys=parse_api_keys(env.get("XP_API_KEYS", "")),
            key_environments=parse_key_environments(env.get("XP_API_KEYS", "")),
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
            redis=RedisSettings.from_env(env),
            exposure_buffer_size=_whole(env, "XP_EXPOSURE_BUFFER_SIZE", 10_000, lowest=1),
            exposure_flush_interval=_seconds(env, "XP_EXPOSURE_FLUSH_INTERVAL", 1.0),
            exposure_retry_max=_seconds(env, "XP_EXPOSURE_RETRY_MAX", 10.0),
            exposure_shutdown_timeout=_seconds(env, "XP_EXPOSURE_SHUTDOWN_TIMEOUT", 10.0),
            sticky=_flag(env, "XP_STICKY"),
            sticky_ttl_days=_finite(env, "XP_STICKY_TTL_DAYS", 90.0),
        )

    @property
    def sticky_ttl(self) -> float | None:
        """Seconds a sticky record lives after its last use; None: for ever."""
        return self.sticky_ttl_days * 86_400.0 if self.sticky_ttl_days > 0 else None

    @property
    def features_path(self) -> str:
        """Where feature files are read: ``XP_FEATURES_DIR``, else beside the experiments."""
        return self.features_dir or features_beside(self.experiments_dir)

    @property
    def holdouts_path(self) -> str:
        """Where holdout files are read: ``XP_HOLDOUTS_DIR``, else beside the experiments."""
        return self.holdouts_dir or features_beside(self.experiments_dir, "holdouts")

    def replace(self, **changes: Any) -> Settings:
        values = {**self.__dict__, **changes}
        if isinstance(values.get("api_keys"), str):
            values["key_environments"] = parse_key_environments(values["api_keys"])
            values["api_keys"] = parse_api_keys(values["api_keys"])
        if isinstance(values.get("redis"), Mapping):  # {"socket_timeout": 0.5, ...}
            values["redis"] = RedisSettings(**values["redis"])
        return Settings(**values)


def features_beside(experiments_dir: str, folder: str = "features") -> str:
    """The default features (or holdouts) folder: ``folder`` next to ``experiments_dir``."""
    return os.path.join(os.path.dirname(os.path.normpath(experiments_dir)), folder)


def parse_api_keys(text: str) -> dict[str, str]:
    """``"key1:admin,key2:sdk:staging"`` as ``{key: scope}``."""
    return {key: scope for key, (scope, _) in _key_entries(text).items()}


def parse_key_environments(text: str) -> dict[str, str]:
    """``"key1:admin,key2:sdk:staging"`` as ``{key: environment}`` (default: production)."""
    return {key: environment for key, (_, environment) in _key_entries(text).items()}


def _key_entries(text: str) -> dict[str, tuple[str, str]]:
    """Each ``KEY:SCOPE[:ENVIRONMENT]`` entry; an environment cannot be named like a scope,
    so ``a:b:sdk`` is the key ``a:b`` of scope sdk."""
    keys: dict[str, tuple[str, str]] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        environment = DEFAULT_ENVIRONMENT
        key, sep, scope = item.rpartition(":")
        if scope not in SCOPES:
            key, sep, scope = key.rpartition(":")
            environment = item.rpartition(":")[2]
            if not ENVIRONMENT_NAME.match(environment):
                sep = ""
        if not sep or not key or scope not in SCOPES:
            raise SettingsError(
                f"XP_API_KEYS: {item[:4]!r}... must look like KEY:SCOPE or KEY:SCOPE:ENVIRONMENT "
                f"with SCOPE one of {SCOPES}"
            )
        keys[key] = (scope, environment)
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


def _finite(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, got {env.get(name)!r}")
    return value


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


def _seconds(env: Mapping[str, str], name: str, default: float, zero_ok: bool = False) -> float:
    """A finite number of seconds (``inf`` and ``nan`` would make a deadline meaningless)."""
    value = _number(env, name, default)
    if not math.isfinite(value) or (value == 0 and not zero_ok):
        lowest = "0 or more" if zero_ok else "greater than 0"
        raise SettingsError(f"{name} must be a finite number {lowest}, got {env.get(name)!r}")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, lowest: int = 0) -> int:
    value = _number(env, name, default)
    if not float(value).is_integer() or value < lowest:
        raise SettingsError(f"{name} must be a whole number >= {lowest}, got {env.get(name)!r}")
    return int(value)
