"""The guard and the registry: definitions against recorded fingerprints, at load and reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.experiments import EXPERIMENT, make_definition
from tests.support.redis_server import free_port
from xp.definitions.fingerprint import Recorded, canonical_json, fingerprint
from xp.definitions.guard import History, check, guard_problems
from xp.definitions.model import Definition
from xp.definitions.registry import Registry
from xp.store import Store, open_store

HALVES = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]
SKEWED = [{"key": "control", "weight": 0.3}, {"key": "treatment", "weight": 0.7}]


def recorded(definition: Definition, experiment: str | None = None) -> Recorded:
    key = experiment or definition.key
    return Recorded(key, fingerprint(definition.experiment), canonical_json(definition.config))


def history(*definitions: Definition) -> History:
    phases = [(d, d.key if d.phase == 1 else f"{d.key}@{d.phase}") for d in definitions]
    return History.of({e: recorded(d, e) for d, e in phases})


def test_a_definition_without_recorded_data_passes() -> None:
    assert guard_problems(make_definition(variants=SKEWED), History()) == []


def test_changed_weights_are_refused_with_the_field_and_the_way_out() -> None:
    past = history(make_definition())
    edited = make_definition(variants=SKEWED)
    problems = guard_problems(edited, past)
    assert [p.path for p in problems] == ["variants.0.weight", "variants.1.weight"]
    assert problems[0].file == "test"
    assert "0.5 -> 0.3" in problems[0].message and "phase: 2" in problems[0].message


def test_a_coverage_ramp_and_other_non_assignment_edits_pass() -> None:
    past = history(make_definition(coverage=0.1))
    assert guard_problems(make_definition(coverage=1.0, name="ramped", metrics=[]), past) == []


def test_a_new_phase_passes_and_its_salt_follows_the_phase() -> None:
    past = history(make_definition())
    phase_2 = make_definition(variants=SKEWED, phase=2)
    assert phase_2.experiment.salt == "exp:phase2"
    assert guard_problems(phase_2, past) == []


def test_a_new_phase_that_keeps_the_old_salt_is_refused() -> None:
    past = history(make_definition(salt="fixed"))
    problems = guard_problems(make_definition(salt="fixed", phase=2), past)
    assert [(p.path, p.value) for p in problems] == [("salt", "fixed")]
    assert guard_problems(make_definition(salt="fresh", phase=2), past) == []


def test_phases_only_go_up() -> None:
    past = history(make_definition(), make_definition(phase=2))
    problems = guard_problems(make_definition(), past)
    assert [(p.path, p.value) for p in problems] == [("phase", 1)]
    assert "phase 2" in problems[0].message
    assert guard_problems(make_definition(phase=3), past) == []


def test_an_unreadable_recorded_definition_still_refuses_a_changed_fingerprint() -> None:
    past = History.of({"exp": Recorded("exp", "sha256:something-else", "{not json")})
    assert past.definitions["exp"] is None
    problems = guard_problems(make_definition(), past)
    assert [p.path for p in problems] == [""] and "assignment changed" in problems[0].message


def test_check_splits_passed_and_refused() -> None:
    past = history(make_definition(), make_definition(key="other"))
    passed, problems = check(
        {"exp": make_definition(variants=SKEWED), "other": make_definition(key="other")}, past
    )
    assert list(passed) == ["other"] and {p.path for p in problems} == {
        "variants.0.weight",
        "variants.1.weight",
    }


# -- the registry ------------------------------------------------------------------------


def write(folder: Path, **changes: Any) -> Path:
    path = folder / "exp.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, **changes}))
    stat = path.stat()  # a new mtime even within the filesystem's timestamp resolution
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store; experiments live in ``tmp_path / "experiments"``."""
    (tmp_path / "experiments").mkdir()
    opened = open_store(f"sqlite:///{tmp_path}/xp.sqlite3", tmp_path)
    yield opened
    opened.close()


def claim(store: Store, definition: Definition) -> None:
    r = recorded(definition)
    assert store.claim_fingerprint(r.experiment, r.fingerprint, r.definition) == r.fingerprint


def test_at_start_a_refused_edit_is_served_as_the_store_recorded_it(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "experiments"
    claim(store, make_definition(coverage=0.4))
    write(folder, variants=SKEWED, coverage=0.4)
    registry = Registry(folder, reload_interval=-1, recorded=store.recorded_definitions)
    live = registry.current().definitions["exp"]
    assert live.weights == (0.5, 0.5) and live.experiment.coverage == 0.4
    assert live.source == "store:exp"
    assert {p.path for p in registry.problems} == {"variants.0.weight", "variants.1.weight"}
    assert all(p.file.endswith("exp.yaml") for p in registry.problems)


def test_on_reload_a_refused_edit_keeps_the_last_good_definition(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "experiments"
    write(folder)
    registry = Registry(folder, reload_interval=-1, recorded=store.recorded_definitions)
    claim(store, registry.current().definitions["exp"])
    write(folder, variants=SKEWED)
    assert registry.reload() is False
    assert registry.current().definitions["exp"].weights == (0.5, 0.5)
    assert registry.problems and registry.problems[0].path == "variants.0.weight"
    write(folder, coverage=0.2)  # a ramp loads
    assert registry.reload() is True and registry.problems == []
    assert registry.current().definitions["exp"].experiment.coverage == 0.2


def test_a_kept_definition_that_another_process_outran_is_replaced(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "experiments"
    write(folder, variants=SKEWED)
    registry = Registry(folder, reload_interval=-1, recorded=store.recorded_definitions)
    # Another process recorded the first exposure under the halves; a later edit has a problem.
    claim(store, make_definition())
    (folder / "broken.yaml").write_text("key: [")
    registry.reload()
    assert registry.current().definitions["exp"].weights == (0.5, 0.5)


def test_without_the_store_the_guard_keeps_what_this_process_served(tmp_path: Path) -> None:
    unreachable = open_store(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    write(tmp_path)
    registry = Registry(tmp_path, reload_interval=-1, recorded=unreachable.recorded_definitions)
    assert registry.current().definitions["exp"].weights == (0.5, 0.5)
    write(tmp_path, variants=SKEWED)
    assert registry.reload() is False
    assert registry.current().definitions["exp"].weights == (0.5, 0.5)
    assert registry.problems[0].path == "variants.0.weight"
    unreachable.close()


def test_a_deleted_file_with_data_is_archived_with_its_last_definition(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "experiments"
    path = write(folder)
    registry = Registry(folder, reload_interval=-1, recorded=store.recorded_definitions)
    claim(store, make_definition(name="as it ran"))
    path.unlink()
    registry.reload()
    snapshot = registry.current()
    assert snapshot.definitions == {}
    assert snapshot.archived()["exp"].name == "as it ran"
    assert snapshot.config["experiments"] == []  # nothing is assigned any more
