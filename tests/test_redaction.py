"""The one redaction: store URLs, their credentials, hosts, ports and paths, in any text."""

from __future__ import annotations

import logging

import pytest

from xp.redaction import MASK, RedactionFilter, redact, register, secrets_of


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("redis://:hunter22@cache.internal:6380/0", ["hunter22", "cache.internal", ":6380"]),
        ("rediss://user1:p%40ss!@10.0.0.5:6379/2", ["user1", "p@ss!", "p%40ss!", "10.0.0.5"]),
        ("redis+cluster://node-a.example:7000", ["node-a.example", ":7000"]),
        ("sqlite:////var/lib/xp/private.db", ["/var/lib/xp/private.db"]),
        ("unix:///run/redis/redis.sock", ["/run/redis/redis.sock"]),
    ],
)
def test_every_piece_of_a_store_url_is_a_secret(url: str, hidden: list[str]) -> None:
    pieces = secrets_of(url)
    for piece in hidden:
        assert piece in pieces
    assert pieces == tuple(sorted(pieces, key=len, reverse=True))  # longest replaced first


def test_degenerate_urls() -> None:
    assert secrets_of(None) == () and secrets_of("") == ()
    assert secrets_of("redis://h:notaport/0") == ("redis://h:notaport/0",)  # malformed: all
    assert "localhost" not in secrets_of("redis://localhost:6379/0")  # too common a word
    assert "localhost:6379" in secrets_of("redis://localhost:6379/0")


def test_registered_pieces_are_hidden_wherever_they_appear() -> None:
    register("redis://:Sekr1t-x@10.20.30.40:6390/0")
    text = redact(
        "Error 111 connecting to 10.20.30.40:6390. AUTH Sekr1t-x failed; "
        "url redis://:Sekr1t-x@10.20.30.40:6390/0"
    )
    assert "Sekr1t-x" not in text and "10.20.30.40" not in text and "6390" not in text
    assert text.startswith(f"Error 111 connecting to {MASK}.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at redis://:pw@other-host:1/0 now", f"at redis://{MASK} now"),
        ("see sqlite:////srv/x.db", f"see sqlite://{MASK}"),
        ("proxy https://bob:secret@proxy.example/x", f"proxy https://{MASK}@proxy.example/x"),
        ("Listening at: http://127.0.0.2:8000", "Listening at: http://127.0.0.2:8000"),
        ("status:200 and 13:45:01", "status:200 and 13:45:01"),
        ("", ""),
    ],
)
def test_store_urls_and_credentials_in_any_text(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_huge_text_is_handled() -> None:
    text = "x" * 1_000_000 + " redis://:p@h:1/0"
    assert redact(text).endswith(f"redis://{MASK}")


def test_the_filter_redacts_message_args_and_traceback() -> None:
    register("redis://:filter-pw@192.0.2.7:6391/0")
    try:
        raise OSError("cannot reach 192.0.2.7:6391 with filter-pw")
    except OSError as exc:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "failed: %s (%d)",
            (exc, 3),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
    assert RedactionFilter().filter(record)
    assert record.getMessage() == f"failed: cannot reach {MASK} with {MASK} (3)"
    assert record.exc_text and "filter-pw" not in record.exc_text and "OSError" in record.exc_text
    assert RedactionFilter().filter(record)  # a second handler's pass changes nothing
    assert record.getMessage() == f"failed: cannot reach {MASK} with {MASK} (3)"


def test_a_bad_format_string_still_logs() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    assert RedactionFilter().filter(record)
    assert record.getMessage() == "%d items"
