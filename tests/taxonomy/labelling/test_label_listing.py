"""The labels listing read a page at a time (``VisibleLabels``): counted from the raters'
tallies and read a draw at a time, it must list exactly the labels the blind rule shows
(``label_list_visible``), in the documented order, for every kind of member and every page."""

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIClient

from annotator.studies.models import Membership
from taxonomy.labelling.apis import LabelListApi
from taxonomy.labelling.models import Label
from taxonomy.labelling.selectors import label_list_for_api
from taxonomy.labelling.services import label_submit
from taxonomy.labelling.visibility import VisibleLabels, label_list_visible
from taxonomy.review.arbitration.services import arbitration_start
from tests.factories import MembershipFactory, UserFactory, labelling_draw

pytestmark = pytest.mark.django_db


def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def ids(rows: list[dict]) -> list[int]:
    return [row["id"] for row in rows]


def _expected(study, user) -> list[int]:
    """The rule's labels in the listing's order, sorted whole (what the listing did before)."""
    return list(label_list_visible(study=study, user=user)
                .order_by("assignment__draw__version", "assignment__item_id", "assignment__rater__username")
                .values_list("pk", flat=True))


@pytest.fixture
def two_draws(rnd):
    """Draw 1 in arbitration (seen whole by every member), draw 2 sealed: ana, bo and cy rate on
    both (cy is also an arbitrator), dee arbitrates without rating; labels by several raters on
    interleaved items, some items left unlabelled."""
    cy, dee = UserFactory(username="cy"), UserFactory(username="dee")
    MembershipFactory(study=rnd.study, user=cy, is_rater=True, is_arbitrator=True)
    MembershipFactory(study=rnd.study, user=dee, is_arbitrator=True)
    raters = [rnd.ana, rnd.bo, cy]
    # rnd's own draw (version 1) has only ana and bo: label all of it, then start arbitration
    for assignment in rnd.draw.assignments.select_related("rater", "draw").order_by("pk"):
        label_submit(assignment=assignment, rater=assignment.rater, kind="unclear", note="")
    arbitration_start(draw=rnd.draw, user=rnd.owner)
    later = labelling_draw(study=rnd.study, raters=raters, pilot=1, reliability=9, per_item=2, first_so_id=950_000)
    for n, assignment in enumerate(later.assignments.select_related("rater", "draw").order_by("-item_id", "pk")):
        if n % 4 != 3:  # some left open
            label_submit(assignment=assignment, rater=assignment.rater, kind="pending", note=f"n{n}")
    return rnd, cy, dee


def test_the_listing_is_the_rules_labels_in_order_for_every_member_and_every_slice(two_draws):
    rnd, cy, dee = two_draws
    viewer, stranger = UserFactory(username="viewer"), UserFactory(username="stranger")
    MembershipFactory(study=rnd.study, user=viewer)
    seen = {}
    for user in (rnd.owner, rnd.ana, rnd.bo, cy, dee, viewer, stranger, AnonymousUser()):
        expected = _expected(rnd.study, user)
        membership = Membership.objects.filter(study=rnd.study, user_id=user.pk).first()
        if membership is not None:  # a stranger or anonymous user has no listing (the API: 404)
            _holds(label_list_for_api(study=rnd.study, membership=membership), expected, user)
        seen[user.username or "anonymous"] = len(expected)
    total = Label.objects.filter(assignment__draw__study=rnd.study).count()
    # the cases differ: the owner and dee see everything, a rater draw 1 whole and their own on draw 2
    assert seen["owner"] == seen["dee"] == total
    assert 6 < seen["ana"] < total and 6 < seen["cy"] < total and seen["bo"] < total
    assert seen["viewer"] == 6 and seen["stranger"] == seen["anonymous"] == 0


def _holds(listed: VisibleLabels, expected: list[int], user) -> None:
    assert len(listed) == len(expected), user
    assert ids(listed[:]) == expected, user
    for start in range(len(expected) + 2):
        for stop in range(start, len(expected) + 2):
            assert ids(listed[start:stop]) == expected[start:stop], (user, start, stop)
    for i in range(len(expected)):
        assert listed[i]["id"] == expected[i] and listed[-i - 1]["id"] == expected[-i - 1]
    with pytest.raises(IndexError):
        listed[len(expected)]


def test_the_api_pages_through_every_visible_label_once(two_draws, monkeypatch):
    rnd, cy, _dee = two_draws
    monkeypatch.setattr(LabelListApi.pagination_class, "page_size", 4)
    for user in (rnd.owner, rnd.ana, cy):
        api, url, listed = client(user), "/api/studies/dl/labelling/labels/", []
        while url:
            body = api.get(url).json()
            assert body["count"] == len(_expected(rnd.study, user))
            listed += [(row["draw"], row["item"], row["rater"]) for row in body["results"]]
            url = body["next"]
        expected = [(label.assignment.draw.version, label.assignment.item_id, label.assignment.rater.username)
                    for label in Label.objects.filter(pk__in=_expected(rnd.study, user))
                    .select_related("assignment__draw", "assignment__rater")]
        assert listed == sorted(expected) and len(set(listed)) == len(listed)
