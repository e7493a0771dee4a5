"""The pilot pages: item list, item page with its code section (htmx), codes page."""

import pytest
from django.urls import reverse

from taxonomy.coding.models import Code, CodeUse
from taxonomy.coding.services import code_use_add, codes_group_new_category
from taxonomy.tree.models import Category
from taxonomy.tree.services import category_add
from tests.factories import AnswerFactory, CommentFactory, labelling_draw

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def hx(target):
    return {**HX, "HTTP_HX_TARGET": target}


def item_url(w, item):
    return reverse("coding:item", args=[w.study.slug, item.pk])


def test_pilot_list_full_page_and_fragment_with_counts_and_next_uncoded(client, pilot):
    code_use_add(item=pilot.items[0], author=pilot.ana, text="a")
    code_use_add(item=pilot.items[0], author=pilot.bo, text="b")
    client.force_login(pilot.viewer)
    url = reverse("coding:pilot", args=[pilot.study.slug])
    page = client.get(url).content.decode()
    assert "<html" in page and 'id="pilot-items"' in page
    fragment = client.get(url, **HX).content.decode()
    assert "<html" not in fragment
    assert f'<tr data-item="{pilot.items[0].pk}">' in fragment
    assert f'<tr data-item="{pilot.items[1].pk}" class="next-uncoded"' in fragment  # the first without codes
    assert f'id="next-uncoded" href="{item_url(pilot, pilot.items[1])}"' in fragment
    assert '<td class="code-count">2</td>' in fragment
    for item in pilot.reliability:
        assert f'data-item="{item.pk}"' not in fragment


def test_pilot_list_switches_draw_version(client, pilot):
    newer = labelling_draw(study=pilot.study, raters=[pilot.ana], pilot=1, reliability=0, per_item=1,
                           status="ready", first_so_id=1)
    client.force_login(pilot.ana)
    url = reverse("coding:pilot", args=[pilot.study.slug])
    latest = client.get(url, **HX).content.decode()
    assert f'data-item="{newer.items.get().pk}"' in latest and f'data-item="{pilot.items[0].pk}"' not in latest
    older = client.get(url, {"draw": pilot.draw.version}, **HX).content.decode()
    assert f'data-item="{pilot.items[0].pk}"' in older
    assert client.get(url, {"draw": 99}).status_code == 404
    assert client.get(url, {"draw": "x"}).status_code == 404


def test_item_page_shows_the_post_thread_and_every_code_with_its_author(client, pilot):
    post = pilot.items[0].post
    post.accepted_answer_so_id = 77_001
    post.save()
    AnswerFactory(question=post, so_id=77_001, body="<p>Use <code>saved_model</code></p>")
    CommentFactory(study=pilot.study, post_so_id=post.so_id, text="Which TF version?")
    code_use_add(item=pilot.items[0], author=pilot.bo, text="model export")
    client.force_login(pilot.ana)
    page = client.get(item_url(pilot, pilot.items[0])).content.decode()
    assert post.title in page and "<code>saved_model</code>" in page and "✓ Accepted answer" in page
    assert "Which TF version?" in page and post.original_url in page
    assert '<span class="code">model export</span>' in page and "by bo" in page
    assert 'id="code-text"' in page
    assert f'href="{item_url(pilot, pilot.items[1])}" rel="next"' in page
    assert 'rel="prev"' not in page


def test_adding_a_code_with_htmx_returns_the_code_section_only(client, pilot):
    client.force_login(pilot.ana)
    response = client.post(item_url(pilot, pilot.items[0]), {"text": "  wrong input shape "}, **hx("item-codes"))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and body.lstrip().startswith('<section id="item-codes"')
    assert '<span class="code">wrong input shape</span>' in body and "by ana" in body
    assert CodeUse.objects.get().author == pilot.ana


def test_adding_without_htmx_redirects_and_picking_a_suggestion_uses_its_text(client, pilot):
    code_use_add(item=pilot.items[0], author=pilot.bo, text="Model too large")
    client.force_login(pilot.ana)
    response = client.post(item_url(pilot, pilot.items[1]), {"text": "mod", "pick": "Model too large"})
    assert response.status_code == 302 and response["Location"] == item_url(pilot, pilot.items[1])
    assert Code.objects.count() == 1
    assert CodeUse.objects.filter(item=pilot.items[1], code__text="Model too large").exists()


def test_a_bad_code_is_explained_in_the_fragment_and_the_page(client, pilot):
    client.force_login(pilot.ana)
    fragment = client.post(item_url(pilot, pilot.items[0]), {"text": "x" * 201}, **hx("item-codes"))
    assert fragment.status_code == 200 and "at most 200 characters" in fragment.content.decode()
    page = client.post(item_url(pilot, pilot.items[0]), {"text": "   "})
    assert page.status_code == 400 and "A code cannot be empty." in page.content.decode()
    assert not Code.objects.exists()


