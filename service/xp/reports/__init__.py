"""Renderers of the results document (docs/results.md): Markdown, CSV, HTML, SVG charts.

Every renderer takes the document as :func:`service.results.experiment_results` builds it and
computes no statistics of its own.
"""
