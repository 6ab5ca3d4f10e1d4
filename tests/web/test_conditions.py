"""Feature rule conditions in words on the list page, with the exact JSON as a tooltip."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from xp.reports.conditions import MAX_DEPTH, condition_words


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"email": {"$regex": "@example\\.com$"}}, "email matches /@example\\.com$/"),
        ({"country": {"$in": ["US", "CA"]}}, "country in US, CA"),
        ({"country": {"$nin": ["FR"]}}, "country not in FR"),
        ({"plan": "pro"}, "plan is pro"),
        ({"beta": True}, "beta is true"),
        ({"age": {"$gte": 18, "$lt": 65}}, "age at least 18 and age below 65"),
        ({"app": {"$vgte": "2.1.0"}}, "app at least version 2.1.0"),
        ({"email": {"$exists": False}}, "email is not set"),
        ({"plan": {"$ne": None}}, "plan is not null"),
        ({"plan": ""}, 'plan is ""'),
        (
            {"$or": [{"country": "US"}, {"age": {"$gt": 30}}]},
            "(country is US or age above 30)",
        ),
        ({"$not": {"country": "US"}}, "not (country is US)"),
        ({"age": {"$not": {"$lt": 18}}}, "not (age below 18)"),
        ({"tags": {"$size": 2}}, "size of tags is 2"),
        ({"tags": {"$all": ["a", "b"]}}, "tags has all of a, b"),
        ({"country": "US", "plan": "pro"}, "country is US and plan is pro"),
        ({"x": {"$where": "1"}}, 'x {"$where": "1"}'),  # unknown: its JSON, not a failure
        ({}, "everyone"),
    ],
)
def test_conditions_read_in_words(condition: dict[str, Any], words: str) -> None:
    assert condition_words(condition) == words


def test_a_long_list_reads_as_its_first_values_and_a_count() -> None:
    words = condition_words({"id": {"$in": [f"u{i}" for i in range(5000)]}})
    assert words.startswith("id in u0, u1,") and words.endswith("and 4,990 more")
    assert len(words) < 120


def test_deep_nesting_stops_at_json_rather_than_recursing_forever() -> None:
    condition: dict[str, Any] = {"country": "US"}
    for _ in range(50):
        condition = {"$not": condition}
    words = condition_words(condition)
    assert words.count("not (") == MAX_DEPTH + 1 and '"$not"' in words


def test_the_list_page_shows_words_with_the_exact_json_as_tooltip(client: FlaskClient) -> None:
    # features/new-checkout.yaml: production's first rule forces true for @example.com emails
    page = client.get("/").get_data(as_text=True)
    (row,) = re.findall(r'<tr data-key="new-checkout".*?</tr>', page, re.S)
    (span,) = re.findall(r'<span class="condition" title="([^"]*)">([^<]*)</span> → true', row)
    title, words = (html.unescape(part) for part in span)
    assert words == "email matches /@example\\.com$/"
    assert json.loads(title) == {"email": {"$regex": "@example\\.com$"}}
    assert "\\\\" not in words and "}}:" not in row


def test_hostile_condition_text_is_escaped_on_the_page(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    folder = tmp_path / "features"
    folder.mkdir()
    hostile = {"<b>x": {"$regex": '</span><script>alert("x")</script>'}}
    feature = {
        "key": "hostile",
        "type": "boolean",
        "default": False,
        "environments": {"production": {"rules": [{"condition": hostile, "value": True}]}},
    }
    (folder / "hostile.yaml").write_text(yaml.safe_dump(feature))
    page = make_app(features_dir=str(folder)).test_client().get("/").get_data(as_text=True)
    assert "<script>" not in page and "<b>x" not in page
    (span,) = re.findall(r'<span class="condition" title="([^"]*)">([^<]*)</span>', page)
    assert json.loads(html.unescape(span[0])) == hostile
    assert html.unescape(span[1]) == '<b>x matches /</span><script>alert("x")</script>/'


def test_the_experiment_page_reads_its_targeting_in_words_above_the_json(
    client: FlaskClient,
) -> None:
    # experiments/checkout-button.yaml targets the US and Canada on app_version >= 2.0.0
    page = client.get("/experiments/checkout-button").get_data(as_text=True)
    (targeting,) = re.findall(r'<dd id="targeting">(.*?)</dd>', page, re.S)
    words, code = targeting.split("<br>")
    assert words == "country in US, CA and app_version at least version 2.0.0"  # file order
    exact = json.loads(html.unescape(re.sub(r"<[^>]+>", "", code)))
    assert exact == {"app_version": {"$vgte": "2.0.0"}, "country": {"$in": ["US", "CA"]}}
