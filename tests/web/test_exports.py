from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from tests.support.seed import KEY, seed
from xp.runtime import Runtime


def seeded_app(make_app: Callable[..., Flask], tmp_path: Path, **config: object) -> Flask:
    folder = tmp_path / "experiments"
    app = make_app(experiments_dir=str(folder), **config)
    runtime: Runtime = app.extensions["xp"]
    seed(folder, runtime.store, time.time())
    runtime.registry.reload(force=True)
    return app


def test_units_csv_is_streamed_with_one_row_per_unit(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    client = seeded_app(make_app, tmp_path).test_client()
    response = client.get(f"/v1/experiments/{KEY}/units.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{KEY}-units.csv"'
    text = response.get_data(as_text=True)
    body, trailer = text.rsplit("# end:", 1)  # the last line says the file is complete
    assert trailer == " 600 rows\r\n"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 600 and len({r["unit_id"] for r in rows}) == 600
    assert set(rows[0]) == {
        "unit_id", "variant", "first_exposure", "country", "purchased", "revenue", "refunds"
    }  # fmt: skip


def test_units_csv_needs_an_admin_key(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    app = seeded_app(make_app, tmp_path, api_keys={"adm": "admin", "sdk": "sdk"})
    client = app.test_client()
    path = f"/v1/experiments/{KEY}/units.csv"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer sdk"}).status_code == 403
    assert client.get(path, headers={"Authorization": "Bearer adm"}).status_code == 200


def test_unknown_experiment_is_a_json_404(make_app: Callable[..., Flask]) -> None:
    response = make_app().test_client().get("/v1/experiments/nope/units.csv")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
