"""Read experiment YAML files into validated :class:`Definition` objects, or say what is wrong.

Every problem names the file, the field path and the bad value. A file with any problem is
refused whole; cross-file rules (unique keys, layer ranges) refuse every file involved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from xp.definitions.model import Definition, Metric
from xp.definitions.schema import ExperimentSchema
from xp.definitions.yaml_files import DefinitionFileError, read_yaml
from xp.validation import flatten_messages, short
from xp_client.definition import DefinitionError, Experiment

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error."""

    file: str
    path: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        shown = "" if self.value is _MISSING else f" (got {short(self.value)})"
        return f"{where}: {self.message}{shown}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "path": self.path, "message": self.message}
        if self.value is not _MISSING:
            out["value"] = _jsonable(self.value)
        return out


@dataclass(frozen=True, slots=True)
class LoadResult:
    definitions: dict[str, Definition]
    problems: list[Problem]
    files: int
    unparsed: tuple[str, ...] = ()  # files refused before the cross-file checks could run

    @property
    def ok(self) -> bool:
        return not self.problems


def experiment_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_directory(directory: str | Path) -> LoadResult:
    """Validate every ``*.yaml``/``*.yml`` file in ``directory``."""
    root = Path(directory)
    if not root.is_dir():
        return LoadResult({}, [Problem(str(root), "", "is not a directory")], 0)
    files = experiment_files(root)
    loaded: list[tuple[str, Definition]] = []
    unparsed: list[str] = []
    problems: list[Problem] = []
    for path in files:
        definition, file_problems = load_file(path)
        problems.extend(file_problems)
        if definition is not None:
            loaded.append((str(path), definition))
        else:
            unparsed.append(str(path))
    cross = cross_file_problems(loaded)
    problems.extend(cross)
    refused = {p.file for p in cross}
    definitions = {d.key: d for name, d in loaded if name not in refused}
    return LoadResult(definitions, problems, len(files), tuple(unparsed))


def load_file(path: Path) -> tuple[Definition | None, list[Problem]]:
    name = str(path)
    try:
        raw = read_yaml(path)  # bounded: size, aliases, nesting, symlinks out of the folder
    except DefinitionFileError as exc:
        return None, [Problem(name, "", str(exc))]
    return parse_definition(raw, name)


def parse_definition(raw: Any, source: str) -> tuple[Definition | None, list[Problem]]:
    """Validate one experiment document (already parsed from YAML or JSON)."""
    if not isinstance(raw, Mapping):
        return None, [Problem(source, "", "must be a mapping of experiment fields", raw)]
    try:
        data = ExperimentSchema().load(raw)
    except ValidationError as exc:
        return None, [
            Problem(source, path, message, value_at(raw, path))
            for path, message in flatten_messages(exc.messages)
        ]
    try:
        experiment = Experiment.from_dict(data)
    except DefinitionError as exc:  # the schema should have caught it; never crash on it
        return None, [Problem(source, "", str(exc))]
    metrics = tuple(
        Metric(
            name=m["name"],
            kind=m["kind"],
            role=m["role"],
            event=m.get("event"),
            numerator=m.get("numerator"),
            denominator=m.get("denominator"),
            window=m["window_days"],
            direction=m["direction"],
            description=m["description"],
            display_name=m["display_name"],
            format=m["format"],
            currency=m["currency"],
        )
        for m in data["metrics"]
    )
    definition = Definition(
        experiment=experiment,
        name=data["name"],
        metrics=metrics,
        segments=tuple(data["segments"]),
        hypothesis=data["hypothesis"],
        owner=data["owner"],
        start=data["start"],
        end=data["end"],
        planned_sample=data["planned_sample"],
        phase=data["phase"],
        source=source,
        config=_jsonable(data),
    )
    return definition, []


def cross_file_problems(loaded: Iterable[tuple[str, Definition]]) -> list[Problem]:
    """Unique keys across files; experiments of one layer must not overlap."""
    problems: list[Problem] = []
    by_key: dict[str, str] = {}
    layers: dict[str, list[tuple[str, Definition]]] = {}
    for name, definition in loaded:
        if definition.key in by_key:
            problems.append(
                Problem(
                    name,
                    "key",
                    f"duplicate experiment key, also defined in {by_key[definition.key]}",
                    definition.key,
                )
            )
        else:
            by_key[definition.key] = name
        layer = definition.experiment.layer
        if layer is not None:
            layers.setdefault(layer.name, []).append((name, definition))
    for layer_name, members in layers.items():
        for i, (name_a, a) in enumerate(members):
            for name_b, b in members[i + 1 :]:
                la, lb = a.experiment.layer, b.experiment.layer
                assert la is not None and lb is not None
                if la.salt != lb.salt:
                    problems.append(
                        Problem(
                            name_b,
                            "layer.salt",
                            f"layer {layer_name!r} has salt {la.salt!r} in {name_a}",
                            lb.salt,
                        )
                    )
                if la.start < lb.end and lb.start < la.end:
                    for this, other, mine in ((name_a, name_b, la), (name_b, name_a, lb)):
                        problems.append(
                            Problem(
                                this,
                                "layer.range",
                                f"overlaps another experiment of layer {layer_name!r} in {other}",
                                [mine.start, mine.end],
                            )
                        )
    return problems


def value_at(raw: Any, path: str) -> Any:
    """The value at a dotted path of ``raw``, or a marker when there is none."""
    value = raw
    for part in path.split(".") if path else []:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON types (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
