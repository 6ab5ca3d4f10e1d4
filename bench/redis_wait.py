"""What ``XP_REDIS_WAIT_REPLICAS=1`` costs: batches of 500 events (``--size``) through
``store.ingest`` on a Redis master with one replica (both on this machine), with and without
``WAIT 1`` after each pipeline, interleaved; medians of the rounds, with the spread.

On one machine the replica is as close as it can be, so the figure is the floor: across
hosts add one network round trip to the replica per batch (per master a batch touches).

    .venv/bin/python -m bench.redis_wait [--batches 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import redis

from tests.support.experiments import make_definition
from tests.support.redis_process import RedisProcess
from xp.events.model import Conversion, Event, Exposure
from xp.settings import RedisSettings
from xp.store import open_store

BATCH = 500
NOW = time.time()


def make_batches(count: int, seed: int, size: int) -> list[list[Event]]:
    rng = random.Random(seed)
    batches = []
    for b in range(count):
        batch: list[Event] = []
        for i in range(max(1, size // 2)):
            unit = f"s{seed}-b{b}-u{i}"
            batch.append(Exposure.create("exp", unit, rng.choice(["control", "treatment"]), NOW))
            batch.append(Conversion("purchase", unit, rng.uniform(1, 50), NOW + 1, f"{unit}-p"))
        batches.append(batch)
    return batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=BATCH, help="events per batch")
    args = parser.parse_args()
    definitions = {"exp": make_definition()}
    master = RedisProcess(durable=False).start()
    replica = RedisProcess(durable=False).start()
    try:
        with redis.Redis(port=replica.port) as client:
            client.execute_command("REPLICAOF", "127.0.0.1", master.port)
        deadline = time.monotonic() + 20
        with redis.Redis(port=master.port) as client:
            while "online" not in str(client.info("replication").get("slave0", "")):
                assert time.monotonic() < deadline, "the replica did not connect"
                time.sleep(0.1)
        plain = open_store(master.url, "unused")
        waiting = open_store(master.url, "unused", RedisSettings(wait_replicas=1, wait_timeout=1))
        timings: dict[str, list[float]] = {"no WAIT": [], "WAIT 1": []}
        for r in range(args.rounds):
            for name, store in (("no WAIT", plain), ("WAIT 1", waiting)):
                batches = make_batches(args.batches, r * 2 + (name == "WAIT 1"), args.size)
                started = time.perf_counter()
                for batch in batches:
                    store.ingest(batch, definitions, NOW + 5)
                timings[name].append((time.perf_counter() - started) / args.batches)
        ratios = [w / p for w, p in zip(timings["WAIT 1"], timings["no WAIT"], strict=True)]
        for name, values in timings.items():
            print(f"{name:8s} {statistics.median(values) * 1000:7.2f} ms per batch of {args.size}")
        print(
            f"WAIT 1 / no WAIT: {statistics.median(ratios):.2f}x "
            f"(spread {min(ratios):.2f}-{max(ratios):.2f}, {args.rounds} rounds)"
        )
        plain.close()
        waiting.close()
    finally:
        replica.close()
        master.close()


if __name__ == "__main__":
    main()
