"""Reading one definition file with bounded cost: size, nesting, aliases, where it leads.

A definition file is small hand-written YAML, so anything that could make reading it slow or
large is refused before it is built: a file over ``XP_MAX_DEFINITION_BYTES`` (256 KiB by
default), YAML anchors and aliases (a 1 KB "billion laughs" file expands to gigabytes once
aliases are followed), nesting deeper than :data:`MAX_DEPTH`, and a file that is not a regular
file inside its own folder (a symlink to ``/etc/passwd`` is refused by name, its content never
read). Each refusal is a :class:`DefinitionFileError` whose message names no file content.
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
MAX_BYTES_VARIABLE = "XP_MAX_DEFINITION_BYTES"


class DefinitionFileError(ValueError):
    """Why a definition file cannot be read; never quotes the file's content."""


class BoundedLoader(yaml.SafeLoader):
    """Safe YAML without anchors, aliases or deep nesting; ``2026-11-01`` stays a string, so
    the schema does the date parsing."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Refused at the event, before any node is built: nothing is ever expanded.
        event = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed", mark)
        if getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, "anchors (&name) are not allowed", mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                message = f"nested deeper than {MAX_DEPTH} levels"
                raise ComposerError(None, None, message, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
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
