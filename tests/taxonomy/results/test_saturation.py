"""The saturation curve: distinct leaf categories of the final labels in coding order
(each draw's pilot first, by first code; then its reliability items, by first label)."""

import csv
import io
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.csv_output import csv_text_restore
from sampling.draws.models import Assignment
from sampling.draws.sight import sight_whole
from taxonomy.coding.models import CodeUse
from taxonomy.coding.services import code_use_add
from taxonomy.labelling.models import Label
from taxonomy.labelling.services import label_submit
from taxonomy.results.saturation import (
    SATURATION_COLUMNS,
    CodedItem,
    saturation_csv_write,
    saturation_curve,
    saturation_figure,
    saturation_points,
)
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

from .test_figure import PDF_MAGIC, PNG_MAGIC, svg_texts

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


# -- pure ---------------------------------------------------------------------------------------


def coded(item_id, minutes, categories=(), *, part="reliability", draw=1, kind="categories"):
    return CodedItem(item_id=item_id, draw_version=draw, part=part, coded_at=at(minutes), kind=kind,
                     category_ids=frozenset(categories))


def test_points_follow_draw_then_pilot_then_time_then_id_and_count_only_known_categories():
    items = [
        coded(1, 50, [10], draw=2, part="pilot"),  # a later draw comes after every item of draw 1
        coded(2, 40, [11]),  # reliability of draw 1: after its pilot, even if coded earlier
        coded(3, 40, [12, 11]),  # the same time as item 2: by id
        coded(4, 90, [10, 99], part="pilot"),  # 99 is not in the tree: never counted
        coded(5, 95, [], part="pilot", kind="false_positive"),
    ]
    points = saturation_points(items, counted={10, 11, 12}, tree_order={12: 0, 11: 1, 10: 2})
    assert [p.item.item_id for p in points] == [4, 5, 2, 3, 1]
    assert [p.index for p in points] == [1, 2, 3, 4, 5]
    assert [p.new_categories for p in points] == [(10,), (), (11,), (12,), ()]
    assert [p.distinct for p in points] == [1, 1, 2, 3, 3]


# -- a study coded through the services --------------------------------------------------------


@pytest.fixture
def study(db):
    """Draw v1: three pilot items coded jointly and decided, four reliability items labelled by
    two raters (their first labels at chosen times) and settled when arbitration started.

    Coding order and what each item brings:
      1. pilot p2 (no code; decided at +5)   False positive     0
      2. pilot p1 (first code at +10)        Export             1 new
      3. pilot p0 (first code at +30)        Export, =Quant     2 new
      4. reliability r1 (first label at +1)  Export             2
      5. reliability r2 (first label at +1)  Size               3 new   (a tie with r1: by id)
      6. reliability r0 (first label at +100) Serving           4 new   ← the last new category
      7. reliability r3 (first label at +300) Export            4
    """
    study = StudyFactory(slug="sat", name="Saturation study")
    owner, ana, bo = UserFactory(username="olga"), UserFactory(username="ana"), UserFactory(username="bo")
    MembershipFactory(study=study, user=owner, is_owner=True, is_arbitrator=True)
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    server = category_add(study=study, name="Server", actor=owner)
    export = category_add(study=study, name="Export", parent=server, actor=owner)
    serving = category_add(study=study, name="Serving", parent=server, actor=owner)
    mobile = category_add(study=study, name="=Mobile", actor=owner)  # a formula-like name
    quant = category_add(study=study, name="Quant", parent=mobile, actor=owner)
    size = category_add(study=study, name="Size", parent=mobile, actor=owner)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=3, reliability=4, per_item=2)
    pilot = list(draw.items.filter(part="pilot").order_by("pk"))
    reliability = list(draw.items.filter(part="reliability").order_by("pk"))
    for item, minutes in ((pilot[0], 30), (pilot[0], 45), (pilot[1], 10)):
        use = code_use_add(item=item, author=ana, text=f"code {minutes}")
        CodeUse.objects.filter(pk=use.pk).update(created_at=at(minutes))

    def decide(item, minutes, kind="categories", categories=()):
        # The method does not matter to the curve (a pilot decision is recorded like an arbitrated one).
        final = FinalLabel.objects.create(item=item, kind=kind, method="arbitrated", decided_by=owner,
                                          decided_at=at(minutes), reason="the team's decision")
        FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category=c) for c in categories)

    decide(pilot[0], 400, categories=[export, quant])
    decide(pilot[1], 400, categories=[export])
    decide(pilot[2], 5, kind="false_positive")
    answers = [([serving.pk], 100, 200), ([export.pk], 1, 2), ([size.pk], 1, 1), ([export.pk], 300, 301)]
    for item, (categories, first, second) in zip(reliability, answers, strict=True):
        for rater, minutes in ((ana, first), (bo, second)):
            label = label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater,
                                 kind="categories", category_ids=categories)
            Label.objects.filter(pk=label.pk).update(submitted_at=at(minutes))
    arbitration_start(draw=draw, user=owner)
    return locals()