def test_suggestions_match_case_insensitively_prefix_first_with_item_counts(client, pilot):
    code_use_add(item=pilot.items[0], author=pilot.ana, text="Slow serving")
    code_use_add(item=pilot.items[0], author=pilot.ana, text="Serving timeout")
    code_use_add(item=pilot.items[1], author=pilot.ana, text="serving timeout")
    code_use_add(item=pilot.items[0], author=pilot.ana, text="GPU memory")
    client.force_login(pilot.bo)
    body = client.get(item_url(pilot, pilot.items[2]), {"text": "SERV"}, **hx("code-suggestions")).content.decode()
    assert "<html" not in body and "GPU memory" not in body
    assert body.index("Serving timeout") < body.index("Slow serving")
    assert 'value="Serving timeout"' in body and "2 items" in body and "1 item<" in body
    empty = client.get(item_url(pilot, pilot.items[2]), {"text": "zzz"}, **hx("code-suggestions")).content.decode()
    assert "A new code" in empty and "<button" not in empty


def test_html_in_codes_is_escaped_on_every_page(client, pilot):
    evil = '<script>alert("x")</script><b>bold</b>'
    code_use_add(item=pilot.items[0], author=pilot.ana, text=evil)
    client.force_login(pilot.ana)
    pages = [
        client.get(item_url(pilot, pilot.items[0])),
        client.get(item_url(pilot, pilot.items[1]), {"text": "script"}, **hx("code-suggestions")),
        client.get(reverse("coding:codes", args=[pilot.study.slug])),
    ]
    for response in pages:
        body = response.content.decode()
        assert "<script>alert" not in body and "<b>bold</b>" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_removing_codes_own_yes_others_no_owner_yes(client, pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="keep")
    code_use_add(item=pilot.items[1], author=pilot.ana, text="keep")
    url = reverse("coding:code_use_remove", args=[pilot.study.slug, pilot.items[0].pk, use.code_id])
    client.force_login(pilot.bo)
    page = client.get(item_url(pilot, pilot.items[0])).content.decode()
    assert "remove-code" not in page  # not offered to bo
    assert client.post(url, **hx("item-codes")).status_code == 403
    assert CodeUse.objects.count() == 2
    client.force_login(pilot.owner)
    response = client.post(url, **hx("item-codes"))
    assert response.status_code == 200 and "No codes yet." in response.content.decode()
    assert CodeUse.objects.count() == 1
    assert client.post(url).status_code == 404  # gone already


def test_viewer_reads_but_cannot_write(client, pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="a")
    client.force_login(pilot.viewer)
    page = client.get(item_url(pilot, pilot.items[0])).content.decode()
    assert '<span class="code">a</span>' in page and 'id="code-text"' not in page and "remove-code" not in page
    assert client.post(item_url(pilot, pilot.items[0]), {"text": "b"}).status_code == 404
    remove = reverse("coding:code_use_remove", args=[pilot.study.slug, pilot.items[0].pk, use.code_id])
    assert client.post(remove).status_code == 404
    codes = client.get(reverse("coding:codes", args=[pilot.study.slug])).content.decode()
    assert 'name="codes"' not in codes and "Create category from these" not in codes
    assert client.post(reverse("coding:codes_group", args=[pilot.study.slug]),
                       {"action": "new", "name": "X", "codes": [use.code_id]}).status_code == 404
    assert client.post(reverse("coding:code_rename", args=[pilot.study.slug, use.code_id]),
                       {"text": "z"}).status_code == 404
    assert list(Code.objects.values_list("text", "category")) == [("a", None)]


@pytest.mark.parametrize("role", ["owner", "arbitrator"])
def test_owners_and_arbitrators_write_codes(client, pilot, role):
    client.force_login(getattr(pilot, role))
    client.post(item_url(pilot, pilot.items[0]), {"text": f"by {role}"})
    assert CodeUse.objects.get().author == getattr(pilot, role)


