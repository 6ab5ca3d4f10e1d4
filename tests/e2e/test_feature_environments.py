"""Environments through real HTTP: two SDK keys of one ``xp serve`` (gunicorn) process each
read only their own environment's features, by ``/v1/config``, ``/v1/evaluate`` and the SDK."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_features_api import ATTRS, RULES, feature, folders
from tests.support.service_process import running_service
from xp_client import Client

KEYS = "prod-key-1:sdk:production,stage-key-2:sdk:staging,view-key-3:viewer"
FLAG = feature(
    environments={
        "production": {"enabled": True, "rules": RULES},
        "staging": {"enabled": True, "rules": [{"value": True}]},
    }
)
SECRET = feature(  # production only: staging must not even see its rules
    key="secret-launch",
    environments={
        "production": {
            "enabled": True,
            "rules": [{"condition": {"email": "ceo@x.io"}, "value": True}],
        }
    },
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("environments")
    experiments, _ = folders(root, FLAG, SECRET)
    env = {"XP_API_KEYS": KEYS, "XP_RELOAD_INTERVAL": "0"}
    with running_service(experiments, root / "data", env=env, workers=1) as url:
        yield url


def call(
    url: str, path: str, key: str, body: Any = None, etag: str | None = None
) -> tuple[int, Any, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    if etag:
        request.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, response.headers["ETag"]
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None, exc.headers.get("ETag", "")


def test_each_key_reads_only_its_environment(service: str) -> None:
    status, prod, prod_etag = call(service, "/v1/config", "prod-key-1")
    assert status == 200 and prod["environment"] == "production"
    status, stage, stage_etag = call(service, "/v1/config", "stage-key-2")
    assert status == 200 and stage["environment"] == "staging"
    by_key = {f["key"]: f for f in stage["features"]}
    assert by_key["new-checkout"]["rules"] == [{"value": True}]
    # A feature staging does not name is served disabled, without production's rules.
    assert by_key["secret-launch"] == {**by_key["secret-launch"], "enabled": False, "rules": []}
    assert "ceo@x.io" not in json.dumps(stage)
    assert "ceo@x.io" in json.dumps(prod)
    # ETags differ, and one environment's ETag never turns into a 304 for the other.
    assert prod_etag != stage_etag
    assert call(service, "/v1/config", "prod-key-1", etag=prod_etag)[0] == 304
    status, again, _ = call(service, "/v1/config", "stage-key-2", etag=prod_etag)
    assert status == 200 and again["environment"] == "staging"


def test_evaluate_and_the_sdk_follow_the_key(service: str) -> None:
    ceo = {"user_id": "u-1", "attributes": {**ATTRS, "email": "ceo@x.io"}}
    _, prod, _ = call(service, "/v1/evaluate", "prod-key-1", ceo)
    _, stage, _ = call(service, "/v1/evaluate", "stage-key-2", ceo)
    assert prod["features"]["secret-launch"] == {"value": True, "source": "force", "rule_index": 0}
    assert stage["features"]["secret-launch"] == {
        "value": False,
        "source": "disabled",
        "rule_index": None,
    }
    assert stage["features"]["new-checkout"]["source"] == "force"
    assert prod["features"]["new-checkout"]["source"] == "experiment"
    for key, environment in (("prod-key-1", "production"), ("stage-key-2", "staging")):
        for mode in ("local", "remote"):
            with Client(service, key, mode=mode, flush_interval=60) as sdk:
                got = sdk.evaluate("secret-launch", "u-1", ceo["attributes"])
                assert got.value is (environment == "production"), (environment, mode, got)
                assert sdk.is_on("new-checkout", "u-1", ATTRS) is (
                    environment == "staging" or prod["features"]["new-checkout"]["value"]
                )


def test_no_key_and_a_viewer_key(service: str) -> None:
    assert call(service, "/v1/config", "not-a-key")[0] == 401
    assert call(service, "/v1/evaluate", "view-key-3", {"user_id": "u"})[0] == 403
    status, listing, _ = call(service, "/v1/features", "view-key-3")
    assert status == 200
    assert sorted(listing["features"][0]["environments"]) == ["production", "staging"]
