"""Event ids are unique in a process and across a fork."""

from __future__ import annotations

import os
import warnings

import pytest

from client.ids import new_event_id


def test_ids_are_unique_and_short_enough_for_the_service() -> None:
    ids = [new_event_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= 128 for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.write(write_fd, " ".join(new_event_id() for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    parent = {new_event_id() for _ in range(100)}
    os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        child = set(pipe.read().decode().split())
    assert len(child) == 100 and not parent & child
