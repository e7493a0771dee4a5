"""The tree page, the edit forms (plain POST and htmx), the category and history pages, and who may do what."""

import pytest
from django.http import HttpRequest
from django.urls import reverse

from taxonomy.labelling.models import LabelCategory
from taxonomy.tree import services
from taxonomy.tree.models import Category, CategoryChange, CategoryStatus
from tests.factories import PASSWORD, PostFactory

from .conftest import assignments, code, label

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


def url(name, *args):
    return reverse(f"tree:{name}", args=["dl", *args])


def test_empty_tree_offers_the_add_root_form(client, team):
    login(client, team.owner)
    page = client.get(url("index"))
    text = page.content.decode()
    assert page.status_code == 200 and "No categories yet" in text and 'action="/studies/dl/taxonomy/add/"' in text
    login(client, team.raters[0])
    text = client.get(url("index")).content.decode()
    assert "No categories yet" in text and "/taxonomy/add/" not in text


def test_tree_page_shows_nesting_counts_badges_and_definitions(client, team, tree):
    label(assignments(team)[0], tree["quant"])
    services.category_describe(category=tree["quant"], definition="Shrinking weights to int8", actor=team.owner)
    services.category_add(study=team.study, name="Cold start", parent=tree["server"], actor=team.raters[0],
                          proposed=True)
    login(client, team.owner)
    text = client.get(url("index")).content.decode()
    assert text.index("Server/Cloud") < text.index("Model Export") < text.index("Model quantization")
    assert 'id="cat-%d"' % tree["quant"].pk in text and "Shrinking weights to int8" in text
    assert "proposed by ana" in text and "1 proposed category waiting for approval" in text
    assert '<span class="label-count">1</span> label' in text
    assert f'hx-get="/studies/dl/taxonomy/{tree["quant"].pk}/edit/"' in text  # with a real href beside it
    assert f'href="/studies/dl/taxonomy/{tree["quant"].pk}/edit/"' in text


def test_raters_and_viewers_read_only_strangers_404(client, team, tree):
    for user in (team.raters[1], team.viewer):
        login(client, user)
        page = client.get(url("index"))
        assert page.status_code == 200 and "Model quantization" in page.content.decode()
        assert "Edit</a>" not in page.content.decode() and "Cold start" not in page.content.decode()
        assert client.get(url("edit", tree["quant"].pk)).status_code == 404
        assert client.post(url("rename", tree["quant"].pk), {"rename-name": "X"}).status_code == 404
        assert client.post(url("add"), {"name": "X"}).status_code == 404
        assert client.get(url("category", tree["quant"].pk)).status_code == 200
    assert Category.objects.get(pk=tree["quant"].pk).name == "Model quantization"
    login(client, team.stranger)
    for path in (url("index"), url("history"), url("category", tree["quant"].pk)):
        assert client.get(path).status_code == 404


def test_script_in_a_name_is_shown_as_text(client, team):
    bad = services.category_add(study=team.study, name="<script>alert(1)</script>", actor=team.owner)
    services.category_describe(category=bad, definition="<b>bold</b>", actor=team.owner)
    login(client, team.owner)
    for path in (url("index"), url("category", bad.pk), url("history"), url("edit", bad.pk)):
        text = client.get(path).content.decode()
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
        assert "<b>bold</b>" not in text


def test_add_root_and_child_without_js(client, team):
    login(client, team.arbitrator)
    response = client.post(url("add"), {"name": "Server/Cloud", "definition": "Serving"})
    root = Category.objects.get(name="Server/Cloud")
    assert response.status_code == 302 and response.url == f"/studies/dl/taxonomy/#cat-{root.pk}"
    response = client.post(url("child", root.pk), {"child-name": "Model Export", "child-parent": root.pk})
    assert response.status_code == 302
    assert Category.objects.get(name="Model Export").parent == root
    again = client.post(url("add"), {"name": "server/CLOUD"})
    assert again.status_code == 200 and "already exists among the roots" in again.content.decode()


def test_htmx_edit_panel_and_swaps(client, team, tree):
    login(client, team.owner)
    panel = client.get(url("edit", tree["mobile"].pk), **HTMX)
    text = panel.content.decode()
    assert "<html" not in text and "edit-panel" in text and "Merge into" in text
    full = client.get(url("edit", tree["mobile"].pk))
    assert "<html" in full.content.decode() and "edit-panel" in full.content.decode()
    ok = client.post(url("rename", tree["mobile"].pk), {"rename-name": "Mobile devices"}, **HTMX)
    assert ok.status_code == 200 and ok.headers["HX-Retarget"] == "#taxonomy-tree"
    assert 'id="taxonomy-tree"' in ok.content.decode() and "Renamed “Mobile” to “Mobile devices”" in \
        ok.content.decode()
    clash = client.post(url("rename", tree["mobile"].pk), {"rename-name": "browser"}, **HTMX)
    assert "HX-Retarget" not in clash.headers and "already exists" in clash.content.decode()
    assert "edit-panel" in clash.content.decode() and "<html" not in clash.content.decode()


