"""Renderers of the results document (docs/results.md): Markdown, CSV, HTML, SVG charts.

Every renderer takes the typed :class:`xp.results.document.ResultsDocument` that
:func:`xp.results.build.experiment_results` builds, reads its attributes, and computes no
statistics of its own.
"""
