"""The pilot API: items, codes on an item, the study's codes, rename (merge), grouping."""

import pytest
from rest_framework.test import APIClient

from taxonomy.coding.models import Code, CodeUse
from taxonomy.coding.services import code_use_add, codes_group_new_category
from taxonomy.tree.models import Category
from taxonomy.tree.services import category_add

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_pilot_items_with_code_counts(pilot):
    code_use_add(item=pilot.items[0], author=pilot.ana, text="a")
    body = api(pilot.viewer).get("/api/studies/deploy/pilot/items/").json()
    assert body["count"] == 3
    assert [(r["id"], r["code_count"], r["draw"]) for r in body["results"]] == [
        (pilot.items[0].pk, 1, 1), (pilot.items[1].pk, 0, 1), (pilot.items[2].pk, 0, 1)]
    assert api(pilot.viewer).get("/api/studies/deploy/pilot/items/?draw=7").status_code == 404
    assert api(pilot.viewer).get("/api/studies/deploy/pilot/items/?draw=x").status_code == 400


def test_add_list_and_delete_codes_on_an_item(pilot):
    url = f"/api/studies/deploy/pilot/items/{pilot.items[0].pk}/codes/"
    created = api(pilot.ana).post(url, {"text": " Model too large "}, format="json")
    assert created.status_code == 201
    assert created.json()["text"] == "Model too large" and created.json()["author"] == "ana"
    again = api(pilot.bo).post(url, {"text": "model TOO large"}, format="json")
    assert again.status_code == 200 and again.json()["author"] == "ana"
    listed = api(pilot.viewer).get(url).json()
    assert [(u["text"], u["author"], u["category"]) for u in listed] == [("Model too large", "ana", None)]
    code_id = created.json()["code"]
    assert api(pilot.bo).delete(f"{url}{code_id}/").status_code == 403
    assert api(pilot.ana).delete(f"{url}{code_id}/").status_code == 204
    assert not CodeUse.objects.exists()
    assert api(pilot.ana).delete(f"{url}{code_id}/").status_code == 404


def test_bad_codes_are_400_with_the_reason(pilot):
    url = f"/api/studies/deploy/pilot/items/{pilot.items[0].pk}/codes/"
    empty = api(pilot.ana).post(url, {"text": "  "}, format="json")
    assert empty.status_code == 400 and empty.json() == {"text": ["A code cannot be empty."]}
    long = api(pilot.ana).post(url, {"text": "x" * 201}, format="json")
    assert long.status_code == 400 and "at most 200" in long.json()["text"][0]
    assert api(pilot.ana).post(url, {}, format="json").status_code == 400
    assert not Code.objects.exists()


def test_who_may_write_and_read(pilot):
    url = f"/api/studies/deploy/pilot/items/{pilot.items[0].pk}/codes/"
    assert api(pilot.viewer).post(url, {"text": "x"}, format="json").status_code == 404
    assert api(pilot.stranger).get(url).status_code == 404
    assert api(pilot.stranger).get("/api/studies/deploy/codes/").status_code == 404
    assert APIClient().get(url).status_code in (401, 403)
    reliability = f"/api/studies/deploy/pilot/items/{pilot.reliability[0].pk}/codes/"
    assert api(pilot.ana).post(reliability, {"text": "x"}, format="json").status_code == 404
    for user in (pilot.owner, pilot.arbitrator):
        assert api(user).post(url, {"text": f"by {user.username}"}, format="json").status_code == 201
    assert Code.objects.count() == 2


def test_code_list_with_filters_and_items(pilot):
    code_use_add(item=pilot.items[0], author=pilot.ana, text="Serving timeout")
    code_use_add(item=pilot.items[1], author=pilot.ana, text="serving timeout")
    grouped = code_use_add(item=pilot.items[0], author=pilot.ana, text="GPU memory").code
    category = codes_group_new_category(codes=[grouped], name="Resources", parent=None, actor=pilot.ana)
    client = api(pilot.viewer)
    every = client.get("/api/studies/deploy/codes/").json()
    assert [(c["text"], c["item_count"], c["category"]) for c in every["results"]] == [
        ("GPU memory", 1, {"id": category.pk, "name": "Resources"}), ("Serving timeout", 2, None)]
    assert every["results"][1]["items"] == [pilot.items[0].pk, pilot.items[1].pk]
    assert [c["text"] for c in client.get("/api/studies/deploy/codes/?q=TIME").json()["results"]] == [
        "Serving timeout"]
    assert [c["text"] for c in client.get("/api/studies/deploy/codes/?ungrouped=1").json()["results"]] == [
        "Serving timeout"]


