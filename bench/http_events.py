"""``POST /v1/events`` with 500 events per batch, next to ``store.ingest`` on the same events.

``xp serve`` (gunicorn, 2 workers) runs on a SQLite file and on a Redis the bench starts; one
keep-alive connection posts the batches one after another (bodies encoded before the clock
starts), and the same events, as objects, go through ``store.ingest`` of a store opened on
the same backend in this process. Each round uses new units, so nothing is a duplicate; rounds
interleave the four paths. Printed: events/s (medians) and each round's HTTP / direct ratio.

    .venv/bin/python -m bench.http_events [--rounds 3] [--units 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.ingest import BATCH, NOW, as_raw, make_events
from bench.load import ROOT, spread
from tests.support.redis_server import running_redis
from tests.support.service_process import running_service
from xp.definitions.loader import load_directory
from xp.events.model import Event
from xp.store import Store, open_store


def post_batches(url: str, bodies: list[bytes]) -> tuple[float, int]:
    """Seconds to post every body in turn, and how many events were accepted."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    accepted = 0
    start = time.perf_counter()
    for payload in bodies:
        conn.request("POST", "/v1/events", payload, {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /v1/events answered {response.status}: {answer[:300]!r}")
        accepted += json.loads(answer)["accepted"]
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, accepted


def ingest_directly(
    store: Store, definitions: dict, batches: list[list[Event]]
) -> tuple[float, int]:
    accepted = 0
    start = time.perf_counter()
    for batch in batches:
        accepted += sum(o.status == "accepted" for o in store.ingest(batch, definitions, NOW))
    return time.perf_counter() - start, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--units", type=int, default=2000, help="units per round and path")
    args = parser.parse_args()
    definitions = dict(load_directory(ROOT / "experiments").definitions)

    def batches_for(prefix: str) -> list[list[Event]]:
        events = make_events(definitions, args.units, prefix)
        return [events[i : i + BATCH] for i in range(0, len(events), BATCH)]

    def bodies_for(prefix: str) -> list[bytes]:
        return [
            json.dumps({"events": [as_raw(e) for e in b]}).encode() for b in batches_for(prefix)
        ]

    rates: dict[str, list[float]] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis_url = stack.enter_context(running_redis())
        backends = {"SQLite": f"sqlite:///{tmp}/served.sqlite3", "Redis": redis_url}
        direct_urls = {"SQLite": f"sqlite:///{tmp}/direct.sqlite3", "Redis": redis_url}
        served = {
            name: stack.enter_context(
                running_service(
                    ROOT / "experiments",
                    tmp / name,
                    env={"XP_STORE_URL": url, "XP_LOG_LEVEL": "WARNING"},
                )
            )
            for name, url in backends.items()
        }
        stores = {name: open_store(url, str(tmp)) for name, url in direct_urls.items()}
        for name in backends:  # warm up both paths
            post_batches(served[name], bodies_for(f"warm-http-{name}-")[:2])
            ingest_directly(stores[name], definitions, batches_for(f"warm-direct-{name}-")[:2])
        n = 0
        for r in range(args.rounds):
            for name in backends:
                bodies = bodies_for(f"r{r}-http-{name}-")
                batches = batches_for(f"r{r}-direct-{name}-")
                n = sum(len(b) for b in batches)
                seconds, http_accepted = post_batches(served[name], bodies)
                rates.setdefault(f"POST /v1/events ({name})", []).append(n / seconds)
                seconds, direct_accepted = ingest_directly(stores[name], definitions, batches)
                rates.setdefault(f"store.ingest ({name})", []).append(n / seconds)
                if http_accepted != direct_accepted:
                    raise RuntimeError(
                        f"{name}: {http_accepted} accepted over HTTP, {direct_accepted} directly"
                    )
        for store in stores.values():
            store.close()
    print(f"{n} events per round and path, batches of {BATCH}, {args.rounds} interleaved rounds")
    for name in backends:
        direct_label, http_label = f"store.ingest ({name})", f"POST /v1/events ({name})"
        http_rates, direct_rates = rates[http_label], rates[direct_label]
        ratios = [h / d for h, d in zip(http_rates, direct_rates, strict=True)]
        print(f"{direct_label:30s} {statistics.median(direct_rates):10,.0f} events/s")
        print(
            f"{http_label:30s} {statistics.median(http_rates):10,.0f} events/s"
            f"   ratio {spread(ratios)}"
        )
    print("target: POST /v1/events >= 0.90 of store.ingest")


if __name__ == "__main__":
    main()
