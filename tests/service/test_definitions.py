"""Experiment files: the examples are valid, every problem names file, path and value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.redis_server import free_port
from xp.definitions.fingerprint import canonical_json, fingerprint
from xp.definitions.loader import load_directory, parse_definition

GOOD: dict[str, Any] = {
    "key": "exp-a",
    "name": "A",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "b", "weight": 0.5}],
}


def write(folder: Path, name: str, document: Any) -> Path:
    path = folder / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def test_examples_are_valid_and_realistic(experiments_dir: Path) -> None:
    result = load_directory(experiments_dir)
    assert result.ok, [str(p) for p in result.problems]
    assert len(result.definitions) >= 4
    kinds = {m.kind for d in result.definitions.values() for m in d.metrics}
    assert {"binomial", "sum", "ratio", "retention", "count"} <= kinds
    layers = [d.experiment.layer.name for d in result.definitions.values() if d.experiment.layer]
    assert len(layers) - len(set(layers)) >= 1  # a layered pair


@pytest.mark.parametrize(
    ("change", "path", "value"),
    [
        ({"key": "Bad Key"}, "key", "Bad Key"),
        ({"status": "live"}, "status", "live"),
        ({"coverage": 1.5}, "coverage", 1.5),
        (
            {"variants": [{"key": "a", "weight": 0.7}, {"key": "b", "weight": 0.7}]},
            "variants",
            None,
        ),
        (
            {"variants": [{"key": "a", "weight": 0.5}, {"key": "a", "weight": 0.5}]},
            "variants.1.key",
            "a",
        ),
        (
            {"variants": [{"key": "a", "weight": "half"}, {"key": "b", "weight": 0.5}]},
            "variants.0.weight",
            "half",
        ),
        ({"variants": [{"key": "a", "weight": 1.0}]}, "variants", None),
        ({"status": "shipped"}, "winner", None),
        ({"winner": "zzz"}, "winner", "zzz"),
        ({"overrides": {"qa": "zzz"}}, "overrides.qa", "zzz"),
        ({"targeting": {"country": {"$in": "US"}}}, "targeting.country.$in", "US"),
        ({"layer": {"name": "l", "range": [6000, 5000]}}, "layer.range", [6000, 5000]),
        ({"layer": {"name": "l", "range": [0, 20000]}}, "layer.range.1", 20000),
        ({"metrics": [{"name": "m", "kind": "median", "event": "e"}]}, "metrics.0.kind", "median"),
        ({"metrics": [{"name": "m", "kind": "sum"}]}, "metrics.0.event", None),
        (
            {"metrics": [{"name": "m", "kind": "ratio", "numerator": "a"}]},
            "metrics.0.denominator",
            None,
        ),
        (
            {"metrics": [{"name": "m", "kind": "retention", "event": "e", "window_days": 7}]},
            "metrics.0.window_days",
            7,
        ),
        (
            {"metrics": [{"name": "m", "kind": "count", "event": "e", "window_days": -1}]},
            "metrics.0.window_days",
            -1,
        ),
        (
            {
                "metrics": [
                    {"name": "m", "kind": "count", "event": "e"},
                    {"name": "m", "kind": "sum", "event": "e"},
                ]
            },
            "metrics.1.name",
            "m",
        ),
        ({"start": "2026-13-01"}, "start", "2026-13-01"),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "end", "2026-11-01"),
        ({"colour": "red"}, "colour", "red"),
        ({"phase": 0}, "phase", 0),
        ({"phase": "2"}, "phase", "2"),
        ({"phase": 1.5}, "phase", 1.5),
        ({"phase": True}, "phase", True),
        ({"phase": 10**20}, "phase", 10**20),
        ({"allow_rebucket": True}, "allow_rebucket", True),
    ],
)
def test_problem_names_file_path_and_value(
    tmp_path: Path, change: dict[str, Any], path: str, value: Any
) -> None:
    write(tmp_path, "exp.yaml", {**GOOD, **change})
    result = load_directory(tmp_path)
    assert result.definitions == {}
    found = [p for p in result.problems if p.path == path]
    assert found, [str(p) for p in result.problems]
    assert found[0].file.endswith("exp.yaml")
    if value is not None:
        assert found[0].value == value
        assert repr(value)[:20] in str(found[0])


def test_unparseable_and_non_mapping_files(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "key: [\n")
    write(tmp_path, "list.yaml", "- 1\n- 2\n")
    write(tmp_path, "good.yaml", GOOD)
    result = load_directory(tmp_path)
    assert set(result.definitions) == {"exp-a"}
    messages = {Path(p.file).name: p.message for p in result.problems}
    assert "line 2" in messages["broken.yaml"]
    assert "mapping" in messages["list.yaml"]


def test_duplicate_keys_and_overlapping_layers(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {**GOOD, "layer": {"name": "l", "range": [0, 6000]}})
    write(
        tmp_path, "b.yaml", {**GOOD, "key": "exp-b", "layer": {"name": "l", "range": [5000, 10000]}}
    )
    write(
        tmp_path, "c.yaml", {**GOOD, "key": "exp-c", "layer": {"name": "l2", "range": [0, 10000]}}
    )
    write(tmp_path, "d.yaml", {**GOOD, "key": "exp-c"})
    result = load_directory(tmp_path)
    assert set(result.definitions) == {"exp-c"}
    paths = {(Path(p.file).name, p.path) for p in result.problems}
    assert {("a.yaml", "layer.range"), ("b.yaml", "layer.range"), ("d.yaml", "key")} <= paths


def test_xp_validate_prints_every_problem_and_fails(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {**GOOD, "status": "nope", "coverage": 2})
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "a.yaml: status" in done.stderr and "a.yaml: coverage" in done.stderr
    assert "Traceback" not in done.stderr


def test_xp_validate_passes_the_examples(experiments_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(experiments_dir)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "experiments OK" in done.stdout


def test_definitions_are_json_for_the_sdk(experiments_dir: Path) -> None:
    result = load_directory(experiments_dir)
    config = result.definitions["checkout-button"].config
    assert json.loads(json.dumps(config)) == config
    assert config["start"] == "2026-11-01T00:00:00+00:00" and config["salt"] == "checkout-button"


def test_a_stored_definition_parses_back_to_the_same_assignment(experiments_dir: Path) -> None:
    # The store keeps the config JSON; an archived experiment is read back from it.
    for definition in load_directory(experiments_dir).definitions.values():
        text = canonical_json(definition.config)
        again, problems = parse_definition(json.loads(text), "store:x")
        assert again is not None, problems
        assert fingerprint(again.experiment) == fingerprint(definition.experiment)
        assert again.config == definition.config and again.phase == definition.phase == 1


def test_xp_validate_with_an_unreachable_store_fails_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(tmp_path), "--store", url],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"cannot read the store {url!r}" in done.stderr and "Traceback" not in done.stderr
