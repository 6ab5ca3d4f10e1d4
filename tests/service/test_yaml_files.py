"""Definition files are read with bounded cost: aliases, size, nesting and symlinks refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from xp.definitions.loader import load_directory, load_file
from xp.definitions.registry import Registry
from xp.definitions.yaml_files import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    DefinitionFileError,
    max_definition_bytes,
    read_yaml,
)

GOOD: dict[str, Any] = {
    "key": "exp-a",
    "name": "A",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "b", "weight": 0.5}],
}


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level is a list of nine aliases of the one above (9**9
    strings once expanded), well under 1 KB as text."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"key: exp-bomb\nname: *a{levels}")
    return "\n".join(lines) + "\n"


def write(folder: Path, name: str, document: Any) -> Path:
    path = folder / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def test_the_bomb_is_small_and_really_explodes_without_the_guard() -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) < 1024
    # Teeth: PyYAML's plain SafeLoader accepts it and the document it gives is 9**9 strings
    # deep (counted, not built: expanding it is what takes gigabytes).
    raw = yaml.safe_load(bomb)
    node, size = raw["name"], 1
    while isinstance(node, list):
        size *= len(node)
        node = node[0]
    assert size == 9**9


def test_an_alias_bomb_is_refused_within_a_second_and_50_mb(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", alias_bomb())
    # In a fresh process, so peak memory is this load's alone.
    script = textwrap.dedent(
        f"""
        import json, resource, time, tracemalloc
        from pathlib import Path
        from xp.definitions.loader import load_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        start = time.perf_counter()
        definition, problems = load_file(Path({str(path)!r}))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"seconds": seconds, "peak": peak, "rss_kib": after - before,
                          "refused": definition is None,
                          "problems": [str(p) for p in problems]}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["refused"] and len(out["problems"]) == 1
    assert "anchors (&name) are not allowed" in out["problems"][0]
    assert "line 1" in out["problems"][0]
    assert out["seconds"] < 1.0
    assert out["peak"] < 50 * 2**20 and out["rss_kib"] * 1024 < 50 * 2**20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: &b {x: 1}\nother: 2\n", "anchors (&name)"),
        ("key: *nowhere\n", "aliases (*name)"),
        ("a: &a 1\nb: {<<: *a}\n", "anchors (&name)"),
        ("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "nested deeper"),
        # libyaml stops these itself ("exceeded maximum nesting depth"), before the scan does.
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
        ("x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nest"),
    ],
)
def test_aliases_anchors_and_deep_nesting_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(DefinitionFileError, match=re.escape(message)):
        read_yaml(path)


def test_ordinary_yaml_still_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "start: 2026-11-01\nlist: [1, [2, [3]]]\n")
    assert read_yaml(path) == {"start": "2026-11-01", "list": [1, [2, [3]]]}


def test_a_big_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", "x: [" + "1, " * DEFAULT_MAX_BYTES + "1]\n")
    start = time.perf_counter()
    definition, problems = load_file(path)
    assert time.perf_counter() - start < 1.0
    assert definition is None
    assert [p.message for p in problems] == [
        f"is larger than {DEFAULT_MAX_BYTES} bytes ({path.stat().st_size}; XP_MAX_DEFINITION_BYTES)"
    ]


def test_the_size_cap_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "exp.yaml", GOOD)
    assert load_file(path)[0] is not None
    monkeypatch.setenv("XP_MAX_DEFINITION_BYTES", "20")
    assert max_definition_bytes() == 20
    definition, problems = load_file(path)
    assert definition is None and "is larger than 20 bytes" in problems[0].message
    monkeypatch.setenv("XP_MAX_DEFINITION_BYTES", "lots")
    definition, problems = load_file(path)
    assert definition is None
    assert problems[0].message == "XP_MAX_DEFINITION_BYTES must be a positive integer, got 'lots'"


