"""WSGI entry point for gunicorn: ``gunicorn 'xp.wsgi:app'``."""

from __future__ import annotations

from xp.app import create_app

app = create_app()
