"""GET /v1/recommendations and GET /v1/items/{id}/similar."""

from __future__ import annotations

import pytest

from .helpers import N_ITEMS, assert_problem, catalog, item_id, partner, rec_ids, recommend

CATEGORY = {i["id"]: i["categories"][0] for i in catalog()}
BRAND = {i["id"]: i["brand"] for i in catalog()}


def view(client, user, item, i=None, type_="view"):
    r = client.post("/v1/events", json={"id": f"{user}-{item}-{type_}-{i}", "type": type_, "user_id": user, "item_id": item})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def test_response_shape_is_exactly_the_contract(seeded):
    view(seeded, "shape", "i00")
    body = recommend(seeded, "shape", n=7)
    assert set(body) == {"recommendation_id", "placement", "items", "model_version"}
    assert isinstance(body["recommendation_id"], str) and body["recommendation_id"]
    assert body["placement"] == "home"
    assert isinstance(body["model_version"], str) and body["model_version"]
    assert len(body["items"]) == 7
    for entry in body["items"]:
        assert set(entry) == {"id", "score", "source"}
        assert isinstance(entry["id"], str) and isinstance(entry["score"], float) and isinstance(entry["source"], str)
    ids = [e["id"] for e in body["items"]]
    assert len(set(ids)) == len(ids)
    scores = [e["score"] for e in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert set(ids) <= set(CATEGORY)
    # every request gets its own id
    assert recommend(seeded, "shape", n=7)["recommendation_id"] != body["recommendation_id"]


def test_explain_adds_explanations(seeded):
    view(seeded, "why", "i00")
    body = recommend(seeded, "why", n=5, explain="true")
    assert all(set(e) == {"id", "score", "source", "explanation"} for e in body["items"])
    first = body["items"][0]
    assert first["id"] == "i01" and first["source"] == "covisitation"
    assert first["explanation"]["source"] == "covisitation"
    assert "i00" in first["explanation"]["because_of"]
    assert isinstance(first["explanation"]["reason"], str) and first["explanation"]["reason"]
    assert all("explanation" not in e for e in recommend(seeded, "why", n=5, explain="false")["items"])


@pytest.mark.parametrize("n", [1, 3, 10, 25])
def test_n_is_respected(seeded, n):
    assert len(rec_ids(seeded, "someone", n=n)) == n


def test_default_n_is_10_and_n_larger_than_catalog_returns_all_items(seeded):
    assert len(rec_ids(seeded, "someone")) == 10
    everything = rec_ids(seeded, "someone", n=500)
    assert sorted(everything) == sorted(CATEGORY)


@pytest.mark.parametrize("raw", ["0", "-1", "501", "ten", "1.5", ""])
def test_bad_n_is_400_naming_n(seeded, raw):
    assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "n": raw}), 400, field="n")


def test_missing_user_id_and_bad_flags_are_400(seeded):
    assert_problem(seeded.get("/v1/recommendations"), 400, field="user_id")
    assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "explain": "maybe"}), 400, field="explain")
    assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "include_purchased": "2"}), 400, field="include_purchased")


def test_unknown_placement_is_404_naming_placement(seeded):
    body = assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "placement": "sidebar"}), 404, field="placement")
    assert "sidebar" in body["detail"]


@pytest.mark.parametrize("placement", ["home", "product-page", "cart", "email"])
def test_builtin_placements_answer(seeded, placement):
    view(seeded, "p", "i02")
    body = recommend(seeded, "p", placement=placement, item_id="i04", n=5)
    assert body["placement"] == placement
    assert len(body["items"]) == 5
    if placement in ("product-page", "cart"):
        assert body["items"][0]["id"] == "i05"  # the on-screen item's neighbour leads
    ids = [e["id"] for e in body["items"]]
    assert "i04" not in ids  # the item on screen is not recommended to itself
    if placement == "email":
        assert "i02" not in ids  # email shows only fresh items


