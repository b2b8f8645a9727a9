"""/v1/placements and configured placements through the real app: the file, the admin API,
per-request overrides, explanations of rules, pins against filters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.schema.errors import ValidationFailed

from ..conftest import ADMIN_KEY
from .helpers import assert_problem, rec_ids, recommend, seed

YAML = """\
placements:
  deals:
    description: cheap items first
    n: 4
    sources: {popular: 1}
    rules:
      - where: price < 20
      - boost: 'brand == "b1"'
        factor: 3
        name: b1-week
    overrides: [n, disable, price]
"""


def bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def placements_file(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "placements.yaml"
    path.write_text(YAML)
    settings.placements_file = path
    return path


@pytest.fixture
def app_client(settings: Settings, placements_file: Path):
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        seed(client)
        client.app.state.engine.recommender.placements.check_every_s = 0.0
        yield client


def price(k: str) -> float:
    return 10.0 + int(k[1:])


def test_the_file_configures_placements_and_changes_apply_without_restart(app_client, placements_file):
    ids = rec_ids(app_client, "newcomer", placement="deals")
    assert len(ids) == 4 and all(price(i) < 20 for i in ids)
    assert [int(i[1:]) % 2 for i in ids[:2]] == [1, 1]  # brand b1 (odd items) boosted
    placements_file.write_text(YAML.replace("price < 20", "price >= 40").replace("n: 4", "n: 2"))
    bump(placements_file)
    ids = rec_ids(app_client, "newcomer", placement="deals")
    assert len(ids) == 2 and all(price(i) >= 40 for i in ids)
    # a broken edit is refused whole: the previous placements keep serving
    placements_file.write_text(YAML.replace("price < 20", "price <"))
    bump(placements_file)
    assert len(rec_ids(app_client, "newcomer", placement="deals")) == 2
    assert app_client.app.state.engine.recommender.placements.last_error is not None


def test_an_invalid_file_refuses_the_start_naming_lines(settings, placements_file):
    placements_file.write_text(YAML.replace("factor: 3", "factor: lots").replace("{popular: 1}", "{popular: 1, nope: 2}"))
    with pytest.raises(ValidationFailed) as info:
        Engine(settings)
    reasons = {e.field: e.reason for e in info.value.errors}
    assert reasons["/placements/deals/sources/nope"].startswith("line 5, column")
    assert reasons["/placements/deals/rules/1/factor"].startswith("line 9, column 17: ")


def test_the_data_dirs_placements_yaml_is_the_default(settings):
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "placements.yaml").write_text(YAML)
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        seed(client)
        assert len(rec_ids(client, "u", placement="deals")) == 4


def test_list_and_get(app_client):
    body = app_client.get("/v1/placements").json()
    by_name = {p["name"]: p for p in body["placements"]}
    assert sorted(by_name) == ["cart", "deals", "email", "home", "product-page"]
    assert by_name["home"]["origin"] == "built-in" and by_name["home"]["config"] is None
    deals = app_client.get("/v1/placements/deals").json()
    assert deals["origin"] == "configured" and deals["n"] == 4 and deals["overrides"] == ["disable", "n", "price"]
    assert deals["rules"]["boosts"] == ["b1-week"] and deals["config"]["rules"][1]["factor"] == 3
    assert_problem(app_client.get("/v1/placements/nope"), 404, "name")


def test_put_and_delete(app_client, placements_file, settings):
    doc = {"sources": {"popular": 1}, "n": 3, "rules": [{"filter": "brand", "include": ["b0"]}]}
    r = app_client.put("/v1/placements/evens", json=doc)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "evens" and r.json()["config"] == doc
    ids = rec_ids(app_client, "u", placement="evens")
    assert len(ids) == 3 and all(int(i[1:]) % 2 == 0 for i in ids)
    assert app_client.put("/v1/placements/evens", json={**doc, "n": 2}).status_code == 200
    assert len(rec_ids(app_client, "u", placement="evens")) == 2
    assert "evens:" in placements_file.read_text()  # persisted: other workers and restarts see it
    # the built-in home can be replaced, and deleting brings the default back
    assert app_client.put("/v1/placements/home", json={"sources": {"popular": 1}, "n": 1}).status_code == 201
    assert len(rec_ids(app_client, "u", placement="home")) == 1
    assert app_client.delete("/v1/placements/home").status_code == 204
    assert len(rec_ids(app_client, "u", placement="home")) == 10
    assert app_client.delete("/v1/placements/evens").status_code == 204
    assert_problem(app_client.get("/v1/recommendations", params={"user_id": "u", "placement": "evens"}), 404, "placement")
    assert_problem(app_client.delete("/v1/placements/evens"), 404, "name")
    assert_problem(app_client.delete("/v1/placements/cart"), 404, "name")


def test_put_refuses_an_invalid_placement_naming_fields(app_client):
    bad = {"sources": {"popular": "much"}, "rules": [{"boost": "price >> 2"}, {"pin": "i01"}], "ranker": "magic"}
    body = assert_problem(app_client.put("/v1/placements/bad", json=bad), 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"/sources/popular", "/rules/0/boost", "/rules/1/position", "/ranker"}
    assert_problem(app_client.get("/v1/placements/bad"), 404)
    assert_problem(app_client.put("/v1/placements/bad", content=b"{nope"), 400)
    assert_problem(app_client.put("/v1/placements/Bad%20Name", json={"sources": {"popular": 1}}), 400, "name")


def test_overrides_allowed_and_refused(app_client):
    assert len(rec_ids(app_client, "u", placement="deals", **{"override.n": "2"})) == 2
    ids = rec_ids(app_client, "u", placement="deals", **{"override.disable": "b1-week"})
    assert [int(i[1:]) for i in ids] == [0, 1, 2, 3]  # equally popular: index order again (no boost)
    ids = rec_ids(app_client, "u", placement="deals", **{"override.price": "..15"})
    assert ids and all(price(i) <= 15 for i in ids)
    r = app_client.get("/v1/recommendations", params={"user_id": "u", "placement": "deals", "override.diversity": "0.5"})
    assert "does not allow" in assert_problem(r, 400, "override.diversity")["detail"]
    r = app_client.get("/v1/recommendations", params={"user_id": "u", "placement": "deals", "override.n": "many"})
    assert_problem(r, 400, "override.n")
    r = app_client.get("/v1/recommendations", params={"user_id": "u", "override.n": "2"})  # home allows nothing
    assert_problem(r, 400, "override.n")


def test_explain_shows_the_rules_that_moved_items(app_client):
    items = recommend(app_client, "u", placement="deals", explain="true")["items"]
    boosted = [e for e in items if int(e["id"][1:]) % 2 == 1]
    assert boosted and all({"rule": "b1-week", "effect": "boosted: score x3"} in e["explanation"]["rules"] for e in boosted)
    assert all("rules" not in e["explanation"] for e in items if int(e["id"][1:]) % 2 == 0)
    assert all(e["explanation"]["source"] == "popular" for e in items)


def test_a_pinned_item_excluded_by_a_filter_is_not_shown(app_client):
    doc = {"sources": {"popular": 1}, "n": 5,
           "rules": [{"filter": "category", "exclude": ["c3"]}, {"pin": "i03", "position": 1}, {"pin": "i22", "position": 2}]}
    assert app_client.put("/v1/placements/pinned", json=doc).status_code == 201
    body = recommend(app_client, "u", placement="pinned", explain="true")
    ids = [e["id"] for e in body["items"]]
    assert ids[1] == "i22" and "i03" not in ids  # i03 is in c3
    assert body["items"][1]["explanation"]["rules"] == [{"rule": "pin:i22@2", "effect": "pinned at position 2"}]
    assert body["rules_dropped"] == [{"id": "i03", "rule": "pin:i03@1", "effect": "pin dropped: excluded by category"}]
    assert "rules_dropped" not in recommend(app_client, "u", placement="pinned")