def test_the_curve_of_a_constructed_study(study):
    curve = saturation_curve(study=study["study"], user=study["ana"])
    s = study
    expected_items = [s["pilot"][2], s["pilot"][1], s["pilot"][0], s["reliability"][1], s["reliability"][2],
                      s["reliability"][0], s["reliability"][3]]
    assert [p.item.item_id for p in curve.points] == [i.pk for i in expected_items]
    assert [p.distinct for p in curve.points] == [0, 1, 2, 2, 3, 4, 4]
    assert [p.new_categories for p in curve.points] == [
        (), (s["export"].pk,), (s["quant"].pk,), (), (s["size"].pk,), (s["serving"].pk,), ()]
    assert [p.item.coded_at for p in curve.points] == [at(5), at(10), at(30), at(1), at(1), at(100), at(300)]
    assert (curve.items, curve.distinct, curve.last_new_index, curve.since_last_new) == (7, 4, 6, 1)
    assert (curve.pilot_items, curve.undecided) == (3, 0)
    assert curve.paths[s["quant"].pk] == "=Mobile > Quant"
    assert curve.steps() == ([0, 2, 3, 5, 6, 7], [0, 1, 2, 3, 4, 4])
    assert curve.summary() == ("4 distinct leaf categories in 7 coded items; the last new one appeared at item 6; "
                               "the 1 item coded since named no new one.")
    # the final labels' categories are exactly the leaves the taxonomy counts
    assert {c for p in curve.points for c in p.new_categories} == {
        s["export"].pk, s["quant"].pk, s["size"].pk, s["serving"].pk}


def test_a_sealed_draw_adds_nothing_for_whoever_rates_on_it(study):
    """A second draw whose round still runs: its pilot decisions are everyone's, and a
    reliability final label on it (there is none in practice before arbitration) is seen
    only by those who see its raters' work."""
    s = study
    sealed = labelling_draw(study=s["study"], raters=[s["ana"]], pilot=1, reliability=1, per_item=1,
                            first_so_id=800_000)
    later = category_add(study=s["study"], name="Later", parent=s["server"], actor=s["owner"])
    for item in sealed.items.all():
        final = FinalLabel.objects.create(item=item, kind="categories", method="arbitrated", decided_by=s["owner"],
                                          decided_at=at(500), reason="x")
        FinalLabelCategory.objects.create(final=final, category=later)
    whole = saturation_curve(study=s["study"], sight=sight_whole(study=s["study"]))
    rater = saturation_curve(study=s["study"], user=s["ana"])
    other_rater = saturation_curve(study=s["study"], user=s["bo"])  # a rater sees no other rater's work on v2
    owner = saturation_curve(study=s["study"], user=s["owner"])  # rates on no sealed draw: sees it all
    assert (whole.items, whole.distinct, whole.last_new_index) == (9, 5, 8)  # v2's pilot item brings "Later"
    assert [p.item.draw_version for p in whole.points][-2:] == [2, 2]
    assert (rater.items, rater.distinct, rater.undecided) == (8, 5, 1)  # v2's reliability item is hidden
    assert (other_rater.items, owner.items) == (8, 9)
    one = saturation_curve(study=s["study"], user=s["ana"], draw_version=1)
    assert (one.items, one.distinct, one.last_new_index) == (7, 4, 6)


def test_undecided_items_stay_out_of_the_curve(study):
    s = study
    FinalLabel.objects.filter(item=s["reliability"][0]).delete()
    curve = saturation_curve(study=s["study"], user=s["owner"])
    assert (curve.items, curve.undecided, curve.distinct, curve.last_new_index) == (6, 1, 3, 5)