def test_rename_and_merge(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="oom").code
    b = code_use_add(item=pilot.items[1], author=pilot.ana, text="Out of memory").code
    renamed = api(pilot.bo).patch(f"/api/studies/deploy/codes/{a.pk}/", {"text": "OOM error"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["text"] == "OOM error" and not renamed.json()["merged"]
    merged = api(pilot.bo).patch(f"/api/studies/deploy/codes/{a.pk}/", {"text": "out of memory"}, format="json")
    assert merged.status_code == 200
    assert merged.json()["id"] == b.pk and merged.json()["merged"] and merged.json()["item_count"] == 2
    assert api(pilot.bo).patch(f"/api/studies/deploy/codes/{a.pk}/", {"text": "x"}, format="json").status_code == 404
    assert api(pilot.bo).patch(f"/api/studies/deploy/codes/{b.pk}/", {"text": ""}, format="json").status_code == 400
    assert api(pilot.viewer).patch(f"/api/studies/deploy/codes/{b.pk}/", {"text": "y"},
                                   format="json").status_code == 404


def test_group_into_new_and_existing_categories(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    b = code_use_add(item=pilot.items[1], author=pilot.ana, text="b").code
    root = category_add(study=pilot.study, name="Server", actor=pilot.owner)
    # an inner category: while a round ana rates in runs, she cannot subdivide a leaf
    category_add(study=pilot.study, name="Scope", parent=root, actor=pilot.owner)
    client = api(pilot.ana)
    new = client.post("/api/studies/deploy/codes/group/",
                      {"codes": [a.pk, b.pk], "new_category": {"name": "Export", "parent": root.pk}}, format="json")
    assert new.status_code == 201 and new.json()["created"] and new.json()["codes"] == [a.pk, b.pk]
    export = Category.objects.get(name="Export")
    assert export.parent == root and set(export.codes.values_list("pk", flat=True)) == {a.pk, b.pk}
    moved = client.post("/api/studies/deploy/codes/group/", {"codes": [a.pk], "category": root.pk}, format="json")
    assert moved.status_code == 200 and moved.json()["category"] == {"id": root.pk, "name": "Server"}
    assert Code.objects.get(pk=a.pk).category == root


def test_group_bad_input(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    root = category_add(study=pilot.study, name="Server", actor=pilot.owner)
    client = api(pilot.ana)
    url = "/api/studies/deploy/codes/group/"
    assert client.post(url, {"codes": [a.pk]}, format="json").status_code == 400  # neither
    both = {"codes": [a.pk], "category": root.pk, "new_category": {"name": "X"}}
    assert client.post(url, both, format="json").status_code == 400
    assert client.post(url, {"codes": [], "category": root.pk}, format="json").status_code == 400
    assert client.post(url, {"codes": [999], "category": root.pk}, format="json").status_code == 404
    assert client.post(url, {"codes": [a.pk], "category": 999}, format="json").status_code == 404
    clash = client.post(url, {"codes": [a.pk], "new_category": {"name": "server"}}, format="json")
    assert clash.status_code == 400 and "already exists" in str(clash.json())
    assert api(pilot.viewer).post(url, {"codes": [a.pk], "category": root.pk}, format="json").status_code == 404
    assert Code.objects.get().category is None and Category.objects.count() == 1


def test_another_raters_private_proposal_is_unknown_to_grouping(pilot):
    from taxonomy.labelling.services import label_category_propose

    root = category_add(study=pilot.study, name="Mobile", actor=pilot.owner)
    category_add(study=pilot.study, name="Conversion", parent=root, actor=pilot.owner)
    hidden = label_category_propose(study=pilot.study, rater=pilot.bo, name="Edge TPU", parent_id=root.pk)
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    url = "/api/studies/deploy/codes/group/"
    into = api(pilot.ana).post(url, {"codes": [a.pk], "category": hidden.pk}, format="json")
    missing = api(pilot.ana).post(url, {"codes": [a.pk], "category": 10**9}, format="json")
    assert into.status_code == missing.status_code == 404 and into.json() == missing.json()
    under = api(pilot.ana).post(url, {"codes": [a.pk], "new_category": {"name": "X", "parent": hidden.pk}},
                                format="json")
    assert under.status_code == 404
