"""The items CSV (taxonomy/results/items_csv.py): one row per sampled post, the raters'
labels only once arbitration has started on its draw, the final label and how it was reached."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.corpus.models import Post
from annotator.csv_output import FORMULA_STARTS, csv_text_restore
from sampling.draws.models import Assignment, SampleItem, SampleStratum
from sampling.draws.sight import sight_whole
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.results import items_csv
from taxonomy.results.items_csv import (
    FINAL_COLUMNS,
    ITEM_COLUMNS,
    items_csv_table,
    items_csv_write,
)
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from taxonomy.review.arbitration.services import arbitration_decide, arbitration_start
from taxonomy.tree.services import category_add
from tests.factories import (
    MembershipFactory,
    StudyFactory,
    UserFactory,
    assignment_mark_submitted,
    labelling_draw,
)

pytestmark = pytest.mark.django_db

SERVER = '=HYPERLINK("http://evil.example","Server, Cloud")'
EXPORT = '+Model "Export"'
QUANT = "-quant\nization"
SUM = "@SUM(A1:A9)"
MOBILE = "Mobile"
APK = "App size, \"small\""
TITLES = ["=1+1 pilot", "+agreed, \"quoted\"", "-arbitrated\r\nline two", "@pending", "\tdraw two", "plain"]
NOTE = "=note, with a comma"
REASON = "@reason\nline two"
DECIDED_AT = datetime(2024, 5, 1, 9, 30, 15, tzinfo=UTC)


def label(assignment, kind="categories", categories=(), note=""):
    now = timezone.now()
    made = Label.objects.create(assignment=assignment, kind=kind, note=note, submitted_at=now, updated_at=now)
    LabelCategory.objects.bulk_create(LabelCategory(label=made, category=c) for c in categories)
    assignment_mark_submitted(assignment, now)
    return made


def path(*names: str) -> str:
    return " > ".join(names)


class World:
    """Draw v1: a pilot item and three reliability items (agreed by three raters, arbitrated,
    one left in the Pending queue); draw v2 in its round (a rater's label, arbitration not started)."""

    def __init__(self, *, start: bool = True):
        self.study = StudyFactory(slug="items")
        self.arb = UserFactory(username="@arb")
        self.ann, self.bob, self.cy = (UserFactory(username=n) for n in ("-ann", "+bob", "cy"))
        MembershipFactory(study=self.study, user=self.arb, is_owner=True, is_arbitrator=True)
        for user in (self.ann, self.bob, self.cy):
            MembershipFactory(study=self.study, user=user, is_rater=True)
        self.viewer = UserFactory(username="vera")
        MembershipFactory(study=self.study, user=self.viewer)
        add = category_add
        server = add(study=self.study, name=SERVER, actor=self.arb)
        export = add(study=self.study, name=EXPORT, actor=self.arb, parent=server)
        self.quant = add(study=self.study, name=QUANT, actor=self.arb, parent=export)
        self.sum = add(study=self.study, name=SUM, actor=self.arb, parent=export)
        mobile = add(study=self.study, name=MOBILE, actor=self.arb)
        self.apk = add(study=self.study, name=APK, actor=self.arb, parent=mobile)

        self.v1 = labelling_draw(study=self.study, raters=[self.ann, self.bob], pilot=1, reliability=3, per_item=2)
        SampleStratum.objects.filter(draw=self.v1).update(name="=Stratum, one")
        self.v2 = labelling_draw(study=self.study, raters=[self.ann, self.bob], pilot=0, reliability=2, per_item=2,
                                 first_so_id=800_000)
        items = list(SampleItem.objects.filter(draw__in=[self.v1, self.v2]).order_by("draw__version", "post__so_id"))
        for item, title in zip(items, TITLES, strict=True):
            Post.objects.filter(pk=item.post_id).update(title=title)
        self.pilot, self.agreed, self.arbitrated, self.pending, self.blind, _ = items
        Assignment.objects.create(draw=self.v1, item=self.agreed, rater=self.cy)

        for rater in (self.ann, self.bob, self.cy):
            label(self.mine(self.agreed, rater), categories=[self.quant, self.sum])
        label(self.mine(self.arbitrated, self.ann), categories=[self.quant], note=NOTE)
        label(self.mine(self.arbitrated, self.bob), categories=[self.apk])
        label(self.mine(self.pending, self.ann), kind="pending", note="no category fits")
        label(self.mine(self.pending, self.bob), kind="false_positive")
        label(self.mine(self.blind, self.bob), categories=[self.apk], note="SECRET-V2")
        if start:
            self.start()

    def mine(self, item, rater) -> Assignment:
        return Assignment.objects.get(item=item, rater=rater)

    def start(self) -> None:
        arbitration_start(draw=self.v1, user=self.arb)
        arbitration_decide(item=self.arbitrated, arbitrator=self.arb, kind="categories", category_ids=[self.apk.pk],
                           reason=REASON)
        final = FinalLabel.objects.create(item=self.pilot, kind="categories", method="pilot", decided_by=self.arb,
                                          decided_at=DECIDED_AT, reason="")
        FinalLabelCategory.objects.create(final=final, category=self.quant)


def export(world: World, user=None, **kwargs) -> bytes:
    out = io.BytesIO()
    kwargs.setdefault("sight", sight_whole(study=world.study) if user is None else None)
    items_csv_write(study=world.study, out=out, user=user, **kwargs)
    return out.getvalue()


def records(data: bytes) -> list[dict[str, str]]:
    """The rows as dicts, each cell as it was before neutralisation."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
    return [{csv_text_restore(k): csv_text_restore(v) for k, v in row.items()} for row in reader]


def rater_columns(n: int) -> list[str]:
    return [f"rater_{i}{field}" for i in range(1, n + 1) for field in ("", "_labels", "_note")]


def test_columns_and_values_of_a_small_study():
    world = World()
    data = export(world)
    header = next(csv.reader(io.StringIO(data.decode())))
    assert header == [*ITEM_COLUMNS, *rater_columns(3), *FINAL_COLUMNS]
    rows = records(data)
    assert [(r["draw"], r["part"], r["title"]) for r in rows] == [
        ("1", "pilot", TITLES[0]), ("1", "reliability", TITLES[1]), ("1", "reliability", TITLES[2]),
        ("1", "reliability", TITLES[3]), ("2", "reliability", TITLES[4]), ("2", "reliability", TITLES[5])]
    pilot, agreed, arbitrated, pending, blind, _ = rows
    assert pilot == {
        "draw": "1", "stratum": "=Stratum, one", "part": "pilot", "site": "stackoverflow.com", "post_id": "900000",
        "link": "https://stackoverflow.com/questions/900000", "title": TITLES[0],
        **dict.fromkeys(rater_columns(3), ""),
        "final_kind": "categories", "final_labels": path(SERVER, EXPORT, QUANT), "method": "pilot",
        "decided_by": "@arb", "decided_at": "2024-05-01T09:30:15+00:00", "reason": ""}
    both = " | ".join(sorted([path(SERVER, EXPORT, QUANT), path(SERVER, EXPORT, SUM)]))
    assert [agreed[c] for c in rater_columns(3)] == ["+bob", both, "", "-ann", both, "", "cy", both, ""]
    assert (agreed["final_kind"], agreed["final_labels"], agreed["method"], agreed["decided_by"]) == (
        "categories", both, "agreed", "")
    assert datetime.fromisoformat(agreed["decided_at"]).utcoffset().total_seconds() == 0
    assert [arbitrated[c] for c in rater_columns(3)] == [
        "+bob", path(MOBILE, APK), "", "-ann", path(SERVER, EXPORT, QUANT), NOTE, "", "", ""]
    assert (arbitrated["final_labels"], arbitrated["method"], arbitrated["decided_by"], arbitrated["reason"]) == (
        path(MOBILE, APK), "arbitrated", "@arb", REASON)
    assert [pending[c] for c in rater_columns(2)] == ["+bob", "False positive", "", "-ann", "Pending",
                                                      "no category fits"]
    assert all(pending[c] == "" for c in FINAL_COLUMNS)  # not decided yet: counted, with empty final columns
    assert all(blind[c] == "" for c in rater_columns(3) + list(FINAL_COLUMNS))


def test_raters_labels_stay_out_before_arbitration_starts_whoever_asks():
    world = World(start=False)
    for user in (None, world.arb, world.ann, world.viewer):
        data = export(world, user)
        header = next(csv.reader(io.StringIO(data.decode())))
        assert header == [*ITEM_COLUMNS, *FINAL_COLUMNS]  # no rater columns at all
        text = data.decode()
        for secret in ("+bob", "cy", "no category fits", "SECRET-V2", "False positive", QUANT.split("\n")[0]):
            assert secret not in text, (user, secret)
        assert len(records(data)) == 6


def test_after_the_start_only_that_draws_labels_show_and_as_the_blindness_rule_allows():
    world = World()
    whole = export(world)
    for user in (world.arb, world.viewer, world.ann, world.bob):
        assert export(world, user) == whole, user  # v1's labels are everyone's; v2's nobody's
    assert "SECRET-V2" not in whole.decode()
    outsider = UserFactory(username="outsider")
    rows = records(export(world, outsider))
    assert len(rows) == 6 and all(r["final_kind"] == "" for r in rows)
    assert "+bob" not in export(world, outsider).decode()


def test_scope_one_draw_one_stratum_and_bad_scopes():
    world = World()
    only_v1 = records(export(world, draw=1))
    assert [r["title"] for r in only_v1] == TITLES[:4]
    assert records(export(world, draw=world.v2)) == records(export(world, draw=2))
    assert [r["title"] for r in records(export(world, draw=2))] == TITLES[4:]
    assert [r["title"] for r in records(export(world, stratum="=Stratum, one"))] == TITLES[:4]
    v2_only = export(world, draw=2)
    assert next(csv.reader(io.StringIO(v2_only.decode()))) == [*ITEM_COLUMNS, *FINAL_COLUMNS]
    with pytest.raises(ValidationError, match="no drawn version v9"):
        export(world, draw=9)
    with pytest.raises(ValidationError, match="No stratum"):
        export(world, stratum="nope")


def test_hostile_names_parse_with_csv_and_pandas_with_no_formula_leading_cell():
    world = World()
    for excel in (False, True):
        data = export(world, excel=excel)
        assert data.startswith(b"\xef\xbb\xbf") is excel
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True))
        assert [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)] == []
        assert len({len(row) for row in rows}) == 1
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        assert frame.shape == (6, len(rows[0]))
        assert [csv_text_restore(t) for t in frame["title"]] == TITLES
        assert not frame.map(lambda cell: cell.startswith(FORMULA_STARTS)).any().any()
        assert csv_text_restore(frame["final_labels"][2]) == path(MOBILE, APK)


def test_an_empty_study_gives_a_valid_file_with_the_header_only():
    study = StudyFactory()
    out = io.StringIO(newline="")
    assert items_csv_write(study=study, out=out, user=None, sight=sight_whole(study=study)) == 0
    assert out.getvalue() == ",".join([*ITEM_COLUMNS, *FINAL_COLUMNS]) + "\r\n"


def test_progress_is_told_chunk_by_chunk_and_chunks_change_nothing(monkeypatch):
    world = World()
    whole = export(world)
    monkeypatch.setattr(items_csv, "CHUNK", 4)
    calls = []
    assert export(world, progress=lambda done, total: calls.append((done, total))) == whole
    assert calls == [(4, 6), (6, 6)]
    monkeypatch.setattr(items_csv, "CHUNK", 1)  # every label and final label read on its own
    assert export(world) == whole


def _study_of(size: int):
    """A study with ``size`` reliability items, two raters each, arbitration started."""
    study = StudyFactory()
    owner, ann, bob = UserFactory(), UserFactory(), UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True, is_arbitrator=True)
    leaf = category_add(study=study, name="Leaf", actor=owner, parent=category_add(study=study, name="Root",
                                                                                      actor=owner))
    draw = labelling_draw(study=study, raters=[ann, bob], pilot=2, reliability=size, per_item=2)
    for assignment in Assignment.objects.filter(draw=draw):
        label(assignment, categories=[leaf], note="n")
    arbitration_start(draw=draw, user=owner)
    return study, owner


def test_the_number_of_queries_does_not_grow_with_the_items():
    counts = []
    for size in (3, 40):
        study, owner = _study_of(size)
        with CaptureQueriesContext(connection) as queries:
            out = io.BytesIO()
            assert items_csv_write(study=study, out=out, user=owner) == size + 2
        counts.append(len(queries))
        assert records(out.getvalue())[-1]["final_labels"] == "Root > Leaf"
    assert counts[0] == counts[1], counts


def test_the_table_is_lazy_and_knows_its_size():
    world = World()
    with CaptureQueriesContext(connection) as queries:
        table = items_csv_table(study=world.study, user=None, sight=sight_whole(study=world.study))
    before = len(queries)
    assert table.total == 6 and before > 0
    with CaptureQueriesContext(connection) as queries:
        rows = list(table.rows)
    assert len(rows) == 6 and len(queries) >= 1


def test_a_proposal_the_reader_may_not_see_is_not_named():
    world = World()
    mobile = world.apk.parent
    secret = category_add(study=world.study, name="Secret idea", actor=world.bob, parent=mobile, proposed=True)
    LabelCategory.objects.create(label=world.mine(world.arbitrated, world.bob).label, category=secret)
    seen = {r["title"]: r["rater_1_labels"] for r in records(export(world, world.arb))}
    assert seen[TITLES[2]] == " | ".join([path(MOBILE, APK), path(MOBILE, "Secret idea")])
    hidden = {r["title"]: r["rater_1_labels"] for r in records(export(world, world.viewer))}
    assert hidden[TITLES[2]] == " | ".join(sorted([path(MOBILE, APK), items_csv.HIDDEN_CATEGORY]))
    assert "Secret idea" not in export(world, world.viewer).decode()