def test_strangers_and_anonymous_get_nothing(client, pilot):
    urls = [
        reverse("coding:pilot", args=[pilot.study.slug]),
        item_url(pilot, pilot.items[0]),
        reverse("coding:codes", args=[pilot.study.slug]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(pilot.stranger)
    for url in urls:
        assert client.get(url).status_code == 404
    assert client.post(item_url(pilot, pilot.items[0]), {"text": "x"}).status_code == 404
    assert not Code.objects.exists()


def test_reliability_items_and_other_studies_items_are_not_pilot_pages(client, pilot):
    client.force_login(pilot.ana)
    assert client.get(item_url(pilot, pilot.reliability[0])).status_code == 404
    assert client.post(item_url(pilot, pilot.reliability[0]), {"text": "x"}).status_code == 404
    other = labelling_draw(study=pilot.stranger.memberships.get().study, raters=[pilot.stranger], pilot=1,
                           reliability=0, per_item=1, first_so_id=1)
    assert client.get(item_url(pilot, other.items.get())).status_code == 404
    assert not Code.objects.exists()


# -- the codes page --------------------------------------------------------------------------------


def test_codes_page_lists_codes_with_items_and_category_and_filters(client, pilot):
    code_use_add(item=pilot.items[0], author=pilot.ana, text="Serving timeout")
    code_use_add(item=pilot.items[1], author=pilot.bo, text="serving timeout")
    grouped = code_use_add(item=pilot.items[0], author=pilot.ana, text="GPU memory").code
    codes_group_new_category(codes=[grouped], name="Resources", parent=None, actor=pilot.ana)
    client.force_login(pilot.viewer)
    url = reverse("coding:codes", args=[pilot.study.slug])
    page = client.get(url).content.decode()
    assert "<html" in page and page.count("<tr data-code=") == 2
    assert pilot.items[1].post.title in page and "Resources" in page
    assert f'href="{item_url(pilot, pilot.items[1])}"' in page
    fragment = client.get(url, {"q": "TIME"}, **hx("code-table")).content.decode()
    assert "<html" not in fragment and 'data-code="Serving timeout"' in fragment and "GPU memory" not in fragment
    ungrouped = client.get(url, {"ungrouped": "on"}, **hx("code-table")).content.decode()
    assert 'data-code="Serving timeout"' in ungrouped and "GPU memory" not in ungrouped
    assert "No codes match" in client.get(url, {"q": "nothing"}, **hx("code-table")).content.decode()


def test_codes_page_creates_a_category_from_selected_codes(client, pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    b = code_use_add(item=pilot.items[1], author=pilot.ana, text="b").code
    c = code_use_add(item=pilot.items[2], author=pilot.ana, text="c").code
    root = category_add(study=pilot.study, name="Server", actor=pilot.owner)
    category_add(study=pilot.study, name="Scope", parent=root, actor=pilot.owner)
    client.force_login(pilot.bo)
    response = client.post(reverse("coding:codes_group", args=[pilot.study.slug]),
                           {"action": "new", "name": "Export", "parent": root.pk, "codes": [a.pk, b.pk], "q": "x"})
    assert response.status_code == 302 and response["Location"].endswith("/codes/?q=x")
    category = Category.objects.get(name="Export")
    assert category.parent == root and category.created_by == pilot.bo
    assert category.status == "proposed" and category.joint  # awaits approval; seen by everyone
    assert set(Code.objects.filter(category=category).values_list("pk", flat=True)) == {a.pk, b.pk}
    assert Code.objects.get(pk=c.pk).category is None
    page = client.get(response["Location"]).content.decode()
    assert "Category “Export” created with 2 codes." in page


def test_codes_page_adds_to_an_existing_category_and_reports_bad_input(client, pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    category = category_add(study=pilot.study, name="Server", actor=pilot.owner)
    client.force_login(pilot.ana)
    url = reverse("coding:codes_group", args=[pilot.study.slug])
    client.post(url, {"action": "add", "category": category.pk, "codes": [a.pk]})
    assert Code.objects.get().category == category
    messages = client.get(reverse("coding:codes", args=[pilot.study.slug])).content.decode()
    assert "1 code added to “Server”." in messages
    response = client.post(url, {"action": "new", "name": "Nothing ticked"}, follow=True)
    assert "Select at least one code." in response.content.decode()
    response = client.post(url, {"action": "new", "name": "server", "codes": [a.pk]}, follow=True)
    assert "already exists" in response.content.decode()
    assert client.post(url, {"action": "add", "category": 999_999, "codes": [a.pk]}).status_code == 302
    assert client.post(url, {"action": "add", "category": category.pk, "codes": [999_999]}).status_code == 404
    assert Category.objects.count() == 1


def test_codes_page_renames_merging_and_ungroups(client, pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="oom").code
    b = code_use_add(item=pilot.items[1], author=pilot.ana, text="Out of memory").code
    client.force_login(pilot.bo)
    response = client.post(reverse("coding:code_rename", args=[pilot.study.slug, a.pk]),
                           {"text": "out of MEMORY"}, follow=True)
    assert "“oom” merged into “Out of memory”" in response.content.decode()
    assert list(Code.objects.values_list("pk", flat=True)) == [b.pk]
    assert CodeUse.objects.filter(code=b).count() == 2
    codes_group_new_category(codes=[b], name="Resources", parent=None, actor=pilot.bo)
    client.post(reverse("coding:code_ungroup", args=[pilot.study.slug, b.pk]))
    assert Code.objects.get().category is None
