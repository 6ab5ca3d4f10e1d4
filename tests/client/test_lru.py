"""The bounded LRU set that deduplicates exposures."""

from __future__ import annotations

import threading

import pytest

from xp_client.lru import LRUSet


def test_seen_is_false_the_first_time_and_true_after() -> None:
    keys = LRUSet(maxsize=10)
    assert keys.seen(("exp", "u1")) is False
    assert keys.seen(("exp", "u1")) is True
    assert keys.seen(("exp", "u2")) is False
    assert keys.seen(("other", "u1")) is False
    assert len(keys) == 3


def test_forgets_the_least_recently_seen_key() -> None:
    keys = LRUSet(maxsize=2)
    keys.seen("a")
    keys.seen("b")
    assert keys.seen("a") is True  # "a" is now the newest, so "b" goes next
    keys.seen("c")
    assert len(keys) == 2
    assert "a" in keys
    assert "b" not in keys
    assert keys.seen("b") is False


def test_contains_does_not_refresh_recency() -> None:
    keys = LRUSet(maxsize=2)
    keys.seen("a")
    keys.seen("b")
    assert "a" in keys
    keys.seen("c")
    assert "a" not in keys


def test_clear_forgets_everything() -> None:
    keys = LRUSet(maxsize=5)
    keys.seen("a")
    keys.clear()
    assert len(keys) == 0
    assert keys.seen("a") is False


@pytest.mark.parametrize("maxsize", [0, -1])
def test_refuses_a_size_below_one(maxsize: int) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        LRUSet(maxsize=maxsize)


def test_each_key_is_new_exactly_once_across_threads() -> None:
    keys = LRUSet(maxsize=10_000)
    firsts: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        mine = sum(not keys.seen(i) for i in range(2_000))
        with lock:
            firsts.append(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(firsts) == 2_000
    assert len(keys) == 2_000


def test_stays_bounded_under_many_keys() -> None:
    keys = LRUSet(maxsize=100)
    for i in range(10_000):
        keys.seen(i)
    assert len(keys) == 100
    assert all(i in keys for i in range(9_900, 10_000))


def test_a_key_seen_again_within_half_the_size_is_never_forgotten() -> None:
    keys = LRUSet(maxsize=10)
    keys.seen("hot")
    for i in range(1_000):
        keys.seen(i)
        if i % 5 == 4:  # 5 new keys between visits: within maxsize // 2
            assert keys.seen("hot") is True
    assert "hot" in keys
    assert len(keys) == 10


def test_forgets_in_order_of_last_sight_across_generations() -> None:
    keys = LRUSet(maxsize=6)
    for k in "abcdef":
        keys.seen(k)
    assert keys.seen("a") is True  # "a" moves past b..f
    for k in "ghi":
        keys.seen(k)
    assert [k in keys for k in "abcdefghi"] == [True] + [False] * 3 + [True] * 5


def test_the_hot_path_holds_only_keys_already_seen() -> None:
    keys = LRUSet(maxsize=100)
    young = keys.hot_path()
    assert "a" not in young
    keys.seen("a")
    assert "a" in young  # a later hit is this lookup alone
    keys.clear()
    assert "a" not in young
