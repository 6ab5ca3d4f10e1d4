"""The start-up check that a Redis store keeps its data: AOF or RDB snapshots.

A Redis with neither loses every exposure and statistic on restart, silently. ``CONFIG GET``
may be renamed or refused (managed Redis often does): then the check says it cannot tell.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from xp.redaction import redact

log = logging.getLogger("xp.service")

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
# Start-up must not hang on a store that does not answer.
TIMEOUT = 2.0


def persistence_problem(config: Mapping[str, str]) -> str | None:
    """Why a server with this ``CONFIG GET appendonly save`` answer loses data, or None."""
    aof = str(config.get("appendonly", "")).lower() == "yes"
    rdb = bool(str(config.get("save", "")).strip())
    if aof or rdb:
        return None
    return (
        'Redis has neither AOF (appendonly no) nor RDB snapshots (save ""): a restart loses '
        "every exposure and statistic; see docs/operations.md, Persistence"
    )


def check_store_persistence(store_url: str | None) -> str | None:
    """Log a warning when the Redis behind ``store_url`` keeps nothing across a restart.

    Returns the warning (None when persistent, not Redis, or it cannot be checked)."""
    if not store_url or not store_url.startswith(REDIS_SCHEMES + CLUSTER_SCHEMES):
        return None
    try:
        answers = list(_config_answers(store_url))
    except (RedisError, RedisClusterException, ValueError, OSError) as exc:
        log.info(
            "cannot check Redis persistence (%s); make sure it has AOF or RDB snapshots",
            redact(f"{type(exc).__name__}: {exc}"),
        )
        return None
    for answer in answers:
        problem = persistence_problem(answer)
        if problem is not None:
            log.warning("%s", problem)
            return problem
    return None


def _config_answers(url: str) -> Iterable[Mapping[str, str]]:
    options = {
        "decode_responses": True,
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
    }
    if url.startswith(CLUSTER_SCHEMES):
        with RedisCluster.from_url(url.replace("+cluster", "", 1), **options) as cluster:
            for node in cluster.get_primaries():
                client = cluster.get_redis_connection(node)
                yield client.config_get("appendonly") | client.config_get("save")
        return
    with redis.Redis.from_url(url, **options) as client:
        yield client.config_get("appendonly") | client.config_get("save")
