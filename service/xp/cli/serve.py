"""``xp serve``: run the service under gunicorn (or Werkzeug with ``--dev``)."""

from __future__ import annotations

import os
from typing import Any

import click


@click.command()
@click.option("--host", default="127.0.0.1", envvar="XP_HOST", show_default=True)
@click.option("--port", default=8000, type=int, envvar="XP_PORT", show_default=True)
@click.option(
    "--experiments",
    "experiments_dir",
    envvar="XP_EXPERIMENTS_DIR",
    default="experiments",
    show_default=True,
    help="Folder of experiment YAML files.",
)
@click.option(
    "--store",
    "store_url",
    envvar="XP_STORE_URL",
    default=None,
    help="redis://... or sqlite:///path; default: SQLite in XP_DATA_DIR.",
)
@click.option("--workers", default=2, type=int, envvar="XP_WORKERS", show_default=True)
@click.option("--threads", default=4, type=int, envvar="XP_THREADS", show_default=True)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    envvar="XP_ACCESS_LOG",
    show_default=True,
    help="gunicorn's access log on stdout (off by default: it cost 16% of /v1/assign).",
)
@click.option("--dev", is_flag=True, help="Werkzeug's development server instead of gunicorn.")
def serve(
    host: str,
    port: int,
    experiments_dir: str,
    store_url: str | None,
    workers: int,
    threads: int,
    access_log: bool,
    dev: bool,
) -> None:
    """Serve the API and the results pages."""
    from xp.app import create_app

    if not os.path.isdir(experiments_dir):
        raise click.BadParameter(
            f"{experiments_dir!r} is not a directory", param_hint="--experiments"
        )
    config: dict[str, Any] = {"experiments_dir": experiments_dir}
    if store_url:
        config["store_url"] = store_url
    app = create_app(config)
    app.extensions["xp"].metrics.clear_folder()  # a new server starts its totals at zero
    if dev:
        app.run(host=host, port=port, threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            if access_log:
                self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            return app

    Gunicorn().run()
