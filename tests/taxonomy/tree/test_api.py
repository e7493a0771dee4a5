"""The categories API: list, add (and propose), detail, rename/describe, every action, search, changes;
bad input and who may do what."""

import pytest
from rest_framework.test import APIClient

from taxonomy.labelling.models import LabelCategory
from taxonomy.tree import services
from taxonomy.tree.models import Category, CategoryChange, CategoryStatus
from tests.factories import PostFactory, StudyFactory

from .conftest import assignments, code, label

pytestmark = pytest.mark.django_db

BASE = "/api/studies/dl/categories/"


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_list_is_flat_in_tree_order_with_counts(team, tree):
    label(assignments(team)[0], tree["quant"])
    rows = api_for(team.arbitrator).get(BASE).json()
    assert [r["name"] for r in rows] == ["Server/Cloud", "Model Export", "Model quantization", "Model conversion",
                                         "Mobile", "Browser"]
    quant = next(r for r in rows if r["id"] == tree["quant"].pk)
    assert quant == {**quant, "parent": tree["export"].pk, "path": "Server/Cloud › Model Export › Model quantization",
                     "status": "active", "is_leaf": True, "label_count": 1}
    server = rows[0]
    assert (server["is_leaf"], server["label_count"], server["subtree_label_count"]) == (False, 0, 1)
    services.category_retire(category=tree["browser"], actor=team.owner)
    assert "Browser" not in [r["name"] for r in api_for(team.viewer).get(BASE).json()]
    assert "Browser" in [r["name"] for r in api_for(team.viewer).get(BASE, {"retired": "true"}).json()]


def test_add_roles_and_errors(team, tree):
    owner = api_for(team.owner)
    created = owner.post(BASE, {"name": "Int8", "parent": tree["mobile"].pk, "definition": "d"}, format="json")
    assert created.status_code == 201 and created.json()["path"] == "Mobile › Int8"
    assert owner.post(BASE, {"name": "int8", "parent": tree["mobile"].pk}, format="json").json() == {
        "name": ["“int8” already exists under “Mobile”."]}
    assert owner.post(BASE, {"name": ""}, format="json").status_code == 400
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    refused = owner.post(BASE, {"name": "X", "parent": foreign.pk}, format="json")
    assert refused.status_code == 400 and "parent" in refused.json()
    rater = api_for(team.raters[0])
    assert rater.post(BASE, {"name": "Cold start"}, format="json").status_code == 404
    proposal = rater.post(BASE, {"name": "Cold start", "parent": tree["server"].pk, "proposed": True}, format="json")
    assert proposal.status_code == 201 and proposal.json()["status"] == "proposed"
    assert proposal.json()["proposed_by"] == "ana"
    assert api_for(team.viewer).post(BASE, {"name": "V", "proposed": True}, format="json").status_code == 404
    assert api_for(team.stranger).get(BASE).status_code == 404


def test_detail_and_patch(team, tree):
    post = PostFactory(study=team.study)
    path = f"{BASE}{tree['quant'].pk}/"
    arb = api_for(team.arbitrator)
    response = arb.patch(path, {"name": "Quantization", "definition": "Shrink", "examples": [post.pk]},
                         format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["definition"], response.json()["examples"]) == (
        "Quantization", "Shrink", [post.pk])
    actions = list(CategoryChange.objects.filter(category=tree["quant"]).order_by("id").values_list("action",
                                                                                                     flat=True))
    assert actions == ["add", "rename", "describe"]
    bad = arb.patch(path, {"name": "Model conversion", "definition": "lost?"}, format="json")
    assert bad.status_code == 400 and "already exists" in bad.json()["name"][0]
    assert Category.objects.get(pk=tree["quant"].pk).definition == "Shrink"  # all or nothing
    assert arb.patch(path, {"examples": [PostFactory().pk]}, format="json").status_code == 400
    assert api_for(team.raters[0]).patch(path, {"name": "X"}, format="json").status_code == 404
    assert api_for(team.viewer).get(path).json()["name"] == "Quantization"
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    assert arb.get(f"{BASE}{foreign.pk}/").status_code == 404


def test_move(team, tree):
    owner = api_for(team.owner)
    moved = owner.post(f"{BASE}{tree['quant'].pk}/move/", {"parent": tree["mobile"].pk}, format="json")
    assert moved.status_code == 200 and moved.json()["path"] == "Mobile › Model quantization"
    root = owner.post(f"{BASE}{tree['quant'].pk}/move/", {"parent": None, "position": 1}, format="json")
    assert root.json()["parent"] is None and root.json()["position"] == 1
    cycle = owner.post(f"{BASE}{tree['server'].pk}/move/", {"parent": tree["conv"].pk}, format="json")
    assert cycle.status_code == 400 and "own descendant" in cycle.json()["parent"][0]
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    other = owner.post(f"{BASE}{tree['mobile'].pk}/move/", {"parent": foreign.pk}, format="json")
    assert other.status_code == 400 and other.json() == {"parent": ["No such category in this study."]}
    assert owner.post(f"{BASE}{tree['mobile'].pk}/move/", {"parent": tree["server"].pk, "position": 0},
                      format="json").status_code == 400
    assert api_for(team.raters[0]).post(f"{BASE}{tree['mobile'].pk}/move/", {"parent": None},
                                        format="json").status_code == 404