def test_a_symlink_out_of_the_folder_is_refused_and_never_read(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    write(folder, "good.yaml", GOOD)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:hunter2-canary:/root:/bin/bash\n")
    (folder / "passwd.yaml").symlink_to("/etc/passwd")
    (folder / "secret.yaml").symlink_to(secret)
    (folder / "inside.yaml").symlink_to(folder / "good.yaml")  # inside the folder: fine
    result = load_directory(folder)
    refused = {Path(p.file).name: p.message for p in result.problems}
    assert set(refused) == {"passwd.yaml", "secret.yaml", "inside.yaml"}
    assert refused["passwd.yaml"] == "is a symbolic link leading outside its folder; refused"
    assert refused["secret.yaml"] == refused["passwd.yaml"]
    assert "duplicate experiment key" in refused["inside.yaml"]  # it was read, as good.yaml

    app = make_app(experiments_dir=str(folder))
    body = app.test_client().get("/healthz").get_data(as_text=True)
    assert "passwd.yaml" in body and "outside its folder" in body
    passwd = Path("/etc/passwd").read_text().splitlines()
    for text in (body, *map(str, result.problems)):
        assert "hunter2-canary" not in text and "root:x:0:0" not in text
        assert not any(line and line in text for line in passwd)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    start = time.perf_counter()
    with pytest.raises(DefinitionFileError, match="not a regular file"):
        read_yaml(tmp_path / "pipe.yaml")
    assert time.perf_counter() - start < 1.0


def test_a_bomb_dropped_into_the_live_folder_keeps_the_last_good_set(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    registry = Registry(tmp_path, reload_interval=0)
    assert set(registry.current().definitions) == {"exp-a"}
    write(tmp_path, "bomb.yaml", alias_bomb())
    write(tmp_path, "big.yaml", "x: " + "y" * (DEFAULT_MAX_BYTES + 1) + "\n")
    start = time.perf_counter()
    snapshot = registry.current()
    assert time.perf_counter() - start < 1.0
    assert set(snapshot.definitions) == {"exp-a"}
    assert {Path(p.file).name for p in registry.problems} == {"bomb.yaml", "big.yaml"}


def test_xp_validate_refuses_the_bomb_quickly(tmp_path: Path) -> None:
    write(tmp_path, "bomb.yaml", alias_bomb())
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "bomb.yaml: is not valid YAML at line 1, column 5: anchors (&name)" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - start < 30


def test_a_file_of_many_values_is_refused_early(tmp_path: Path) -> None:
    """240 KB of one-character list items: pure-Python PyYAML took 8 s to build it on a busy
    machine; the scan refuses it at value 20,001."""
    path = write(tmp_path, "many.yaml", "key: a\nx: [" + "1," * 120_000 + "1]\n")
    start = time.perf_counter()
    with pytest.raises(DefinitionFileError, match="more than 20,000 values"):
        read_yaml(path)
    assert time.perf_counter() - start < 1.0


def test_a_long_allowlist_still_loads(tmp_path: Path) -> None:
    overrides = {f"qa-user-{i}": "b" for i in range(3000)}
    path = write(tmp_path, "exp.yaml", {**GOOD, "overrides": overrides})
    definition, problems = load_file(path)
    assert problems == [] and definition is not None


def test_the_scan_holds_with_the_pure_python_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML built without libyaml parses in Python: the same rules refuse the same files."""
    from xp.definitions import yaml_files

    monkeypatch.setattr(yaml_files, "_SafeBase", yaml.SafeLoader)
    for text, message in [
        (alias_bomb(), "anchors (&name)"),
        ("key: *a\n", "aliases (*name)"),
        ("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", "nested deeper"),
        ("x: [" + "1," * 30_000 + "1]\n", "more than 20,000 values"),
    ]:
        with pytest.raises(yaml.YAMLError, match=re.escape(message)):
            yaml_files.scan(text)
    yaml_files.scan(yaml.safe_dump(GOOD))


def test_a_live_service_keeps_answering_when_a_bomb_lands(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    write(folder, "good.yaml", GOOD)
    client = make_app(experiments_dir=str(folder)).test_client()
    write(folder, "bomb.yaml", alias_bomb())
    write(folder, "regex.yaml", {**GOOD, "key": "exp-r", "targeting": {"e": {"$regex": "(a+)+$"}}})
    start = time.perf_counter()
    health = client.get("/healthz").get_json()
    answer = client.post("/v1/assign", json={"user_id": "u-1", "attributes": {"e": "a" * 40}})
    assert time.perf_counter() - start < 1.0
    assert answer.status_code == 200 and set(answer.get_json()["assignments"]) == {"exp-a"}
    problems = {(Path(p["file"]).name, p["path"]) for p in health["problems"]}
    assert problems == {("bomb.yaml", ""), ("regex.yaml", "targeting.e.$regex")}
