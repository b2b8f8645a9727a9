"""``tastemaker serve`` (cli/serve.py): the placement file is checked before the server starts."""

from __future__ import annotations

import os

import pytest

from tastemaker import cli
from tastemaker.config import Settings


def test_serve_refuses_an_invalid_placement_file_with_its_lines(tmp_path, capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server must not start"))
    monkeypatch.setenv("TASTEMAKER_PLACEMENTS", "")
    bad = tmp_path / "placements.yaml"
    bad.write_text("placements:\n  home:\n    sources: {trending: 1}\n    rules:\n      - boost: 'price >> 2'\n")
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data"), "--placements", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "refusing to start" in err and "/placements/home/rules/0/boost: line 5, column 24" in err
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data"), "--placements", str(tmp_path / "missing.yaml")]) == 2
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "placements.yaml").write_text("placements: {home: {sources: {nope: 1}}}\n")
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data")]) == 1  # the data dir's file is checked too
    assert "unknown source" in capsys.readouterr().err


def test_serve_passes_the_placement_file_to_the_workers(tmp_path, monkeypatch):
    import uvicorn

    good = tmp_path / "p.yaml"
    good.write_text("placements:\n  deals:\n    sources: {popular: 1}\n")
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(env=os.environ.get("TASTEMAKER_PLACEMENTS")))
    monkeypatch.setenv("TASTEMAKER_PLACEMENTS", "")  # restored (unset) after the test
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data"), "--placements", str(good)]) == 0
    assert seen["env"] == str(good.resolve())
    assert Settings().placements_file == good.resolve()
