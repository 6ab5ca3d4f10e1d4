"""``xp serve``: run the service under gunicorn (or Werkzeug with ``--dev``)."""

from __future__ import annotations

import os
import socket
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
    from xp.metrics import claim_instance_folder
    from xp.redaction import redact
    from xp.settings import Settings, SettingsError

    if not os.path.isdir(experiments_dir):
        raise click.BadParameter(
            f"{experiments_dir!r} is not a directory", param_hint="--experiments"
        )
    config: dict[str, Any] = {"experiments_dir": experiments_dir}
    if store_url:
        config["store_url"] = store_url
    try:
        data_dir = Settings.from_env().data_dir
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    # Before the app imports prometheus_client: this instance's own metrics folder, so no
    # other instance (nor this one failing to bind) can wipe a running one's totals.
    claim_instance_folder(data_dir)
    from xp.app import create_app

    app = create_app(config)
    ready, detail = app.extensions["xp"].store_ready()
    if not ready:
        raise click.ClickException(f"the event store is unreachable: {redact(detail)}")
    _check_free(host, port)
    if dev:
        app.run(host=host, port=port, threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        # xp.gunicorn_conf first, then load_config's options, then GUNICORN_CMD_ARGS.
        def load_default_config(self) -> None:
            super().load_default_config()
            load_gunicorn_conf(self.cfg)

        def do_load_config(self) -> None:
            super().do_load_config()
            apply_gunicorn_cmd_args(self.cfg)

        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            if access_log:
                self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", "xp.cli.gunicorn_logging.GunicornLogger")

        def load(self) -> Any:
            return app

    Gunicorn().run()


def load_gunicorn_conf(cfg: Any) -> None:
    """The settings of ``xp.gunicorn_conf``, as ``gunicorn -c python:xp.gunicorn_conf`` would."""
    from xp import gunicorn_conf

    for name, value in vars(gunicorn_conf).items():
        if name in cfg.settings:
            cfg.set(name, value)


def apply_gunicorn_cmd_args(cfg: Any) -> None:
    """``GUNICORN_CMD_ARGS`` last, so it can change anything (gunicorn's own order)."""
    env_args = cfg.get_cmd_args_from_env()
    if not env_args:
        return
    parsed = cfg.parser().parse_args(env_args)  # a bad flag: argparse's message, exit 2
    for name, value in vars(parsed).items():
        if value is None or name == "args":
            continue
        try:
            cfg.set(name.lower(), value)
        except Exception as exc:
            raise click.UsageError(f"GUNICORN_CMD_ARGS: {name}: {exc}") from None


def _check_free(host: str, port: int) -> None:
    """One line naming a busy address now, rather than gunicorn's retries and its exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
