"""The SDK's feature methods (``is_on``, ``get_value``, ``evaluate``), mixed into ``Client``.

Local mode evaluates the config's features with :mod:`xp_client.features`; an experiment
rule assigns through the client's local ``get_variant``, so its exposure is logged exactly
as a direct ``get_variant`` call logs it (once per unit). Remote mode asks ``/v1/evaluate``.
Nothing here raises: a failure serves the caller's ``default`` with the reason as source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from xp_client import features as feature_engine
from xp_client.engine import MISSING_UNIT, Assignment
from xp_client.features import Feature, FeatureResult
from xp_client.key_check import KeyCheck
from xp_client.transport import Transport, TransportError
from xp_client.unit_ids import canonical_unit_id

log = logging.getLogger("xp.client")

# Sources (and get_variant reasons) when nothing could be evaluated; the client shares them.
NOT_READY = "not_ready"
REMOTE_ERROR = "remote_error"
ERROR = "error"
UNKNOWN_EXPERIMENT = "unknown_experiment"
OVERRIDE = "override"


class FeatureMethods:
    """Needs, from the client: ``_features``, ``_ready``, ``_key``, ``_transport``,
    ``request_timeout`` and a local ``get_variant``."""

    _features: dict[str, Feature]
    _ready: threading.Event
    _key: KeyCheck
    _transport: Transport | None
    request_timeout: float
    get_variant: Callable[..., Assignment]

    def evaluate(
        self,
        feature: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> FeatureResult:
        """The feature's value and its source; never raises. An experiment rule assigns and
        logs the exposure through :meth:`get_variant`; an unknown feature gives ``default``."""
        try:
            if attributes is None or user_id is not None:
                attributes = _with_user(user_id, attributes)
            features = self._features
            found = features.get(feature)
            if found is None:
                reason = feature_engine.UNKNOWN_FEATURE if self._ready.is_set() else NOT_READY
                return FeatureResult(feature, default, reason)
            evaluate = found.compiled
            assert evaluate is not None  # Feature.from_dict compiles
            result: FeatureResult = evaluate(attributes, features, self._local_assign)
            return result
        except Exception:
            log.exception("evaluate(%r) failed; serving the default", feature)
            return FeatureResult(feature, default, ERROR)

    def get_value(
        self,
        feature: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Any:
        """The feature's value for the unit (``default`` when it cannot be evaluated)."""
        return self.evaluate(feature, user_id, attributes, default).value

    def is_on(
        self,
        feature: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether the feature's value is ``true`` for the unit (False when it cannot be)."""
        return self.evaluate(feature, user_id, attributes, False).value is True

    @cached_property
    def _local_assign(self) -> Callable[[str, None, Mapping[str, Any]], Assignment | None]:
        """Experiment rules assign through the class's (local) ``get_variant``, even in
        remote mode, so exposures are logged as a direct call logs them; bound once."""
        bound: Callable[[str, None, Mapping[str, Any]], Assignment | None]
        bound = type(self).get_variant.__get__(self)
        return bound

    def _evaluate_remote(
        self,
        feature: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> FeatureResult:
        try:
            attrs = dict(attributes or {})
            if user_id is not None:
                attrs["user_id"] = user_id
            body = remote_body(attrs, "features", feature)
            if body is None:
                return FeatureResult(feature, default, MISSING_UNIT)
            if self._transport is None:
                return FeatureResult(feature, default, REMOTE_ERROR)
            try:
                response = self._transport.request(
                    "POST", "/v1/evaluate", body, {}, self.request_timeout
                )
                refused = self._key.answered(response.status, "/v1/evaluate")
                if response.status != 200:
                    if not refused:
                        log.warning("remote evaluate answered %s", response.status)
                    return FeatureResult(feature, default, REMOTE_ERROR)
                got = response.json()["features"].get(feature)
            except (TransportError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("remote evaluate failed: %s", exc)
                return FeatureResult(feature, default, REMOTE_ERROR)
            if got is None:
                return FeatureResult(feature, default, feature_engine.UNKNOWN_FEATURE)
            return FeatureResult(
                feature,
                got["value"],
                str(got["source"]),
                got.get("rule_index"),
                got.get("experiment"),
                got.get("variant"),
            )
        except Exception:
            log.exception("evaluate(%r) failed; serving the default", feature)
            return FeatureResult(feature, default, ERROR)


def _with_user(
    user_id: str | int | float | None, attributes: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """``attributes`` with ``user_id`` joined (no copy when it is already there)."""
    if attributes is None:
        return {} if user_id is None else {"user_id": user_id}
    if user_id is None or attributes.get("user_id") == user_id:
        return attributes
    return {**attributes, "user_id": user_id}


def remote_body(attrs: dict[str, Any], kind: str, key: str) -> dict[str, Any] | None:
    """The ``/v1/assign`` or ``/v1/evaluate`` body asking for ``key`` (``kind`` names the
    list), ``user_id`` taken out of ``attrs`` as its own field. A missing or empty one is
    left out, so the service answers as local evaluation does (``missing_unit``, a stopped or
    shipped experiment's payload); None when it is there but no unit id (True, a list)."""
    raw = attrs.pop("user_id", None)
    body: dict[str, Any] = {"attributes": attrs, kind: [key]}
    if raw is None or (isinstance(raw, str) and not raw):
        return body
    unit = canonical_unit_id(raw)
    if unit is None:
        return None
    body["user_id"] = unit
    return body
