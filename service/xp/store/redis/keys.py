"""Every Redis key name the store uses, built here and nowhere else.

Each key of experiment ``E`` carries the hash tag ``{E}``, so an experiment lives on one
cluster slot and every script call (which touches one experiment) stays on that slot.
Experiment keys match ``[a-z0-9-]`` (the definition schema), so they never hold a brace.

Per experiment::

    xp:{E}:u:<bucket>   hash  unit id -> unit record (variant, first exposure, totals)
    xp:{E}:e:<bucket>   hash  event digest -> "" (event ids already counted)
    xp:{E}:stats        hash  sufficient statistics (see lua/lib.lua for the field names)
    xp:{E}:names        hash  variant, metric and segment-value names -> small ids
    xp:{E}:diag         hash  diagnostic counters

and one key outside every experiment: ``xp:experiments``, the set of experiment keys that
ever had data (erasure visits them all).

Units and event ids are spread over a fixed number of small hashes (buckets) instead of a key
each: a small hash is stored as one compact listpack, where a key costs ~100 bytes of
overhead on its own (see docs/storage.md). The bucket counts are part of the data layout:
changing them strands existing data.
"""

from __future__ import annotations

import hashlib
import zlib

PREFIX = "xp"
UNIT_BUCKETS = 4096
EVENT_BUCKETS = 4096
EXPERIMENTS = f"{PREFIX}:experiments"


def tag(experiment: str) -> str:
    """The hash tag of one experiment: ``{checkout-button}``."""
    return "{" + experiment + "}"


def unit_bucket(unit_id: str) -> int:
    return zlib.crc32(unit_id.encode()) % UNIT_BUCKETS


def units(experiment: str, bucket: int) -> str:
    return f"{PREFIX}:{{{experiment}}}:u:{bucket}"


def unit(experiment: str, unit_id: str) -> str:
    """The bucket hash that holds ``unit_id``'s record."""
    return units(experiment, unit_bucket(unit_id))


def event_digest(event_key: str) -> bytes:
    """16 bytes standing for one event id: 4 choose the bucket, 12 are the field."""
    return hashlib.blake2b(event_key.encode(), digest_size=16).digest()


def seen(experiment: str, digest: bytes) -> str:
    bucket = int.from_bytes(digest[:4], "big") % EVENT_BUCKETS
    return f"{PREFIX}:{{{experiment}}}:e:{bucket}"


def seen_field(digest: bytes) -> bytes:
    return digest[4:]


def stats(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:stats"


def names(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:names"


def diagnostics(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:diag"


def acks(key: str) -> str:
    """A counter on the slot of ``key`` (one with a hash tag), written before ``WAIT`` so that
    WAIT covers every earlier write on that node (``XP_REDIS_WAIT_REPLICAS``)."""
    start = key.index("{")
    return f"{PREFIX}:{key[start : key.index('}', start) + 1]}:acks"
