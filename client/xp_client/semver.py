"""Semantic-version ordering for the ``$v*`` targeting operators."""

from __future__ import annotations

import re

_VERSION = re.compile(
    r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)

SemverKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


class VersionError(ValueError):
    """A string that is not a version."""


def version_key(text: str) -> SemverKey:
    """Sort key of ``text``: release beats pre-release, numeric identifiers sort numerically.

    Missing minor/patch parts count as 0 (``"2" == "2.0.0"``); build metadata is ignored,
    as semver 2.0.0 section 10 says.
    """
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise VersionError(f"not a version: {text!r}")
    major, minor, patch, pre = match.groups()
    idents: tuple[tuple[int, int, str], ...] = ()
    if pre:
        idents = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, idents)
