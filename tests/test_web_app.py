from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from hall.config import Config
from hall.web.app import create_app


def test_healthz_answers_once_the_store_is_recovered(tmp_path: Path) -> None:
    with TestClient(create_app(Config(db=str(tmp_path / "hall.db")))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "lots": 0}


def test_unknown_path_is_404(tmp_path: Path) -> None:
    with TestClient(create_app(Config(db=str(tmp_path / "hall.db")))) as client:
        assert client.get("/nope").status_code == 404