def test_merge_and_split(team, tree):
    a = assignments(team)
    labels = [label(a[i], tree["conv"]) for i in range(3)]
    c = code(team, "converter", tree["conv"])
    owner = api_for(team.owner)
    split = owner.post(f"{BASE}{tree['conv'].pk}/split/", {"name": "ONNX", "labels": [labels[0].pk],
                                                           "codes": [c.pk]}, format="json")
    assert split.status_code == 201 and split.json()["labels_moved"] == 1 and split.json()["codes_moved"] == 1
    onnx = split.json()["new"]
    assert owner.post(f"{BASE}{tree['conv'].pk}/split/", {"name": "X", "labels": [10**9]},
                      format="json").status_code == 400
    merged = owner.post(f"{BASE}{onnx}/merge/", {"target": tree["conv"].pk}, format="json")
    assert merged.status_code == 200 and merged.json() == {
        "source": onnx, "target": tree["conv"].pk, "labels_moved": 1, "codes_moved": 1, "final_labels_moved": 0,
        "moved": {"labels": 1, "codes": 1}}
    assert LabelCategory.objects.filter(category=tree["conv"]).count() == 3
    into_descendant = owner.post(f"{BASE}{tree['export'].pk}/merge/", {"target": tree["quant"].pk}, format="json")
    assert into_descendant.status_code == 400
    assert "merge of a category into its own descendant (refused)" in into_descendant.json()["target"][0]
    assert owner.post(f"{BASE}{tree['quant'].pk}/merge/", {}, format="json").status_code == 400
    assert api_for(team.raters[1]).post(f"{BASE}{tree['quant'].pk}/merge/", {"target": tree["conv"].pk},
                                        format="json").status_code == 404


def test_retire_restore_approve_reject(team, tree):
    owner = api_for(team.owner)
    label(assignments(team)[0], tree["quant"])
    refused = owner.post(f"{BASE}{tree['quant'].pk}/retire/")
    assert refused.status_code == 400 and "merge it into another category" in refused.json()["category"][0]
    retired = owner.post(f"{BASE}{tree['browser'].pk}/retire/")
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert owner.post(f"{BASE}{tree['browser'].pk}/restore/").json()["status"] == "active"
    ana = team.raters[0]
    p1 = services.category_add(study=team.study, name="Cold start", actor=ana, proposed=True)
    p2 = services.category_add(study=team.study, name="GPU", actor=ana, proposed=True)
    label(assignments(team, ana)[1], p2)
    arb = api_for(team.arbitrator)
    assert arb.post(f"{BASE}{p1.pk}/approve/").json()["status"] == "active"
    assert arb.post(f"{BASE}{p1.pk}/approve/").status_code == 400
    rejected = arb.post(f"{BASE}{p2.pk}/reject/", {"target": tree["quant"].pk}, format="json")
    assert rejected.status_code == 200 and rejected.json()["labels_moved"] == 1
    assert Category.objects.get(pk=p2.pk).status == CategoryStatus.RETIRED
    assert api_for(ana).post(f"{BASE}{p1.pk}/retire/").status_code == 404


def test_search(team, tree):
    hits = api_for(team.raters[0]).get(f"{BASE}search/", {"q": "model"}).json()
    assert [(h["name"], h["path"]) for h in hits] == [
        ("Model conversion", "Server/Cloud › Model Export › Model conversion"),
        ("Model quantization", "Server/Cloud › Model Export › Model quantization")]
    inner = api_for(team.raters[0]).get(f"{BASE}search/", {"q": "export", "leaves_only": "false"}).json()
    assert inner[0]["name"] == "Model Export" and inner[0]["is_leaf"] is False
    assert api_for(team.stranger).get(f"{BASE}search/", {"q": "model"}).status_code == 404


def test_changes_paginated_and_filtered(team, tree):
    services.category_rename(category=tree["mobile"], name="Mobile apps", actor=team.owner)
    body = api_for(team.viewer).get("/api/studies/dl/taxonomy/changes/").json()
    assert body["count"] == 7 and body["results"][0]["action"] == "rename"
    first = body["results"][0]
    assert (first["actor"], first["before"]["name"], first["after"]["name"]) == ("owner", "Mobile", "Mobile apps")
    only = api_for(team.viewer).get("/api/studies/dl/taxonomy/changes/", {"category": tree["mobile"].pk}).json()
    assert [r["action"] for r in only["results"]] == ["rename", "add"]
    assert api_for(team.stranger).get("/api/studies/dl/taxonomy/changes/").status_code == 404
