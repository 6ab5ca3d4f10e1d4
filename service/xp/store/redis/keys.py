"""Every Redis key name the store uses, built here and nowhere else.

Each key of experiment ``E`` carries the hash tag ``{E}``, so an experiment lives on one
cluster slot and every script call (which touches one experiment) stays on that slot.
Experiment keys match ``[a-z0-9-]`` (the definition schema), so they never hold a brace.

Per experiment::

    xp:{E}:u:<bucket>   hash  unit id -> unit record (variant, first exposure, totals)
    xp:{E}:e:<bucket>   hash  event digest -> "" (event ids already counted)
    xp:{E}:stats        hash  sufficient statistics per day and segment slice (lua/lib.lua)
    xp:{E}:all          hash  the same for all units (the slice the daily snapshots copy)
    xp:{E}:looks        hash  'day' -> UTC day of the latest write; <day> -> the all hash as
                              it stood at the end of that day (lua/lib.lua, roll_day)
    xp:{E}:held         hash  unit id -> conversions waiting for the unit's exposure
    xp:{E}:hq           zset  unit ids with held conversions, by the earliest expiry
    xp:{E}:names        hash  variant, metric, event and segment-value names -> small ids
    xp:{E}:diag         hash  diagnostic counters
    xp:{E}:fingerprint  hash  assignment fingerprint (set once) and the last definition

and two keys outside every experiment: ``xp:experiments``, the set of experiment keys that
ever had data (erasure visits them all), and ``xp:fingerprinted``, the set of experiment ids
with a recorded fingerprint (archived experiments are found through it).

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
    """The bucket hash that holds ``digest``'s field."""
    return seen_in(experiment, seen_bucket(digest))


def seen_bucket(digest: bytes) -> int:
    return int.from_bytes(digest[:4], "big") % EVENT_BUCKETS


def seen_in(experiment: str, bucket: int) -> str:
    return f"{PREFIX}:{{{experiment}}}:e:{bucket}"


def seen_field(digest: bytes) -> bytes:
    return digest[4:]


def stats(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:stats"


def names(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:names"


def diagnostics(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:diag"


FINGERPRINTED = f"{PREFIX}:fingerprinted"


def fingerprint(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:fingerprint"


def overall(experiment: str) -> str:
    """The statistics of the slice of all units."""
    return f"{PREFIX}:{{{experiment}}}:all"


def looks(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:looks"


def held(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:held"


def hold_queue(experiment: str) -> str:
    return f"{PREFIX}:{{{experiment}}}:hq"


def acks(key: str) -> str:
    """A counter on the slot of ``key`` (one with a hash tag), written before ``WAIT`` so that
    WAIT covers every earlier write on that node (``XP_REDIS_WAIT_REPLICAS``)."""
    start = key.index("{")
    return f"{PREFIX}:{key[start : key.index('}', start) + 1]}:acks"


# Sticky assignment (XP_STICKY): ``xp:{E@N}:sv:<unit id>`` string -> remembered variant, for
# experiment E in phase N (xp_client.sticky.sticky_key), one key per record so that each
# expires on its own (XP_STICKY_TTL_DAYS); ``xp:sticky`` is the set of the ``E@N`` ids with
# records (erasure visits them all).
STICKY = f"{PREFIX}:sticky"


def sticky(experiment_phase: str, unit_id: str) -> str:
    """The key of ``unit_id``'s sticky record in ``experiment_phase`` (the unit id is the
    key's tail: the hash tag is the first ``{...}``, so no unit id can move its slot)."""
    return f"{PREFIX}:{{{experiment_phase}}}:sv:{unit_id}"
