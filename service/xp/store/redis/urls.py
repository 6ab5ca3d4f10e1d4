"""Redis Cluster URLs with several seed nodes: ``redis+cluster://[user:pass@]h1:p1,h2:p2/``.

One seed is enough while it is up; listing several lets a process start (or refresh its slot
map) while any one of them is down. A DNS name resolving to several nodes works too: it is one
seed whose address the resolver picks.
"""

from __future__ import annotations

from dataclasses import dataclass

from xp.redaction import redact
from xp.store.base import StoreError

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
DEFAULT_PORT = 6379


@dataclass(frozen=True)
class ClusterUrl:
    """``first`` is a plain ``redis://`` (or ``rediss://``) URL of the first seed, with the
    credentials and query of the original, for redis-py; ``seeds`` lists every seed."""

    first: str
    seeds: tuple[tuple[str, int], ...]


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def parse_cluster_url(url: str) -> ClusterUrl:
    """The seeds of a ``redis+cluster://`` URL; :class:`StoreError` naming what is wrong."""
    scheme, rest = url.split("://", 1)
    plain = scheme.replace("+cluster", "")
    authority, slash, tail = rest.partition("/")
    query = ""
    if "?" in authority:  # redis+cluster://h:1?ssl_cert_reqs=none, without the slash
        authority, _, query = authority.partition("?")
        tail = "?" + query
        slash = "/"
    userinfo, at, hosts = authority.rpartition("@")
    if not hosts:
        raise StoreError(f"{redact(url)!r} names no seed node: list host:port seeds")
    seeds = tuple(_seed(url, item) for item in hosts.split(","))
    prefix = f"{userinfo}{at}"
    host, port = seeds[0]
    host_text = f"[{host}]" if ":" in host else host
    return ClusterUrl(f"{plain}://{prefix}{host_text}:{port}{slash}{tail}", seeds)


def _seed(url: str, item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [::1]:7000
        host, _, after = item[1:].partition("]")
        port_text = after.removeprefix(":")
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise StoreError(f"{redact(url)!r}: empty seed node in the host list")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise StoreError(f"{redact(url)!r}: seed {item!r} has no valid port")
    return host, int(port_text)
