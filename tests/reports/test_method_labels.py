"""Each report names what its method computed: Markdown and the standalone HTML report of a
seeded experiment (real SQLite store) under the Bayesian method carry no p-value or
confidence-interval label, and the frequentist ones keep theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import seed as seeded
from xp.reports.html import render_html
from xp.reports.markdown import render_markdown
from xp.results.build import experiment_results
from xp.results.document import ResultsDocument
from xp.store import Store, open_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    root = tmp_path_factory.mktemp("labels")
    store = open_store(None, root / "data")
    seeded.seed(root / "experiments", store, time.time(), 600)
    yield store, root / "experiments"
    store.close()


def results(store: tuple[Store, Path], method: str) -> ResultsDocument:
    definition = seeded.definitions(store[1])[seeded.KEY]
    return experiment_results(definition, store[0], method=method)


def markdown_headers(text: str) -> list[list[str]]:
    """Each table's header row, as its cells."""
    lines = text.splitlines()
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line, below in zip(lines, lines[1:], strict=False)
        if line.startswith("| ") and below.startswith("|---")
    ]


def test_markdown_segment_tables_follow_the_bayesian_method(store: tuple[Store, Path]) -> None:
    text = render_markdown(results(store, "bayesian"))
    lifts = [h for h in markdown_headers(text) if "Variant" in h and any("lift" in c for c in h)]
    segments = [h for h in lifts if h[0] == "Segment"]
    assert segments and len(lifts) > len(segments)
    for header in lifts:
        assert "Absolute lift (95% CrI)" in header and "Chance to win" in header, header
        assert "Risk" in header and not any("p-value" in c or "CI)" in c for c in header)
    assert "Benjamini-Hochberg" not in text
    assert "each segment's chance to win and risk stand alone" in text


def test_markdown_segment_tables_keep_p_values_when_frequentist(store: tuple[Store, Path]) -> None:
    text = render_markdown(results(store, "frequentist"))
    (segment, *_) = [h for h in markdown_headers(text) if h[0] == "Segment"]
    assert "Absolute lift (95% CI)" in segment
    at = segment.index("p-value (relative lift)")
    assert segment[at + 1] == "p-value (relative lift, Benjamini-Hochberg)"


def test_the_html_report_names_the_credible_interval(store: tuple[Store, Path]) -> None:
    page = render_html(results(store, "bayesian"))
    main = page[page.index("<main>") :]
    for words in ("p-value", "Corrected p", "confidence interval", "significant after"):
        assert words not in main, words
    assert "Cumulative relative lift of purchased per day, 95% credible interval" in main
    assert "with its\n    95% credible interval" in main  # the figure's caption
    sequential = render_html(results(store, "sequential"))
    assert "95% always-valid confidence sequence" in sequential
