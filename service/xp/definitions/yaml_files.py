"""Reading one definition file with bounded cost: size, nesting, aliases, where it leads.

A definition file is small hand-written YAML, so anything that could make reading it slow or
large is refused before it is built: a file over ``XP_MAX_DEFINITION_BYTES`` (256 KiB by
default), YAML anchors and aliases (a 1 KB "billion laughs" file expands to gigabytes once
aliases are followed), more than :data:`MAX_NODES` values or nesting deeper than
:data:`MAX_DEPTH` (checked on the parser's events, before anything is built), and a file that
is not a regular file inside its own folder (a symlink to ``/etc/passwd`` is refused by name,
its content never read). Each refusal is a :class:`DefinitionFileError` whose message names
no file content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError

DEFAULT_MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_NODES = 20_000  # an experiment file has a few hundred; a long allowlist a few thousand
MAX_BYTES_VARIABLE = "XP_MAX_DEFINITION_BYTES"


class DefinitionFileError(ValueError):
    """Why a definition file cannot be read; never quotes the file's content."""


# libyaml's parser when PyYAML has it (the wheels do): pure-Python PyYAML takes seconds for a
# 256 KiB file on a busy machine, libyaml a fraction of that.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeNoDatesLoader(_SafeBase):
    """Safe YAML that keeps ``2026-11-01`` a string, so the schema does the date parsing."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def scan(text: str) -> None:
    """Refuse anchors, aliases, more than MAX_NODES nodes or MAX_DEPTH levels, at the first
    event that breaks a rule: a bomb is refused before one node of it is built."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_SafeBase):
        if isinstance(event, yaml.AliasEvent):
            _refuse(event, "aliases (*name) are not allowed")
        if not isinstance(event, yaml.NodeEvent):
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            continue
        if event.anchor is not None:
            _refuse(event, "anchors (&name) are not allowed")
        nodes += 1
        if nodes > MAX_NODES:
            _refuse(event, f"more than {MAX_NODES:,} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                _refuse(event, f"nested deeper than {MAX_DEPTH} levels")


def _refuse(event: Any, message: str) -> None:
    raise ComposerError(None, None, message, event.start_mark)


def max_definition_bytes(env: Mapping[str, str] | None = None) -> int:
    """``XP_MAX_DEFINITION_BYTES`` or the default; a bad value is a DefinitionFileError."""
    raw = (os.environ if env is None else env).get(MAX_BYTES_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise DefinitionFileError(f"{MAX_BYTES_VARIABLE} must be a positive integer, got {raw!r}")
    return value


def read_yaml(path: Path, max_bytes: int | None = None) -> Any:
    """The parsed document of ``path``, or :class:`DefinitionFileError` saying why not."""
    limit = max_definition_bytes() if max_bytes is None else max_bytes
    text = _read_text(path, limit)
    try:
        scan(text)
        return yaml.load(text, Loader=SafeNoDatesLoader)  # noqa: S506 - safe constructor only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DefinitionFileError(f"is not valid YAML{where}: {problem}") from None
    except RecursionError:  # the scanner's own recursion, before compose_node counts
        raise DefinitionFileError(
            f"is not valid YAML: nested deeper than {MAX_DEPTH} levels"
        ) from None


def _read_text(path: Path, limit: int) -> str:
    try:
        folder = path.parent.resolve(strict=True)
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise DefinitionFileError(f"cannot be read: {type(exc).__name__}") from None
    if folder not in target.parents:
        raise DefinitionFileError("is a symbolic link leading outside its folder; refused")
    try:
        # O_NONBLOCK: a FIFO swapped in after the check must not block the reloader.
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise DefinitionFileError(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise DefinitionFileError("is not a regular file")
        if info.st_size > limit:
            raise DefinitionFileError(
                f"is larger than {limit} bytes ({info.st_size}; {MAX_BYTES_VARIABLE})"
            )
        data = file.read(limit + 1)  # the file may have grown since fstat
    if len(data) > limit:
        raise DefinitionFileError(f"is larger than {limit} bytes ({MAX_BYTES_VARIABLE})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionFileError(f"is not UTF-8 text (byte {exc.start})") from None
