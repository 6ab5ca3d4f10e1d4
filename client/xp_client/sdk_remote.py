"""Remote mode's ``get_variant``: the service assigns (``POST /v1/assign``), the client's
overrides still come first; a mixin of :class:`xp_client.Client`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from xp_client.config_source import Experiments
from xp_client.engine import MISSING_UNIT, Assignment
from xp_client.key_check import KeyCheck
from xp_client.sdk_features import ERROR, REMOTE_ERROR, UNKNOWN_EXPERIMENT, remote_body
from xp_client.transport import Transport, TransportError
from xp_client.unit_ids import canonical_unit_id

log = logging.getLogger("xp.client")
Variant = Assignment


class RemoteMethods:
    """Needs, from the client: ``_overrides``, ``_forced``, ``_experiments``, ``_transport``,
    ``_key`` and ``request_timeout``."""

    _overrides: dict[tuple[str, str | None], str]
    _experiments: Experiments
    _transport: Transport | None
    _key: KeyCheck
    request_timeout: float
    _forced: Callable[[str, str], Variant]

    def _get_variant_remote(
        self,
        experiment: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: str | None = None,
    ) -> Variant:
        try:
            attrs = dict(attributes or {})
            if user_id is not None:
                attrs["user_id"] = user_id
            forced = self._overrides.get((experiment, canonical_unit_id(attrs.get("user_id"))))
            if forced is not None:
                return self._forced(experiment, forced)
            return self._remote(experiment, attrs, default)
        except Exception:
            log.exception("get_variant(%r) failed; serving the default", experiment)
            return Variant(experiment, default or "control", None, False, ERROR)

    def _remote(
        self, experiment: str, attributes: Mapping[str, Any], default: str | None
    ) -> Variant:
        exp = self._experiments.get(experiment)
        fallback = default or (exp.control.key if exp else "control")
        attrs = dict(attributes)
        body = remote_body(attrs, "experiments", experiment)
        if body is None:
            return Variant(experiment, fallback, None, False, MISSING_UNIT)
        if self._transport is None:
            return Variant(experiment, fallback, None, False, REMOTE_ERROR)
        try:
            response = self._transport.request("POST", "/v1/assign", body, {}, self.request_timeout)
            if response.status != 200:
                if not self._key.answered(response.status, "/v1/assign"):
                    log.warning("remote assign answered %s", response.status)
                return Variant(experiment, fallback, None, False, REMOTE_ERROR)
            self._key.answered(response.status, "/v1/assign")
            got = response.json()["assignments"].get(experiment)
        except (TransportError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("remote assign failed: %s", exc)
            return Variant(experiment, fallback, None, False, REMOTE_ERROR)
        if got is None:
            return Variant(experiment, fallback, None, False, UNKNOWN_EXPERIMENT)
        return Variant(
            experiment,
            got["variant"],
            got.get("payload"),
            bool(got["in_experiment"]),
            str(got["reason"]),
        )
