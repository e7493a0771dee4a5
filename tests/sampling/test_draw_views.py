"""The draw pages: design form with live preview, start, design table,
per-rater assignment, items, freezing, and who may do what."""

import csv
import io
import re

import pytest
from django.http import HttpRequest
from django.urls import reverse

from annotator.jobs.runner import job_run
from sampling.draws.models import DrawStatus, SampleDraw
from tests.factories import PASSWORD, MembershipFactory, StudyFactory, UserFactory, evaluated_set, questions_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    study = StudyFactory(slug="dl")
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True)
    for name in ("rater1", "rater2"):
        MembershipFactory(study=study, user=UserFactory(username=name), is_rater=True)
    server = evaluated_set(study=study, name="Server", posts=questions_bulk(study=study, count=400, first_so_id=1))
    browser = evaluated_set(study=study, name="Browser <b>", posts=questions_bulk(study=study, count=30,
                                                                                  first_so_id=5000))
    client.login(request=HttpRequest(), username="owner", password=PASSWORD)
    return study, owner, server, browser


def form_data(server, browser, **extra):
    data = {"confidence": "0.95", "margin": "0.05", "proportion": "0.5", "rounding": "ceil", "seed": "2024",
            "pilot_share": "0.3", "raters_per_item": "2", "expected_version": "0",
            f"s{server.pk}_use": "on", f"s{server.pk}_order": "1", f"s{server.pk}_mode": "calculated",
            f"s{browser.pk}_use": "on", f"s{browser.pk}_order": "2", f"s{browser.pk}_mode": "census",
            "raters": [str(m.user_id) for m in server.study.memberships.filter(is_rater=True)]}
    data.update(extra)
    return data


def test_design_form_previews_the_table_live(client, setup):
    study, owner, server, browser = setup
    page = client.get(reverse("sampling:draw_new", args=["dl"]))
    assert page.status_code == 200 and b"Overlap rule" in page.content and b"Browser &lt;b&gt;" in page.content
    preview = client.get(reverse("sampling:draw_new", args=["dl"]), {"preview": "1", **form_data(server, browser)},
                         HTTP_HX_REQUEST="true")
    text = preview.content.decode()
    assert "<html" not in text and "design-table" in text
    assert "196.21" in text and "<strong>197</strong>" in text  # N = 400 → n exact 196.21, ceil 197
    assert "<strong>227</strong>" in text  # 197 + census 30


def test_preview_shows_errors_and_census_warnings(client, setup, monkeypatch):
    study, owner, server, browser = setup
    monkeypatch.setattr("sampling.draws.selectors.LARGE_CENSUS", 100)
    preview = client.get(reverse("sampling:draw_new", args=["dl"]),
                         {"preview": "1", **form_data(server, browser, **{f"s{server.pk}_mode": "census",
                                                                         "margin": "1.5"})},
                         HTTP_HX_REQUEST="true")
    assert "margin of error must be between 0 and 1" in preview.content.decode()
    preview = client.get(reverse("sampling:draw_new", args=["dl"]),
                         {"preview": "1", **form_data(server, browser, **{f"s{server.pk}_mode": "census"})},
                         HTTP_HX_REQUEST="true")
    assert "A census of 400 posts" in preview.content.decode()


