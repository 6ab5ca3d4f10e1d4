"""The engine's default salt follows ``phase``, identically in the SDK and the service."""

from __future__ import annotations

from collections import Counter

from tests.support.experiments import make_definition
from xp.definitions.registry import make_snapshot
from xp_client.definition import Experiment, default_salt
from xp_client.engine import assign_variant
from xp_client.hashing import bucket


def test_default_salt_is_the_key_then_key_phase_n() -> None:
    assert default_salt("exp", 1) == "exp"
    assert default_salt("exp", 2) == "exp:phase2"
    config = {"key": "exp", "variants": [{"key": "a", "weight": 1.0}]}
    assert Experiment.from_dict(config).salt == "exp"
    assert Experiment.from_dict({**config, "phase": 3}).salt == "exp:phase3"
    assert Experiment.from_dict({**config, "phase": 3, "salt": "mine"}).salt == "mine"


def test_the_sdk_assigns_a_new_phase_like_the_service_and_re_buckets_units() -> None:
    definitions = {"exp": make_definition(phase=2)}
    served = make_snapshot(definitions).config["experiments"][0]  # what /v1/config serves
    sdk = Experiment.from_dict(served)
    service = definitions["exp"].experiment
    assert sdk.salt == service.salt == "exp:phase2"
    phase_1 = make_definition().experiment
    moved = Counter()
    for i in range(2000):
        unit = {"user_id": f"u{i}"}
        assert assign_variant(sdk, unit) == assign_variant(service, unit)
        assert bucket(sdk.salt, f"u{i}") == bucket("exp:phase2", f"u{i}")
        moved[assign_variant(sdk, unit).variant != assign_variant(phase_1, unit).variant] += 1
    # Independent salts: about half the units change arm (binomial 2000 x 0.5, +-5 sd).
    assert 1000 - 112 < moved[True] < 1000 + 112


def test_the_served_config_names_the_phase_salt_for_sdks_that_predate_phases() -> None:
    served = make_snapshot({"exp": make_definition(phase=4)}).config["experiments"][0]
    assert served["salt"] == "exp:phase4" and served["phase"] == 4
    first = make_snapshot({"exp": make_definition()}).config["experiments"][0]
    assert first["salt"] is None  # phase 1 serves the file as written
