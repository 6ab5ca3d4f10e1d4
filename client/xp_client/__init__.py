"""xp SDK: ``from xp_client import Client``.

Standard library and mmh3 only. The assignment engine here is the one the service uses; the
service imports ``xp_client.engine`` without loading the SDK's threads and transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xp_client.engine import Assignment, assign_variant

if TYPE_CHECKING:
    from xp_client.sdk import Client, Variant

__all__ = ["Assignment", "Client", "Variant", "assign_variant"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "Variant"):
        from xp_client import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'xp_client' has no attribute {name!r}")