def test_move_merge_split_retire_restore_forms(client, team, tree):
    a = assignments(team)
    labels = [label(a[i], tree["quant"]) for i in range(3)]
    c = code(team, "int8", tree["quant"])
    login(client, team.owner)
    # move: the parent select does not offer the category itself or its subtree
    panel = client.get(url("edit", tree["export"].pk)).content.decode()
    move_select = panel.split('name="move-parent"')[1].split("</select>")[0]
    assert f'value="{tree["quant"].pk}"' not in move_select and f'value="{tree["mobile"].pk}"' in move_select
    assert client.post(url("move", tree["export"].pk), {"move-parent": tree["mobile"].pk}).status_code == 302
    assert Category.objects.get(pk=tree["export"].pk).parent == tree["mobile"]
    refused = client.post(url("move", tree["mobile"].pk), {"move-parent": tree["quant"].pk})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    # split
    response = client.post(url("split", tree["quant"].pk), {"split-name": "Pruning", "split-labels": [labels[0].pk],
                                                            "split-codes": [c.pk]})
    assert response.status_code == 302
    pruning = Category.objects.get(name="Pruning")
    assert list(LabelCategory.objects.filter(category=pruning).values_list("label_id", flat=True)) == [labels[0].pk]
    # merge
    response = client.post(url("merge", pruning.pk), {"merge-target": tree["quant"].pk})
    assert response.status_code == 302 and LabelCategory.objects.filter(category=tree["quant"]).count() == 3
    assert Category.objects.get(pk=pruning.pk).merged_into == tree["quant"]
    # retire refused with the reason, then allowed on an empty leaf, then restore
    refused = client.post(url("retire", tree["quant"].pk))
    assert refused.status_code == 200 and "merge it into another category" in refused.content.decode()
    assert client.post(url("retire", tree["browser"].pk)).status_code == 302
    assert Category.objects.get(pk=tree["browser"].pk).status == CategoryStatus.RETIRED
    assert "Retired categories (2)" in client.get(url("index")).content.decode()
    assert client.post(url("restore", tree["browser"].pk)).status_code == 302
    assert Category.objects.get(pk=tree["browser"].pk).status == CategoryStatus.ACTIVE


def test_approve_and_reject_forms(client, team, tree):
    ana = team.raters[0]
    first = services.category_add(study=team.study, name="Cold start", parent=tree["server"], actor=ana,
                                  proposed=True)
    second = services.category_add(study=team.study, name="GPU memory", parent=tree["server"], actor=ana,
                                   proposed=True)
    label(assignments(team, ana)[0], second)
    login(client, team.arbitrator)
    assert "Approve" in client.get(url("edit", first.pk)).content.decode()
    assert client.post(url("approve", first.pk)).status_code == 302
    assert Category.objects.get(pk=first.pk).status == CategoryStatus.ACTIVE
    missing = client.post(url("reject", second.pk), {"reject-target": ""})
    assert "Choose a category" in missing.content.decode()
    assert client.post(url("reject", second.pk), {"reject-target": tree["quant"].pk}).status_code == 302
    assert LabelCategory.objects.filter(category=tree["quant"]).count() == 1
    assert CategoryChange.objects.filter(category=second, action="reject").exists()


def test_category_page_and_history(client, team, tree):
    ana, bo = team.raters
    post = PostFactory(study=team.study, title="Quantize a Keras model?")
    services.category_describe(category=tree["quant"], definition="Shrinking", examples=[post.pk],
                               actor=team.owner)
    item_label = label(assignments(team, ana)[0], tree["quant"])
    other = next(x for x in assignments(team, bo) if x.item_id == item_label.assignment.item_id)
    label(other, tree["quant"])
    code(team, "int8 accuracy drop", tree["quant"])
    services.category_rename(category=tree["quant"], name="Quantization", actor=team.arbitrator)
    login(client, ana)
    text = client.get(url("category", tree["quant"].pk)).content.decode()
    assert "Quantize a Keras model?" in text and "int8 accuracy drop" in text and "Shrinking" in text
    assert text.count("<td>ana</td>") == 1 and "<td>bo</td>" not in text  # blind to bo's label
    assert "Model quantization" in text and "Renamed" in text  # its history: before → after
    login(client, team.owner)
    text = client.get(url("category", tree["quant"].pk)).content.decode()
    assert "<td>ana</td>" in text and "<td>bo</td>" in text
    history = client.get(url("history")).content.decode()
    assert "<del>Model quantization</del> → <ins>Quantization</ins>" in history and "arb" in history
    assert client.get(url("category", 10**9)).status_code == 404


def test_history_is_paginated(client, team, tree, settings):
    for i in range(55):
        services.category_describe(category=tree["mobile"], definition=f"v{i}", actor=team.owner)
    login(client, team.viewer)
    first = client.get(url("history")).content.decode()
    assert "Page 1 of 2" in first and "v54" in first and "v0<" not in first
    assert "v0" in client.get(url("history"), {"page": 2}).content.decode()