def test_exclude_category_and_brand_filters(seeded):
    view(seeded, "f", "i00")
    ids = rec_ids(seeded, "f", n=100, exclude="i01,i02,i03")
    assert not {"i01", "i02", "i03"} & set(ids)
    assert len(ids) == N_ITEMS - 3
    ids = rec_ids(seeded, "f", n=100, category="c2")
    assert ids and all(CATEGORY[i] == "c2" for i in ids)
    assert len(ids) == N_ITEMS // 4
    ids = rec_ids(seeded, "f", n=100, brand="b1")
    assert ids and all(BRAND[i] == "b1" for i in ids)
    assert "i01" == ids[0]  # the co-visited neighbour is b1 and still leads
    ids = rec_ids(seeded, "f", n=100, brand="b1", category="c3")
    assert ids and all(BRAND[i] == "b1" and CATEGORY[i] == "c3" for i in ids)
    assert rec_ids(seeded, "f", n=10, category="no-such-category") == []
    assert rec_ids(seeded, "f", n=10, brand="no-such-brand") == []


def test_purchased_items_are_not_recommended_again(seeded):
    view(seeded, "buyer", "i00")
    assert rec_ids(seeded, "buyer", n=3)[0] == "i01"
    view(seeded, "buyer", "i01", type_="purchase")
    assert "i01" not in rec_ids(seeded, "buyer", n=100)
    assert "i01" in rec_ids(seeded, "buyer", n=100, include_purchased="true")
    # other users still get it
    assert "i01" in rec_ids(seeded, "someone-else", n=100)


def test_disliked_and_rated_items_are_not_recommended(seeded):
    view(seeded, "critic", "i06")
    view(seeded, "critic", "i07", type_="dislike")
    seeded.post("/v1/events", json={"id": "r1", "type": "rating", "user_id": "critic", "item_id": "i08", "value": 4.5})
    ids = rec_ids(seeded, "critic", n=100)
    assert "i07" not in ids and "i08" not in ids
    assert "i06" in ids  # merely viewed: still allowed


def test_out_of_stock_item_is_not_recommended_until_restocked(seeded):
    view(seeded, "shopper", "i10")
    assert rec_ids(seeded, "shopper", n=1) == ["i11"]
    r = seeded.patch("/v1/items/i11", json={"stock": 0})
    assert r.status_code == 200
    assert "i11" not in rec_ids(seeded, "shopper", n=100)
    assert "i11" not in rec_ids(seeded, "new-user", n=100)
    assert "i11" not in rec_ids(seeded, "shopper", n=100, category="c3")
    assert "i11" not in {i["id"] for i in seeded.get("/v1/items/i10/similar", params={"n": 50}).json()["items"]}
    seeded.patch("/v1/items/i11", json={"stock": 4})
    assert rec_ids(seeded, "shopper", n=1) == ["i11"]
    assert "i11" in rec_ids(seeded, "new-user", n=100)


def test_freshness_view_then_purchase_is_seen_by_the_very_next_request(seeded):
    """For every user: a view surfaces the item's co-visited neighbour at once; a purchase removes it."""
    misses = []
    users = 60
    for u in range(users):
        k = (u * 7) % N_ITEMS
        user = f"fresh-{u}"
        seen, neighbour = item_id(k), partner(k)
        view(seeded, user, seen)
        items = recommend(seeded, user, n=5)["items"]
        hit = [e for e in items if e["id"] == neighbour]
        if not hit or hit[0]["source"] != "covisitation":
            misses.append((user, "view", items))
        view(seeded, user, neighbour, type_="purchase")
        if neighbour in rec_ids(seeded, user, n=100):
            misses.append((user, "purchase"))
    assert misses == [], misses[:3]


def test_freshness_is_reflected_in_the_profile_at_once(seeded):
    for u in range(30):
        view(seeded, f"p{u}", "i03")
        profile = seeded.get(f"/v1/users/p{u}").json()["activity"]
        assert profile["recent"][0]["item_id"] == "i03"
        view(seeded, f"p{u}", "i09", type_="purchase")
        assert "i09" in seeded.get(f"/v1/users/p{u}").json()["activity"]["purchased"]


