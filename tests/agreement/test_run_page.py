"""The run page's matrix, headline and scale, and the run's downloads (CSV and JSON, page and
API): the matrix against an independent count from the labels, the downloads against the
run, and the downloads behind exactly the page's visibility."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from taxonomy.review.agreement.figures import (
    KRIPPENDORFF,
    LANDIS_KOCH,
    confusion_matrix,
    headline,
    heat_bucket,
)
from taxonomy.review.agreement.models import AgreementRun
from taxonomy.review.agreement.selectors import Coefficient
from annotator.csv_output import csv_text_restore
from sampling.draws.models import Assignment, SampleDraw
from taxonomy.labelling.models import Label, LabelKind
from tests.factories import MembershipFactory, UserFactory, labelling_draw

from .conftest import ALICE, BOB, label_items
from .test_run_views import api, computed, sign_in

pytestmark = pytest.mark.django_db

# multi-label answers, verdicts and one item alice left unlabelled
ALICE_MIXED = ["Export", ("Export", "Serving"), "Quantization", "unclear", "false_positive", None]
BOB_MIXED = ["Export", ("Export", "Serving"), "Serving", "unclear", "Export", "Export"]
CELL = re.compile(r'<td class="heat-(\d)( agree)?" data-row="([^"]*)" data-column="([^"]*)">(\d+)</td>')


def answers_from_labels(draw: SampleDraw) -> dict[str, dict[int, frozenset]]:
    """rater → item → the set of keys of their submitted label, read straight from the tables."""
    out: dict[str, dict[int, frozenset]] = {}
    for label in (Label.objects.filter(assignment__draw=draw, assignment__item__part="reliability",
                                       submitted_at__isnull=False)
                  .select_related("assignment__rater").prefetch_related("categories")):
        if label.kind == LabelKind.CATEGORIES:
            keys = frozenset(str(c.category_id) for c in label.categories.all())
        else:
            keys = frozenset({label.kind})
        if keys:
            out.setdefault(label.assignment.rater.username, {})[label.assignment.item_id] = keys
    return out


def page_cells(text: str) -> dict[tuple[frozenset, frozenset], tuple[int, int, bool]]:
    return {(frozenset(row.split(",")), frozenset(column.split(","))): (int(count), int(heat), bool(agree))
            for heat, agree, row, column, count in CELL.findall(text)}


def test_the_matrix_counts_what_the_labels_say(client, world, queued):
    label_items(world, {world.alice: ALICE_MIXED, world.bob: BOB_MIXED})
    run = computed(world)
    sign_in(client, world.owner)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    cells = page_cells(text)
    answers = answers_from_labels(world.draw)
    alice, bob = answers["alice"], answers["bob"]
    expected = Counter((alice[item], bob[item]) for item in alice.keys() & bob.keys())
    used = {s for pair in expected for s in pair}
    assert {key for key, (count, _, _) in cells.items() if count} == set(expected)
    assert {key: count for key, (count, _, _) in cells.items() if count} == dict(expected)
    assert len(cells) == len(used) ** 2  # a square over the sets either used; the rest are 0
    assert all(agree == (row == column) for (row, column), (_, _, agree) in cells.items())
    largest = max(expected.values())
    assert all(heat == heat_bucket(count, largest) for count, heat, _ in cells.values())
    assert f"{sum(expected.values())} items both rated" in text
    # accessible: a caption, header scopes, a focusable named region for a wide one
    assert '<caption id="matrix-caption">alice (rows) × bob (columns)' in text
    assert 'class="matrix-scroll" tabindex="0" role="region" aria-labelledby="matrix-caption"' in text
    assert text.count('<th scope="col" class="column-head"') == len(used)
    assert "Server › Export + Server › Serving" in text
    assert 'style="' not in text  # CSP: colours are classes


def test_three_raters_choose_a_pair_and_htmx_swaps_the_partial(client, world, queued):
    carol = UserFactory(username="carol")
    MembershipFactory(study=world.study, user=carol, is_rater=True)
    draw = labelling_draw(study=world.study, raters=[world.alice, world.bob, carol], pilot=0, reliability=4,
                          per_item=3, first_so_id=950_000)
    label_items(world, {world.alice: ["Export"] * 4, world.bob: ["Export", "Serving", "Export", "Serving"],
                        carol: ["Serving", "Serving", "Export", "unclear"]}, draw=draw)
    run = computed(world, draw=draw)
    sign_in(client, world.owner)
    url = reverse("agreement:run", args=["dl", run.pk])
    text = client.get(url).content.decode()
    assert 'id="matrix-pair"' in text and ">alice × carol</option>" in text and ">bob × carol</option>" in text
    partial = client.get(f"{url}?pair=3", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and body.lstrip().startswith('<section id="confusion-matrix"')
    assert "<html" not in body and 'data-pair="bob × carol"' in body
    answers = answers_from_labels(draw)
    expected = Counter((answers["bob"][i], answers["carol"][i]) for i in answers["bob"])
    assert {k: c for k, (c, _, _) in page_cells(body).items() if c} == dict(expected)
    # without htmx the same choice is a whole page; a pair out of range shows the first
    assert 'data-pair="bob × carol"' in client.get(f"{url}?pair=3").content.decode()
    assert 'data-pair="alice × bob"' in client.get(f"{url}?pair=99").content.decode()
    assert run.result["confusion_matrix"]["pairs"][0]["items"] == 4  # stored by the job, not the request


def test_headline_with_interval_on_the_landis_koch_scale(client, world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=200, seed=5)
    sign_in(client, world.owner)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert "Headline: Cohen&#x27;s κ (two raters)" in text or "Headline: Cohen's κ (two raters)" in text
    assert '<strong class="value" id="headline-value">0.739</strong>' in text
    low, high = run.result["confidence_intervals"]["cohen_kappa"]
    assert f"(95 % CI {low:.3f} – {high:.3f})" in text
    assert '<span class="reading" id="headline-reading">substantial</span> on the scale of Landis &amp; Koch (1977)' in text
    assert "Biometrics, 33(1), 159–174" in text
    assert text.count("holds-value") == 1 and 'band-substantial holds-value' in text
    assert "Krippendorff" in text and ".800" in text  # α is shown, so is its own guidance
    assert 'style="' not in text


def test_headline_and_scales_pure():
    def coefficient(name, value, low=None, high=None):
        return Coefficient(name=name, title=name, share=False, value=value, low=low, high=high, items=10, excluded=0,
                           reason="", note="", undefined_resamples=0)

    assert [LANDIS_KOCH.band(v).key for v in (-0.1, 0, 0.2, 0.2001, 0.4, 0.55, 0.61, 0.8, 0.81, 1)] == [
        "poor", "slight", "slight", "fair", "fair", "moderate", "substantial", "substantial", "almost-perfect",
        "almost-perfect"]
    assert [KRIPPENDORFF.band(v).key for v in (0.5, 0.667, 0.7999, 0.8)] == ["unreliable", "tentative", "tentative",
                                                                           "reliable"]
    two = headline(coefficients=[coefficient("cohen_kappa", 0.5, 0.35, 0.65), coefficient("fleiss_kappa", 0.4)],
                   raters=2)
    assert two.coefficient.name == "cohen_kappa" and two.band.key == "moderate"
    assert [b.key for b in two.interval_bands] == ["fair", "moderate", "substantial"]
    assert two.interval_text == "the interval spans fair to substantial"
    assert (two.x, two.low_x, two.high_x) == (583, 458, 708)  # (v + 0.2) / 1.2 of 1000
    three = headline(coefficients=[coefficient("cohen_kappa", None), coefficient("fleiss_kappa", None),
                                   coefficient("krippendorff_alpha", 0.7)], raters=3)
    assert three.scale is KRIPPENDORFF and three.band.key == "tentative" and three.interval_text.startswith("no")
    assert headline(coefficients=[coefficient("percent_agreement", 0.9)], raters=2) is None
    assert LANDIS_KOCH.x(-0.9) == 0 and LANDIS_KOCH.x(1.0) == 1000
    assert [heat_bucket(c, 9) for c in (0, 1, 5, 9)] == [0, 1, 5, 9] and heat_bucket(1, 1000) == 1
    assert confusion_matrix(stored={}) is None


def test_long_reasons_are_footnotes_not_one_line_each(client, world, queued):
    label_items(world, {world.alice: ["Export"] * 5 + ["Quantization"], world.bob: ["Export"] * 6})
    run = computed(world, resamples=0)
    sign_in(client, world.owner)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    reasons = {r for row in run.result["per_category"] for r in row["reasons"].values()}
    assert reasons
    for number, reason in enumerate(dict.fromkeys(
            r for row in run.result["per_category"] for r in row["reasons"].values()), start=1):
        assert f'<li id="reason-{number}">{reason}</li>' in text.replace("&#x27;", "'")
        assert f'href="#reason-{number}"' in text


# -- the downloads --------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_the_downloads_are_the_run(client, world, queued):
    label_items(world, {world.alice: ALICE_MIXED, world.bob: BOB_MIXED})
    run = computed(world, resamples=100, seed=9)
    sign_in(client, world.owner)
    page = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert f'href="/studies/dl/agreement/{run.pk}/run.csv"' in page and f'/agreement/{run.pk}/run.json"' in page

    download = client.get(reverse("agreement:run_json", args=["dl", run.pk]))
    assert download["Content-Type"] == "application/json"
    assert download["Content-Disposition"] == f'attachment; filename="dl-agreement-run-{run.pk}.json"'
    document = json.loads(download.content)
    assert document == api(world.owner).get(f"/api/studies/dl/agreement/{run.pk}/").json()
    assert document["result"] == json.loads(json.dumps(AgreementRun.objects.get(pk=run.pk).result))

    response = client.get(reverse("agreement:run_csv", args=["dl", run.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="dl-agreement-run-{run.pk}.csv"'
    rows = read_csv(response)
    api_rows = read_csv(api(world.owner).get(f"/api/studies/dl/agreement/{run.pk}/run.csv"))
    assert rows == api_rows
    run_rows = {r["name"]: r["value"] for r in rows if r["section"] == "run"}
    assert run_rows["seed"] == "9" and run_rows["items"] == str(run.items) and run_rows["raters"] == "2"
    coefficients = {r["name"]: r for r in rows if r["section"] == "coefficient"}
    for name, estimate in run.result["estimates"].items():
        row = coefficients[name]
        if estimate["value"] is None:
            assert row["value"] == "" and row["note"] == estimate["reason"]
        else:
            assert float(row["value"]) == pytest.approx(estimate["value"])
            assert float(row["low"]) == pytest.approx(estimate["interval"]["low"])
            assert float(row["high"]) == pytest.approx(estimate["interval"]["high"])
    stored = run.result["confusion_matrix"]
    names = [s["name"] for s in stored["sets"]]
    expected = Counter({(names[r], names[c]): n for r, c, n in stored["pairs"][0]["cells"]})
    assert Counter({(r["row"], r["column"]): int(r["value"]) for r in rows if r["section"] == "confusion"}) == expected
    assert sum(expected.values()) == stored["pairs"][0]["items"]
    categories = [r for r in rows if r["section"] == "category" and r["column"] == "items"]
    assert [r["row"] for r in categories] == [row["key"] for row in run.result["per_category"]]
    # ?excel=1: the same rows behind a byte order mark
    excel = client.get(reverse("agreement:run_csv", args=["dl", run.pk]) + "?excel=1")
    assert b"".join(excel.streaming_content).startswith("\ufeff".encode())


def test_csv_cells_are_neutralised(client, world, queued):
    root = world.categories["Export"].parent
    root.name = '=HYPERLINK("http://x","y")'
    root.save()
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=0)
    sign_in(client, world.owner)
    content = b"".join(client.get(reverse("agreement:run_csv", args=["dl", run.pk])).streaming_content).decode()
    cells = [cell for row in csv.reader(io.StringIO(content)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    hostile = [cell for cell in cells if "HYPERLINK" in cell]
    assert hostile and all(cell.startswith("'=HYPERLINK") for cell in hostile)
    assert 'HYPERLINK("http://x","y") › Export' in csv_text_restore(hostile[0])
    assert csv_text_restore(hostile[0]).startswith("=HYPERLINK")


@pytest.mark.parametrize("who, page", [("owner", 200), ("arbitrator", 200), ("viewer", 404), ("alice", 404),
                                       ("rater_owner", 404), ("stranger", 404)])
def test_downloads_are_refused_exactly_like_the_page(client, world, queued, who, page):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=0)
    if who == "rater_owner":  # an owner who rates in the running round: the run does not exist for them
        user = UserFactory(username="rater_owner")
        MembershipFactory(study=world.study, user=user, is_rater=True, is_owner=True)
        Assignment.objects.create(draw=world.draw, item=world.items()[0], rater=user)
    elif who == "stranger":
        user = UserFactory(username="stranger")
    else:
        user = getattr(world, who)
    sign_in(client, user)
    urls = [reverse(name, args=["dl", run.pk]) for name in ("agreement:run", "agreement:run_csv", "agreement:run_json")]
    assert [client.get(url).status_code for url in urls] == [page] * 3
    assert api(user).get(f"/api/studies/dl/agreement/{run.pk}/run.csv").status_code == page
    # once arbitration starts on the draw, the viewer and the rating owner see it, page and files alike
    SampleDraw.objects.filter(pk=world.draw.pk).update(arbitration_started_at=timezone.now())
    after = [client.get(url).status_code for url in urls]
    assert len(set(after)) == 1
    assert after[0] == api(user).get(f"/api/studies/dl/agreement/{run.pk}/run.csv").status_code


def test_a_matrix_of_many_label_sets_adds_up_the_smallest():
    sets = [{"keys": [str(i)], "name": f"set {i}", "special": False} for i in range(6)]
    cells = [[0, 0, 9], [1, 1, 5], [2, 3, 1], [4, 5, 1], [5, 4, 2], [0, 1, 3]]
    stored = {"sets": sets, "pairs": [{"a": "a", "b": "b", "items": 21, "agreed": 14, "cells": cells}]}
    full = confusion_matrix(stored=stored, shown=30)
    assert full.folded == 0 and len(full.rows) == 6
    assert sum(row.total for row in full.rows) == sum(full.column_totals) == 21
    small = confusion_matrix(stored=stored, shown=3)
    assert small.folded == 4 and [row.set["name"] for row in small.rows] == ["set 0", "set 1", "4 other label sets"]
    grid = [[cell.count for cell in row.cells] for row in small.rows]
    assert grid == [[9, 3, 0], [0, 5, 0], [0, 0, 4]]  # 2→3, 4→5 and 5→4 are all "other" × "other"
    assert not small.rows[2].cells[2].agree  # sets added up are no agreement
    assert sum(row.total for row in small.rows) == 21 and small.column_totals == (9, 8, 4)


def test_the_study_home_leads_with_the_same_headline(client, world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=100, seed=5)
    low, high = run.result["confidence_intervals"]["cohen_kappa"]
    sign_in(client, world.owner)
    text = client.get(reverse("studies:detail", args=["dl"])).content.decode().replace("&#x27;", "'")
    assert f"Cohen's κ (two raters): 0.74 [{low:.2f}, {high:.2f}], substantial (Landis &amp; Koch (1977))" in text


def test_a_run_stored_before_the_matrices_says_so(client, world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=0)
    result = dict(run.result)
    del result["confusion_matrix"]
    AgreementRun.objects.filter(pk=run.pk).update(result=result)
    sign_in(client, world.owner)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert "This run stored no matrix" in text and 'class="matrix"' not in text
    rows = read_csv(client.get(reverse("agreement:run_csv", args=["dl", run.pk])))
    assert rows and not [r for r in rows if r["section"] == "confusion"]
