"""Who may see and change what, for every page and API endpoint under a study.

The rules (``study_get_for_user`` decides them for all of these URLs):
- a non-member gets 404, exactly as for a study that does not exist;
- anonymous users are sent to the login page (pages) or refused (API);
- every member reads; only owners write (members, imports, the study itself),
  and a non-owner's write is a 404, never a silent success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.jobs.models import Job
from annotator.studies.models import Membership, Study
from tests.factories import JobFactory, MembershipFactory, PostFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

MISSING_SLUG = "no-such-study"
DUMP = (
    '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
    '  <row Id="1" PostTypeId="1" CreationDate="2020-01-02T03:04:05.000" Score="3" '
    'Body="&lt;p&gt;How?&lt;/p&gt;" Title="Serving a model" Tags="|tensorflow|" />\n'
    "</posts>\n"
).encode()


@pytest.fixture
def world():
    """One study with a member of every kind, and a second study next to it."""
    study = StudyFactory(name="Deployment challenges", slug="deployment")
    other = StudyFactory(name="Someone else's study", slug="elsewhere")
    w = SimpleNamespace(study=study, other=other)
    w.owner = MembershipFactory(study=study, is_owner=True).user
    w.rater = MembershipFactory(study=study, is_rater=True).user
    w.arbitrator = MembershipFactory(study=study, is_arbitrator=True).user
    w.rater_arbitrator = MembershipFactory(study=study, is_rater=True, is_arbitrator=True).user
    w.viewer = MembershipFactory(study=study).user
    w.target = MembershipFactory(study=study, is_rater=True)  # the member that writes change or remove
    w.candidate = UserFactory(username="candidate")  # the account that writes try to add
    w.post = PostFactory(study=study, title="Serving a keras model")
    w.job = JobFactory(study=study)
    # A "stranger" is not in `study`, but owns another one: being a member elsewhere must not help.
    w.stranger_membership = MembershipFactory(study=other, is_owner=True)
    w.stranger = w.stranger_membership.user
    w.other_post = PostFactory(study=other)
    w.other_job = JobFactory(study=other)
    return w


PAGES = {
    "study": "/studies/{slug}/",
    "members": "/studies/{slug}/members/",
    "imports": "/studies/{slug}/imports/",
    "import": "/studies/{slug}/imports/{job}/",
    "posts": "/studies/{slug}/posts/",
    "post": "/studies/{slug}/posts/{post}/",
}
APIS = {
    "study": "/api/studies/{slug}/",
    "members": "/api/studies/{slug}/members/",
    "member": "/api/studies/{slug}/members/{member}/",
    "posts": "/api/studies/{slug}/posts/",
    "post": "/api/studies/{slug}/posts/{post}/",
    "imports": "/api/studies/{slug}/imports/",
    "job": "/api/jobs/{job}/",
}
READ_URLS = [pytest.param(t, id=f"page-{n}") for n, t in PAGES.items()] + [
    pytest.param(t, id=f"api-{n}") for n, t in APIS.items()
]
MEMBER_ROLES = ["owner", "rater", "arbitrator", "rater_arbitrator", "viewer"]


def url(template: str, w, *, missing: bool = False) -> str:
    """The URL for `w.study`; with ``missing``, the same URL for a study (or job) that does not exist."""
    job = w.job.pk
    if missing:
        job = Job.objects.order_by("-pk").first().pk + 1000
    return template.format(
        slug=MISSING_SLUG if missing else w.study.slug,
        job=job,
        post=w.post.pk,
        member=w.target.pk,
    )


def is_login_redirect(response, path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"/accounts/login/?next={quote(path)}"


# --- reading -------------------------------------------------------------------


@pytest.mark.parametrize("role", MEMBER_ROLES)
@pytest.mark.parametrize("template", READ_URLS)
def test_every_member_reads_every_page_and_endpoint(client, world, role, template):
    client.force_login(getattr(world, role))

    response = client.get(url(template, world))

    assert response.status_code == 200, response.content[:500]
    if template.startswith("/api/"):
        assert response["Content-Type"] == "application/json"
    else:
        assert world.study.name in response.content.decode()


@pytest.mark.parametrize("template", READ_URLS)
def test_a_non_member_gets_404_exactly_like_a_missing_study(client, world, template):
    client.force_login(world.stranger)

    existing_url, missing_url = url(template, world), url(template, world, missing=True)
    existing = client.get(existing_url)
    missing = client.get(missing_url)

    assert existing.status_code == 404
    assert missing.status_code == 404
    # Not even the wording tells an existing study (or job) from a missing one (the page
    # repeats the address asked for, which is the caller's own).
    assert existing.content.replace(existing_url.encode(), b"<url>") == \
        missing.content.replace(missing_url.encode(), b"<url>")
    assert world.study.name.encode() not in existing.content


@pytest.mark.parametrize("template", [pytest.param(t, id=n) for n, t in PAGES.items()])
def test_anonymous_users_are_sent_to_the_login_page(client, world, template):
    path = url(template, world)

    response = client.get(path)

    assert is_login_redirect(response, path), (response.status_code, response.get("Location"))


@pytest.mark.parametrize("template", [pytest.param(t, id=n) for n, t in APIS.items()])
def test_anonymous_api_requests_are_refused(client, world, template):
    response = client.get(url(template, world))

    assert response.status_code in (401, 403)
    assert world.study.slug not in response.content.decode()
    assert world.study.name not in response.content.decode()


# --- writing -------------------------------------------------------------------


def _dump_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("serverfault.com-Posts.xml", DUMP, content_type="text/xml")


def _target_exists(w) -> bool:
    return Membership.objects.filter(pk=w.target.pk).exists()


def _target_is_owner(w) -> bool:
    return Membership.objects.filter(pk=w.target.pk, is_owner=True).exists()


@dataclass(frozen=True)
class Write:
    is_api: bool
    send: Callable
    owner_status: int
    took_effect: Callable  # (world) -> bool


JSON = "application/json"
WRITES = {
    "page-add-member": Write(
        False,
        lambda c, w: c.post(f"/studies/{w.study.slug}/members/", {"user": "candidate", "roles": ["rater"]}),
        302,
        lambda w: Membership.objects.filter(study=w.study, user=w.candidate).exists(),
    ),
    "page-update-member": Write(
        False,
        lambda c, w: c.post(
            f"/studies/{w.study.slug}/members/{w.target.pk}/", {"action": "update", "roles": ["owner"]}
        ),
        302,
        _target_is_owner,
    ),
    "page-remove-member": Write(
        False,
        lambda c, w: c.post(f"/studies/{w.study.slug}/members/{w.target.pk}/", {"action": "remove"}),
        302,
        lambda w: not _target_exists(w),
    ),
    "page-import": Write(
        False,
        lambda c, w: c.post(f"/studies/{w.study.slug}/imports/", {"files": _dump_upload()}),
        302,
        lambda w: Job.objects.filter(study=w.study).count() == 2,
    ),
    "api-add-member": Write(
        True,
        lambda c, w: c.post(
            f"/api/studies/{w.study.slug}/members/", {"user": "candidate", "roles": ["rater"]}, content_type=JSON
        ),
        201,
        lambda w: Membership.objects.filter(study=w.study, user=w.candidate).exists(),
    ),
    "api-patch-study": Write(
        True,
        lambda c, w: c.patch(f"/api/studies/{w.study.slug}/", {"name": "Renamed"}, content_type=JSON),
        200,
        lambda w: Study.objects.get(pk=w.study.pk).name == "Renamed",
    ),
    "api-patch-member": Write(
        True,
        lambda c, w: c.patch(
            f"/api/studies/{w.study.slug}/members/{w.target.pk}/", {"roles": ["owner"]}, content_type=JSON
        ),
        200,
        _target_is_owner,
    ),
    "api-delete-member": Write(
        True,
        lambda c, w: c.delete(f"/api/studies/{w.study.slug}/members/{w.target.pk}/"),
        204,
        lambda w: not _target_exists(w),
    ),
    "api-import": Write(
        True,
        lambda c, w: c.post(f"/api/studies/{w.study.slug}/imports/", {"files": _dump_upload()}),
        202,
        lambda w: Job.objects.filter(study=w.study).count() == 2,
    ),
}
WRITE_PARAMS = [pytest.param(write, id=name) for name, write in WRITES.items()]


@pytest.mark.parametrize("write", WRITE_PARAMS)
def test_an_owner_can_do_every_owner_action(client, world, write):
    assert not write.took_effect(world)
    client.force_login(world.owner)

    response = write.send(client, world)

    assert response.status_code == write.owner_status, response.content[:500]
    assert write.took_effect(world)


@pytest.mark.parametrize("role", ["rater", "arbitrator", "rater_arbitrator", "viewer", "stranger"])
@pytest.mark.parametrize("write", WRITE_PARAMS)
def test_anyone_but_an_owner_gets_404_on_an_owner_action(client, world, write, role):
    client.force_login(getattr(world, role))

    response = write.send(client, world)

    assert response.status_code == 404
    assert not write.took_effect(world)


@pytest.mark.parametrize("write", WRITE_PARAMS)
def test_anonymous_writes_are_refused(client, world, write):
    response = write.send(client, world)

    if write.is_api:
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert not write.took_effect(world)


# --- the study list --------------------------------------------------------------


def test_the_study_list_page_shows_only_the_users_studies(client, world):
    MembershipFactory(study=StudyFactory(name="Mobile deployment"), user=world.viewer, is_rater=True)
    client.force_login(world.viewer)

    page = client.get("/").content.decode()

    assert "Deployment challenges" in page and "Mobile deployment" in page
    assert world.other.name not in page and world.other.slug not in page


def test_the_study_list_page_of_a_user_without_studies_is_empty(client):
    client.force_login(UserFactory())
    MembershipFactory(study=StudyFactory(name="Hidden study"), is_owner=True)

    page = client.get("/").content.decode()

    assert "Hidden study" not in page
    assert "You are not a member of any study yet." in page


def test_the_study_list_api_returns_only_the_users_studies(client, world):
    MembershipFactory(study=StudyFactory(name="Mobile deployment", slug="mobile"), user=world.viewer)
    client.force_login(world.viewer)

    data = client.get("/api/studies/").json()

    assert data["count"] == 2
    assert sorted(s["slug"] for s in data["results"]) == ["deployment", "mobile"]

    client.force_login(world.stranger)
    assert [s["slug"] for s in client.get("/api/studies/").json()["results"]] == ["elsewhere"]


# --- ids of another study --------------------------------------------------------


def test_a_job_of_another_study_is_404_through_the_jobs_api(client, world):
    client.force_login(world.owner)

    assert client.get(f"/api/jobs/{world.job.pk}/").status_code == 200
    foreign = client.get(f"/api/jobs/{world.other_job.pk}/")
    missing = client.get(f"/api/jobs/{world.other_job.pk + 1000}/")

    assert foreign.status_code == 404
    assert foreign.content == missing.content


@pytest.mark.parametrize(
    "template",
    [
        "/studies/{slug}/imports/{other_job}/",
        "/studies/{slug}/posts/{other_post}/",
        "/api/studies/{slug}/posts/{other_post}/",
        "/api/studies/{slug}/members/{other_member}/",
    ],
)
def test_an_id_from_another_study_is_404_under_ones_own_study(client, world, template):
    client.force_login(world.owner)
    path = template.format(
        slug=world.study.slug,
        other_job=world.other_job.pk,
        other_post=world.other_post.pk,
        other_member=world.stranger_membership.pk,
    )

    assert client.get(path).status_code == 404


def test_an_owner_cannot_change_a_membership_of_another_study_through_their_own(client, world):
    client.force_login(world.owner)
    path = f"/api/studies/{world.study.slug}/members/{world.stranger_membership.pk}/"

    assert client.patch(path, {"roles": []}, content_type=JSON).status_code == 404
    assert client.delete(path).status_code == 404
    page = client.post(f"/studies/{world.study.slug}/members/{world.stranger_membership.pk}/", {"action": "remove"})
    assert page.status_code == 404

    world.stranger_membership.refresh_from_db()
    assert world.stranger_membership.is_owner


# --- the one access: @study_view (pages) and StudyApiMixin (APIs), annotator/studies/access.py ---------


def test_a_page_checks_the_login_then_the_method_then_the_study(client, world):
    """The order ``login_required`` → ``require_POST`` → the study had before the decorator."""
    path = f"/studies/{world.study.slug}/members/{world.target.pk}/"

    assert is_login_redirect(client.get(path), path)  # anonymous: the login page, whatever the method
    client.force_login(world.stranger)
    assert client.get(path).status_code == 405  # the method before the study (as require_POST did)
    assert client.post(path, {"action": "remove"}).status_code == 404
    client.force_login(world.viewer)
    assert client.post(path, {"action": "remove"}).status_code == 404  # a member without the role
    assert Membership.objects.filter(pk=world.target.pk).exists()


def test_a_page_every_member_reads_takes_the_write_role_for_a_post(client, world):
    path = f"/studies/{world.study.slug}/members/"
    client.force_login(world.rater)

    assert client.get(path).status_code == 200
    assert client.post(path, {"user": world.candidate.username, "roles": ["rater"]}).status_code == 404
    assert not Membership.objects.filter(study=world.study, user=world.candidate).exists()


def test_study_access_takes_any_of_several_roles_and_an_apps_check(rf, world):
    from django.http import Http404

    from annotator.studies.access import REVIEWERS, study_access

    def request_by(user):
        request = rf.get("/")
        request.user = user
        return request

    assert study_access(request_by(world.arbitrator), world.study.slug, role=REVIEWERS).study == world.study
    assert study_access(request_by(world.owner), world.study.slug, role=REVIEWERS).study == world.study
    for user in (world.rater, world.viewer, world.stranger):
        with pytest.raises(Http404, match="No such study."):
            study_access(request_by(user), world.study.slug, role=REVIEWERS)
    seen = {}

    def check(*, slug, user, **options):
        seen.update(slug=slug, user=user, **options)
        return "theirs"

    assert study_access(request_by(world.rater), world.study.slug, role="owner", check=check, write=True) == "theirs"
    assert seen == {"slug": world.study.slug, "user": world.rater, "role": "owner", "write": True}