def test_draw_start_detail_labelling_and_csv(client, setup, queued):
    study, owner, server, browser = setup
    response = client.post(reverse("sampling:draw_new", args=["dl"]), form_data(server, browser))
    draw = SampleDraw.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/draws/1/?job={draw.job_id}")
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and b"hx-trigger=\"every 1s\"" in poll.content
    job_run(job_id=draw.job_id)
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 286 and poll.headers["HX-Refresh"] == "true"

    page = client.get(reverse("sampling:draw", args=["dl", 1])).content.decode()
    assert "2024" in page and "196.21" in page and 'class="drawn">197<' in page and 'class="pilot">59<' in page
    assert 'class="drawn">30<' in page and 'class="pilot">9<' in page
    assert 'data-rater="rater1"' in page and 'data-rater="rater2"' in page
    # everything to both raters: 227 − 68 = 159 each; how far they have come is the labelling step's to tell
    assert '<td class="assigned">159</td>' in page and "0 / 159" not in page
    items = client.get(reverse("sampling:draw", args=["dl", 1]), {"part": "pilot", "fragment": "items"},
                       HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in items and items.count('data-part="pilot"') == 50 and "Page 1 of 2" in items
    check = client.get(reverse("sampling:draw", args=["dl", 1]), {"check": "reproduce"}, HTTP_HX_REQUEST="true")
    assert "✓" in check.content.decode()

    rows = list(csv.reader(io.StringIO(b"".join(client.get(
        reverse("sampling:draw_items_csv", args=["dl", 1])).streaming_content).decode())))
    assert rows[0] == ["stratum", "part", "site", "post_id", "url", "title", "raters"] and len(rows) == 228
    assert {r[6] for r in rows[1:] if r[1] == "reliability"} == {"rater1 rater2"}

    client.post(reverse("sampling:draw_labelling_start", args=["dl", 1]))
    assert SampleDraw.objects.get().status == DrawStatus.LABELLING
    response = client.post(reverse("sampling:draw_redistribute", args=["dl", 1]),
                           {"pilot_share": "0.5", "raters_per_item": "1"}, follow=True)
    assert "the draw is frozen" in response.content.decode()


def test_a_stale_form_is_refused_with_the_reason(client, setup, queued):
    study, owner, server, browser = setup
    client.post(reverse("sampling:draw_new", args=["dl"]), form_data(server, browser))
    job_run(job_id=SampleDraw.objects.get().job_id)
    page = client.post(reverse("sampling:draw_new", args=["dl"]), form_data(server, browser))
    assert page.status_code == 400 and "A new draw was made since you opened this form" in page.content.decode()
    assert SampleDraw.objects.count() == 1


def test_a_design_the_preview_says_will_fail_cannot_be_started(client, setup, queued):
    """The preview marks the reason (the Draw button is disabled while it shows one: app.js's
    data-disabled-while); a start sent anyway is refused with the same reason, as a 400, and
    uses no version."""
    study, owner, server, browser = setup
    subset = evaluated_set(study=study, name="Subset", posts=[m.post for m in server.members.all()[:10]])
    data = form_data(server, browser, **{f"s{subset.pk}_use": "on", f"s{subset.pk}_order": "3",
                                         f"s{subset.pk}_mode": "census"})
    reason = "“Subset” has no posts left: all 10 are counted in earlier strata. Remove it or put it first."
    preview = client.get(reverse("sampling:draw_new", args=["dl"]), {"preview": "1", **data},
                         HTTP_HX_REQUEST="true").content.decode()
    assert f'class="error" data-blocks-draw>{reason}<' in preview and "cannot be drawn as it is" in preview
    page = client.post(reverse("sampling:draw_new", args=["dl"]), data)
    assert page.status_code == 400 and reason in page.content.decode()
    assert 'data-disabled-while="#design-preview [data-blocks-draw]"' in page.content.decode()
    assert not SampleDraw.objects.exists() and queued == []
    good_data = form_data(server, browser, **{f"s{subset.pk}_mode": "census"})  # not ticked
    good = client.get(reverse("sampling:draw_new", args=["dl"]), {"preview": "1", **good_data},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "design-table" in good and "data-blocks-draw" not in good
    assert client.post(reverse("sampling:draw_new", args=["dl"]), good_data).status_code == 302
    assert SampleDraw.objects.get().version == 1


def test_new_version_form_starts_from_an_earlier_design(client, setup, queued):
    study, owner, server, browser = setup
    client.post(reverse("sampling:draw_new", args=["dl"]), form_data(server, browser))
    page = client.get(reverse("sampling:draw_new", args=["dl"]), {"from": "1"}).content.decode()
    assert 'value="2024"' in page and 'name="expected_version" value="1"' in page


def test_raters_and_viewers_read_but_cannot_draw_and_strangers_get_404(client, setup, queued):
    study, owner, server, browser = setup
    client.post(reverse("sampling:draw_new", args=["dl"]), form_data(server, browser))
    client.logout()
    client.login(request=HttpRequest(), username="rater1", password=PASSWORD)
    assert client.get(reverse("sampling:draw", args=["dl", 1])).status_code == 200
    assert client.get(reverse("sampling:draw_new", args=["dl"])).status_code == 404
    assert client.post(reverse("sampling:draw_labelling_start", args=["dl", 1])).status_code == 404
    UserFactory(username="stranger")
    client.login(request=HttpRequest(), username="stranger", password=PASSWORD)
    for name, args in (("draws", ["dl"]), ("draw", ["dl", 1]), ("draw_items_csv", ["dl", 1])):
        assert client.get(reverse(f"sampling:{name}", args=args)).status_code == 404
    assert client.get(reverse("sampling:draw", args=["dl", 9])).status_code == 404


def test_empty_states(client, setup):
    page = client.get(reverse("sampling:draws", args=["dl"])).content.decode()
    assert "No draws yet" in page and "Design the first draw" in page


def test_every_field_of_the_design_table_is_named(client, setup):
    """The per-stratum fields sit under the table's column heads: each carries its own name."""
    study, owner, server, browser = setup
    page = client.get(reverse("sampling:draw_new", args=["dl"])).content.decode()
    for field, name in (("order", "Order"), ("mode", "Size"), ("n", "n (by hand)"), ("reason", "Reason for n")):
        for qs, shown in ((browser, "Browser &lt;b&gt;"), (server, "Server")):
            assert re.search(f'name="s{qs.pk}_{field}"[^>]* aria-label="{re.escape(name)} of “{shown}”"', page)
    assert f'<label for="id_s{server.pk}_use">Server</label>' in page