def test_cold_start_user_gets_items(seeded):
    body = recommend(seeded, "never-seen-before", n=10)
    assert len(body["items"]) == 10
    assert all(e["id"] in CATEGORY for e in body["items"])
    # with context fields too
    assert len(recommend(seeded, "never-seen-before", n=10, device="mobile", geo="DE")["items"]) == 10


def test_empty_engine_returns_an_empty_list(client):
    body = recommend(client, "u", n=5)
    assert body["items"] == []


def test_recommendations_are_deterministic_for_the_same_state(seeded):
    view(seeded, "det", "i20")
    view(seeded, "det", "i31")
    first = [(e["id"], e["score"]) for e in recommend(seeded, "det", n=20)["items"]]
    assert first == [(e["id"], e["score"]) for e in recommend(seeded, "det", n=20)["items"]]


# -- similar --------------------------------------------------------------------------

def test_similar_returns_co_visited_neighbours(seeded):
    r = seeded.get("/v1/items/i12/similar", params={"n": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["item_id"] == "i12"
    items = body["items"]
    assert len(items) == 5
    assert items[0]["id"] == "i13" and items[0]["source"] == "covisitation"
    ids = [e["id"] for e in items]
    assert "i12" not in ids
    assert len(set(ids)) == len(ids)
    assert [e["score"] for e in items] == sorted((e["score"] for e in items), reverse=True)
    for entry in items:
        assert set(entry) == {"id", "score", "source"}


@pytest.mark.parametrize("n", [1, 2, 8, 39, 100])
def test_similar_lists_are_unique_and_sized(seeded, n):
    ids = [e["id"] for e in seeded.get("/v1/items/i12/similar", params={"n": n}).json()["items"]]
    assert len(set(ids)) == len(ids), ids
    assert len(ids) == min(n, N_ITEMS - 1)
    assert "i12" not in ids


def test_similar_falls_back_to_same_category_for_a_new_item(seeded):
    seeded.post("/v1/items", json=[{"id": "newbie", "categories": ["c2"], "stock": 3}])
    items = seeded.get("/v1/items/newbie/similar", params={"n": 5}).json()["items"]
    assert len(items) == 5
    assert all(CATEGORY[e["id"]] == "c2" for e in items), items


def test_similar_errors(seeded):
    assert_problem(seeded.get("/v1/items/ghost/similar"), 404, field="id")
    for raw in ("0", "501", "x", "-3"):
        assert_problem(seeded.get("/v1/items/i00/similar", params={"n": raw}), 400, field="n")


def test_similar_has_no_duplicates_when_neighbours_share_the_category(seeded):
    # i00 and i04 are both in c0: co-visited AND same-category candidates overlap
    for j in range(2):
        seeded.post("/v1/events", json=[
            {"id": f"ov-{j}-a", "type": "view", "user_id": f"ov{j}", "item_id": "i00"},
            {"id": f"ov-{j}-b", "type": "view", "user_id": f"ov{j}", "item_id": "i04"},
        ])
    for n in (3, 5, 9, 20):
        items = seeded.get("/v1/items/i00/similar", params={"n": n}).json()["items"]
        ids = [e["id"] for e in items]
        assert len(set(ids)) == len(ids), ids
        assert len(ids) == n
        assert set(ids[:2]) == {"i01", "i04"}


# -- unknown parameters -----------------------------------------------------------------

def test_an_unknown_parameter_is_400_naming_it_with_a_suggestion(seeded):
    body = assert_problem(seeded.get("/v1/recommendations", params={"userid": "alice"}), 400, field="userid")
    reasons = {e["field"]: e["reason"] for e in body["errors"]}
    assert set(reasons) == {"userid", "user_id"}
    assert "did you mean 'user_id'?" in reasons["userid"]
    assert "Known parameters: user_id, placement, n," in reasons["userid"] and "override.KEY" in reasons["userid"]
    body = assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "nn": "3", "explian": "true"}), 400)
    assert {e["field"] for e in body["errors"]} == {"nn", "explian"}
    assert "did you mean 'explain'?" in next(e["reason"] for e in body["errors"] if e["field"] == "explian")


