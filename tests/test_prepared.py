"""annotator.prepared: a queryset compiled once gives what the ORM gives, call after call."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotator.prepared import Prepared, columns, instance
from annotator.studies.models import Membership, Study
from taxonomy.tree.models import Category
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

MEMBERSHIP_WITH_STUDY = Prepared(
    lambda *, slug, user_id: Membership.objects.filter(study__slug=slug, user_id=user_id).order_by("pk")
    .values(*columns(Membership), *columns(Study, "study__")),
    slug=str, user_id=int)


def _orm(slug, user_id):
    return list(Membership.objects.filter(study__slug=slug, user_id=user_id).order_by("pk")
                .values(*columns(Membership), *columns(Study, "study__")))


def test_rows_equal_the_orms_for_every_call_values_converted_as_django_converts_them():
    a, b = StudyFactory(slug="alpha", description="x"), StudyFactory(slug="beta")
    one, two = UserFactory(), UserFactory()
    MembershipFactory(study=a, user=one, is_owner=True)
    MembershipFactory(study=b, user=one, is_rater=True)
    MembershipFactory(study=b, user=two, is_arbitrator=True)
    calls = [("alpha", one.pk), ("beta", one.pk), ("beta", two.pk), ("alpha", two.pk), ("gamma", one.pk),
             ("alpha", one.pk)]
    for slug, user_id in calls:
        rows = MEMBERSHIP_WITH_STUDY.rows(slug=slug, user_id=user_id)
        assert rows == _orm(slug, user_id)
    row = MEMBERSHIP_WITH_STUDY.rows(slug="beta", user_id=one.pk)[0]
    # Booleans and aware datetimes, on SQLite too (Django's converters, not the driver's values).
    assert row["is_rater"] is True and row["is_owner"] is False
    assert row["added_at"].tzinfo is not None and row["study__created_at"].tzinfo is not None


def test_compiled_once_then_only_run():
    study = StudyFactory(slug="once")
    user = UserFactory()
    MembershipFactory(study=study, user=user)
    query = Prepared(lambda *, slug: Study.objects.filter(slug=slug).values("id"), slug=str)
    query.rows(slug="once")
    sql = query._compiled[("default", connection.vendor, ())].sql
    with CaptureQueriesContext(connection) as captured:
        assert query.rows(slug="once") == [{"id": study.pk}]
        assert query.rows(slug="other") == []
    assert len(captured.captured_queries) == 2
    assert query._compiled[("default", connection.vendor, ())].sql == sql


def test_a_list_argument_is_prepared_per_length_and_an_empty_one_reads_nothing():
    study = StudyFactory()
    roots = [Category.objects.create(study=study, name=f"Root {i}") for i in range(3)]
    leaves = [Category.objects.create(study=study, name=f"Leaf {i}", parent=roots[i % 3]) for i in range(40)]
    query = Prepared(lambda *, study_id, ids: Category.objects.filter(Q(pk__in=ids) | Q(parent_id__in=ids),
                                                                      study_id=study_id)
                     .order_by("pk").values("id", "parent_id", "name"),
                     study_id=int, ids=list)

    def orm(ids):
        return list(Category.objects.filter(Q(pk__in=ids) | Q(parent_id__in=ids), study_id=study.pk)
                    .order_by("pk").values("id", "parent_id", "name"))

    everything = [c.pk for c in roots + leaves]
    for ids in ([roots[0].pk], [leaves[5].pk, roots[2].pk], [leaves[1].pk], everything[:33], everything, [],
                [roots[1].pk, roots[1].pk], [10**9]):
        assert query.rows(study_id=study.pk, ids=ids) == orm(ids), ids
    assert query.rows(study_id=StudyFactory().pk, ids=[roots[0].pk]) == []


def test_a_lookup_that_rewrites_its_value_is_refused_when_prepared():
    StudyFactory(name="Deployment")
    query = Prepared(lambda *, text: Study.objects.filter(name__icontains=text).values("id"), text=str)
    with pytest.raises(ValueError, match="did not pass"):
        query.rows(text="deploy")


def test_only_values_querysets_and_only_known_arguments():
    with pytest.raises(TypeError, match="values"):
        Prepared(lambda *, slug: Study.objects.filter(slug=slug), slug=str).rows(slug="x")
    query = Prepared(lambda *, slug: Study.objects.filter(slug=slug).values("id"), slug=str)
    with pytest.raises(TypeError, match="takes"):
        query.rows(name="x")
    with pytest.raises(TypeError, match="int, str or list"):
        Prepared(lambda *, when: Study.objects.filter(created_at=when).values("id"), when=object)


def test_instance_reads_the_row_and_defers_the_rest():
    study = StudyFactory(slug="inst", description="the long text")
    user = UserFactory()
    MembershipFactory(study=study, user=user, is_rater=True)
    row = MEMBERSHIP_WITH_STUDY.rows(slug="inst", user_id=user.pk)[0]
    membership = instance(Membership, row)
    membership.study = instance(Study, row, prefix="study__")
    stored = Membership.objects.select_related("study").get(pk=membership.pk)
    assert [getattr(membership, f.attname) for f in Membership._meta.concrete_fields] == \
        [getattr(stored, f.attname) for f in Membership._meta.concrete_fields]
    assert membership.study.description == "the long text"
    assert not membership._state.adding and membership._state.db == "default"
    partial = instance(Study, {"id": study.pk, "slug": "inst"})
    assert partial.get_deferred_fields() >= {"name", "description"}
    with CaptureQueriesContext(connection) as captured:
        assert partial.name == study.name  # read from the database when asked for
    assert len(captured.captured_queries) == 1


def test_token_authentication_reads_the_user_whole_and_refuses_as_drf_does(client, settings):
    settings.TAXONOMIST_TOKEN_TTL_HOURS = 24
    user = UserFactory(email="rater@example.org")
    MembershipFactory(study=StudyFactory(slug="tok"), user=user)
    token = Token.objects.create(user=user)
    response = client.get("/api/studies/tok/", headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200
    assert response.wsgi_request.user == user and response.wsgi_request.user.email == "rater@example.org"
    assert response.wsgi_request.auth == token

    bad = client.get("/api/studies/tok/", headers={"Authorization": "Token not-a-token"})
    assert bad.status_code == 401 and bad.json()["detail"] == "Invalid token."
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    inactive = client.get("/api/studies/tok/", headers={"Authorization": f"Token {token.key}"})
    assert inactive.status_code == 401 and inactive.json()["detail"] == "User inactive or deleted."
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(hours=25))
    expired = client.get("/api/studies/tok/", headers={"Authorization": f"Token {token.key}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_a_slice_is_bounded_by_arguments_and_each_call_reads_its_own_page():
    study = StudyFactory()
    roots = [Category.objects.create(study=study, name=f"Root {i:02d}") for i in range(30)]
    query = Prepared(lambda *, study_id, offset, limit: Category.objects.filter(study_id=study_id)
                     .order_by("name").values("id", "name")[offset:offset + limit],
                     study_id=int, offset=int, limit=int)
    in_subquery = Prepared(lambda *, study_id, offset, limit: Category.objects.filter(
        pk__in=Category.objects.filter(study_id=study_id).order_by("-name").values("pk")[offset:offset + limit])
        .order_by("pk").values("id"), study_id=int, offset=int, limit=int)
    for offset, limit in ((0, 10), (10, 10), (25, 10), (0, 1), (29, 5), (40, 5), (3, 0)):
        assert query.rows(study_id=study.pk, offset=offset, limit=limit) == list(
            Category.objects.filter(study=study).order_by("name").values("id", "name")[offset:offset + limit])
        assert in_subquery.rows(study_id=study.pk, offset=offset, limit=limit) == list(
            Category.objects.filter(pk__in=Category.objects.filter(study=study).order_by("-name")
                                    .values("pk")[offset:offset + limit]).order_by("pk").values("id"))
    assert len(roots) == 30
    # A bound Django computes from two arguments cannot be written in later: refused, not run wrong.
    stop = Prepared(lambda *, study_id, offset, stop: Category.objects.filter(study_id=study_id)
                    .values("id")[offset:stop], study_id=int, offset=int, stop=int)
    with pytest.raises(ValueError, match="did not pass"):
        stop.rows(study_id=study.pk, offset=0, stop=5)