def test_the_csv_page_and_api_give_one_row_per_item_in_coding_order(client, study):
    s = study
    client.force_login(s["bo"])
    page = client.get(reverse("results:saturation_csv", args=["sat"]))
    assert page["Content-Disposition"] == 'attachment; filename="sat-saturation.csv"'
    body = b"".join(page.streaming_content)
    api = APIClient()
    api.force_authenticate(s["bo"])
    assert b"".join(api.get("/api/studies/sat/results/saturation.csv").streaming_content) == body
    out = io.BytesIO()
    saturation_csv_write(study=s["study"], user=s["bo"], out=out)
    assert out.getvalue() == body and not out.closed
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == SATURATION_COLUMNS and len(rows) == 8
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["distinct_leaves"] for r in table] == ["0", "1", "2", "2", "3", "4", "4"]
    assert [r["part"] for r in table] == ["pilot"] * 3 + ["reliability"] * 4
    third = table[2]
    assert third["new_leaves"] == "1" and third["new_leaf_paths"] == "'=Mobile > Quant"  # neutralised
    assert csv_text_restore(third["new_leaf_paths"]) == "=Mobile > Quant"
    assert third["coded_at"] == at(30).astimezone(UTC).isoformat()
    assert third["post_id"] == str(s["pilot"][0].post.so_id) and third["final_kind"] == "categories"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    excel = client.get(reverse("results:saturation_csv", args=["sat"]), {"excel": "1"})
    assert b"".join(excel.streaming_content) == b"\xef\xbb\xbf" + body


def test_the_api_json(study):
    api = APIClient()
    api.force_authenticate(study["ana"])
    data = api.get("/api/studies/sat/results/saturation/").json()
    assert (data["items"], data["distinct_leaves"], data["last_new_index"], data["pilot_items"]) == (7, 4, 6, 3)
    assert [p["distinct_leaves"] for p in data["points"]] == [0, 1, 2, 2, 3, 4, 4]
    assert data["points"][5]["new_leaves"] == [{"id": study["serving"].pk, "path": "Server > Serving"}]
    assert data["summary"].startswith("4 distinct leaf categories in 7 coded items")
    assert api.get("/api/studies/sat/results/saturation/", {"draw": "4"}).status_code == 400


def test_the_figure_marks_the_last_new_category_and_is_deterministic(client, study):
    curve = saturation_curve(study=study["study"], user=study["owner"])
    svg = saturation_figure(curve, fmt="svg")
    assert svg == saturation_figure(curve, fmt="svg")
    texts = svg_texts(svg)
    assert "last new category: item 6 of 7" in texts and "pilot" in texts
    assert "distinct leaf categories" in texts
    png = saturation_figure(curve, fmt="png")
    assert png.startswith(PNG_MAGIC) and png == saturation_figure(curve, fmt="png")
    assert saturation_figure(curve, fmt="pdf").startswith(PDF_MAGIC)
    client.force_login(study["ana"])
    page = client.get(reverse("results:home", args=["sat"])).content.decode()
    assert 'id="saturation-summary"' in page and "the last new one appeared at item 6" in page
    assert reverse("results:saturation_figure", args=["sat", "svg"]) in page
    response = client.get(reverse("results:saturation_figure", args=["sat", "svg"]))
    assert response["Content-Type"] == "image/svg+xml" and response.content == svg
    assert client.get(reverse("results:saturation_figure", args=["sat", "gif"])).status_code == 400
    api = APIClient()
    api.force_authenticate(study["ana"])
    assert api.get("/api/studies/sat/results/saturation.png").content == png
    assert api.get("/api/studies/sat/results/saturation.bmp").status_code == 400


def test_a_study_with_no_final_label_has_an_empty_curve_that_says_so(db):
    study = StudyFactory(slug="none")
    owner = UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    curve = saturation_curve(study=study, user=owner)
    assert (curve.items, curve.distinct, curve.last_new_index, curve.steps()) == (0, 0, None, ([0], [0]))
    assert curve.summary() == "No item has a final label yet."
    assert "No item has a final label yet: nothing to draw." in svg_texts(saturation_figure(curve, fmt="svg"))
    api = APIClient()
    api.force_authenticate(owner)
    assert api.get("/api/studies/none/results/saturation/").json()["points"] == []
    body = b"".join(api.get("/api/studies/none/results/saturation.csv").streaming_content)
    assert body.decode() == ",".join(SATURATION_COLUMNS) + "\r\n"