def test_context_fields_and_overrides_are_not_unknown(seeded):
    ids = rec_ids(seeded, "ctx", n=3, device="mobile", channel="web", locale="de-DE", geo="DE", referrer="x",
                  user_agent="ua")
    assert len(ids) == 3
    # an override the placement does not allow is refused by the placement, not as unknown
    body = assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "override.diversity": "0.3"}), 400)
    assert "unknown parameter" not in body["errors"][0]["reason"]


def test_similar_refuses_unknown_parameters(seeded):
    body = assert_problem(seeded.get("/v1/items/i00/similar", params={"count": "3"}), 400, field="count")
    assert "Known parameters: n, fields" in body["errors"][0]["reason"]
    body = assert_problem(seeded.get("/v1/items/i00/similar", params={"N": "3"}), 400, field="N")
    assert "did you mean 'n'?" in body["errors"][0]["reason"]


# -- fields -----------------------------------------------------------------------------

def test_fields_add_the_catalogue_fields_under_item(seeded):
    body = recommend(seeded, "page", n=5, fields="title,price,categories,brand")
    by_id = {i["id"]: i for i in catalog()}
    assert len(body["items"]) == 5
    for entry in body["items"]:
        assert set(entry) == {"id", "score", "source", "item"}  # id, score, source unchanged
        want = by_id[entry["id"]]
        assert entry["item"] == {"title": want["title"], "price": want["price"], "categories": want["categories"],
                                 "brand": want["brand"]}
    # without fields, the entry is exactly as before
    assert all(set(e) == {"id", "score", "source"} for e in recommend(seeded, "page", n=5)["items"])


def test_fields_unset_on_an_item_are_null_and_properties_can_be_picked(seeded):
    r = seeded.post("/v1/items", json=[{"id": "i00", "title": "Item 0", "properties": {"image": "https://x/0.jpg", "color": "red"}}])
    assert r.status_code == 200
    ids = rec_ids(seeded, "props", n=N_ITEMS)
    assert "i00" in ids
    items = {e["id"]: e["item"] for e in recommend(seeded, "props", n=N_ITEMS, fields="title,description,properties.image")["items"]}
    assert items["i00"] == {"title": "Item 0", "description": None, "properties": {"image": "https://x/0.jpg"}}
    assert items["i01"] == {"title": "Item 1", "description": None, "properties": {"image": None}}
    whole = {e["id"]: e["item"] for e in recommend(seeded, "props", n=N_ITEMS, fields="properties")["items"]}
    assert whole["i00"] == {"properties": {"image": "https://x/0.jpg", "color": "red"}}


def test_unknown_fields_are_400_naming_them_and_listing_the_known_ones(seeded):
    body = assert_problem(seeded.get("/v1/recommendations", params={"user_id": "u", "fields": "title,imgae,cost"}), 400,
                          field="fields")
    reason = body["errors"][0]["reason"]
    assert "'imgae'" in reason and "'cost'" in reason and "'title'" not in reason
    assert "known: title, description, categories, brand, price" in reason and "properties.NAME" in reason
    assert_problem(seeded.get("/v1/items/i00/similar", params={"fields": "titel"}), 400, field="fields")


def test_similar_items_carry_fields_too(seeded):
    items = seeded.get("/v1/items/i12/similar", params={"n": 3, "fields": "title,stock"}).json()["items"]
    assert [e["item"] for e in items] == [{"title": f"Item {int(e['id'][1:])}", "stock": 10} for e in items]


def test_explanations_list_the_titles_and_say_them_in_a_sentence(seeded):
    seeded.post("/v1/items", json=[{"id": "i00", "title": "Long Kiss Goodnight, The"}])
    view(seeded, "reader", "i00")
    first = recommend(seeded, "reader", n=3, explain="true")["items"][0]
    assert first["id"] == "i01"
    explanation = first["explanation"]
    assert explanation["because_of"] == ["i00"]
    assert explanation["because"] == [{"id": "i00", "title": "Long Kiss Goodnight, The"}]
    assert explanation["reason"] == "Because you recently interacted with “Long Kiss Goodnight, The”"
