"""Event ids are unique in a process and across a fork."""

from __future__ import annotations

import os

import pytest

from tests.support.forked import in_forked_child
from xp_client.ids import new_event_id


def test_ids_are_unique_and_short_enough_for_the_service() -> None:
    ids = [new_event_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= 128 for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    child = set(in_forked_child(lambda: [new_event_id() for _ in range(100)]))
    parent = {new_event_id() for _ in range(100)}
    assert len(child) == 100 and not parent & child
