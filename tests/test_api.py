"""The REST API: token auth, the OpenAPI schema, studies, members, posts, jobs."""

from datetime import datetime, timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.jobs.models import Job
from annotator.studies.models import Membership, Study
from tests.factories import (
    PASSWORD,
    AnswerFactory,
    CommentFactory,
    JobFactory,
    MembershipFactory,
    PostFactory,
    StudyFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def owner():
    return MembershipFactory(study=StudyFactory(name="Deployment", slug="deploy"), is_owner=True)


@pytest.fixture
def api(client, owner):
    """A client signed in as the owner of the study "deploy"."""
    client.force_login(owner.user)
    return client


def day(year: int, month: int = 6, d: int = 1) -> datetime:
    return datetime(year, month, d, 12, tzinfo=timezone.utc)


# --- token authentication and the schema -----------------------------------------


def test_a_token_from_the_token_endpoint_authenticates_api_calls(client, owner):
    response = client.post("/api/auth/token/", {"username": owner.user.username, "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]

    listed = client.get("/api/studies/", headers={"Authorization": f"Token {token}"})
    assert listed.status_code == 200
    assert [s["slug"] for s in listed.json()["results"]] == ["deploy"]

    # Token requests need no CSRF token and no session.
    created = client.post(
        "/api/studies/", {"name": "Made with a token"}, content_type=JSON, headers={"Authorization": f"Token {token}"}
    )
    assert created.status_code == 201
    assert Membership.objects.get(study__slug="made-with-a-token").user == owner.user


def test_the_token_endpoint_refuses_a_wrong_password(client, owner):
    response = client.post("/api/auth/token/", {"username": owner.user.username, "password": "wrong"})

    assert response.status_code == 400
    assert "token" not in response.json()


def test_a_wrong_token_is_refused(client, owner):
    response = client.get("/api/studies/", headers={"Authorization": "Token 0123456789abcdef0123456789abcdef01234567"})

    assert response.status_code == 401


def test_without_credentials_the_api_is_refused(client, owner):
    assert client.get("/api/studies/").status_code in (401, 403)
    assert client.post("/api/studies/", {"name": "Nope"}, content_type=JSON).status_code in (401, 403)
    assert not Study.objects.filter(name="Nope").exists()


def test_the_schema_is_an_openapi_document_with_the_main_paths(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Taxonomist API"
    for path in ("/api/studies/", "/api/studies/{slug}/imports/", "/api/jobs/{job_id}/"):
        assert path in schema["paths"], sorted(schema["paths"])
    assert "post" in schema["paths"]["/api/studies/{slug}/imports/"]
    assert "patch" in schema["paths"]["/api/studies/{slug}/members/{membership_id}/"]


# --- studies -----------------------------------------------------------------------


def test_creating_a_study_makes_the_caller_its_owner(api, owner):
    response = api.post("/api/studies/", {"name": "Mobile Deployment", "description": "D"}, content_type=JSON)

    assert response.status_code == 201
    data = response.json()
    assert data["slug"] == "mobile-deployment" and data["name"] == "Mobile Deployment" and data["description"] == "D"
    membership = Membership.objects.get(study__slug="mobile-deployment")
    assert membership.user == owner.user and membership.roles == ["owner"]


def test_creating_a_study_with_a_taken_slug_is_a_400(api):
    response = api.post("/api/studies/", {"name": "Other", "slug": "deploy"}, content_type=JSON)

    assert response.status_code == 400
    assert "slug" in response.json()
    assert Study.objects.filter(slug="deploy").count() == 1


def test_creating_a_study_needs_a_name(api):
    response = api.post("/api/studies/", {"slug": "nameless"}, content_type=JSON)

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Study.objects.filter(slug="nameless").exists()


def test_patching_a_study_renames_it(api, owner):
    response = api.patch("/api/studies/deploy/", {"name": "Deployment (FSE 2020)"}, content_type=JSON)

    assert response.status_code == 200
    assert response.json()["name"] == "Deployment (FSE 2020)"
    owner.study.refresh_from_db()
    assert owner.study.name == "Deployment (FSE 2020)"
    assert owner.study.slug == "deploy"  # the slug does not follow the name
    assert api.get("/api/studies/deploy/").json()["name"] == "Deployment (FSE 2020)"


def test_patching_a_study_with_a_blank_name_is_a_400(api, owner):
    response = api.patch("/api/studies/deploy/", {"name": "   "}, content_type=JSON)

    assert response.status_code == 400
    owner.study.refresh_from_db()
    assert owner.study.name == "Deployment"


# --- members -------------------------------------------------------------------------


def test_members_can_be_added_changed_and_removed(api, owner):
    UserFactory(username="alice", email="alice@lab.example.org")

    added = api.post("/api/studies/deploy/members/", {"user": "alice@lab.example.org", "roles": ["rater"]},
                     content_type=JSON)
    assert added.status_code == 201
    member = added.json()
    assert member["username"] == "alice" and member["roles"] == ["rater"]
    listed = api.get("/api/studies/deploy/members/").json()
    assert [(m["username"], m["roles"]) for m in listed["results"]] == sorted(
        [("alice", ["rater"]), (owner.user.username, ["owner"])]
    )

    changed = api.patch(f"/api/studies/deploy/members/{member['id']}/", {"roles": ["rater", "arbitrator"]},
                        content_type=JSON)
    assert changed.status_code == 200 and changed.json()["roles"] == ["rater", "arbitrator"]
    assert api.get(f"/api/studies/deploy/members/{member['id']}/").json()["roles"] == ["rater", "arbitrator"]

    viewer = api.patch(f"/api/studies/deploy/members/{member['id']}/", {"roles": ["viewer"]}, content_type=JSON)
    assert viewer.status_code == 200 and viewer.json()["roles"] == ["viewer"]
    assert not Membership.objects.filter(pk=member["id"], is_rater=True).exists()

    removed = api.delete(f"/api/studies/deploy/members/{member['id']}/")
    assert removed.status_code == 204
    assert not Membership.objects.filter(pk=member["id"]).exists()


def test_adding_an_unknown_user_is_a_400(api):
    response = api.post("/api/studies/deploy/members/", {"user": "ghost", "roles": []}, content_type=JSON)

    assert response.status_code == 400
    assert "user" in response.json()
    assert Membership.objects.filter(study__slug="deploy").count() == 1


def test_adding_someone_twice_or_with_an_unknown_role_is_a_400(api, owner):
    UserFactory(username="bob")

    bad_role = api.post("/api/studies/deploy/members/", {"user": "bob", "roles": ["admin"]}, content_type=JSON)
    assert bad_role.status_code == 400
    assert "roles" in bad_role.json()
    assert not Membership.objects.filter(user__username="bob").exists()

    twice = api.post("/api/studies/deploy/members/", {"user": owner.user.username, "roles": []}, content_type=JSON)
    assert twice.status_code == 400
    assert Membership.objects.get(pk=owner.pk).is_owner


def test_the_last_owner_can_be_neither_removed_nor_demoted_through_the_api(api, owner):
    removed = api.delete(f"/api/studies/deploy/members/{owner.pk}/")
    assert removed.status_code == 400
    assert "owner" in str(removed.json())
    assert Membership.objects.filter(pk=owner.pk, is_owner=True).exists()

    demoted = api.patch(f"/api/studies/deploy/members/{owner.pk}/", {"roles": ["rater"]}, content_type=JSON)
    assert demoted.status_code == 400
    assert Membership.objects.filter(pk=owner.pk, is_owner=True, is_rater=False).exists()


def test_with_a_second_owner_the_first_can_leave(api, owner):
    second = MembershipFactory(study=owner.study, is_owner=True)

    assert api.delete(f"/api/studies/deploy/members/{owner.pk}/").status_code == 204
    assert list(Membership.objects.filter(study=owner.study)) == [second]


# --- posts -----------------------------------------------------------------------------


def test_the_posts_list_filters_by_words_tag_year_and_type(api, owner):
    study = owner.study
    serving = PostFactory(study=study, title="Serving with nginx", tags="|tensor|", creation_date=day(2019))
    PostFactory(study=study, title="Quantization", body="<p>nginx again</p>", tags="|tensorflow|",
                creation_date=day(2021))
    answer = AnswerFactory(question=serving, body="<p>use nginx</p>", creation_date=day(2019, 7))

    def ids(**query):
        response = api.get("/api/studies/deploy/posts/", query)
        assert response.status_code == 200
        return sorted(p["id"] for p in response.json()["results"])

    assert len(ids()) == 2  # questions only, by default
    assert ids(q="NGINX", tag="tensor") == [serving.pk]
    assert ids(q="nginx", year=2019) == [serving.pk]
    assert ids(tag="tensor", year=2021) == []
    assert ids(q="nginx", type=2) == [answer.pk]
    assert ids(q="nginx", type=0, year=2019) == sorted([serving.pk, answer.pk])
    assert ids(tag="tensor", type=2) == [answer.pk]  # an answer matches its question's tags
    assert ids(tag="tensor", type=0) == sorted([serving.pk, answer.pk])
    listed = api.get("/api/studies/deploy/posts/", {"tag": "tensor", "type": 2}).json()["results"]
    assert listed[0]["tags"] == ["tensor"]

    one = api.get("/api/studies/deploy/posts/", {"tag": "tensor"}).json()["results"][0]
    assert one["tags"] == ["tensor"] and one["so_id"] == serving.so_id
    assert one["original_url"] == f"https://stackoverflow.com/questions/{serving.so_id}"
    assert "body" not in one and "body_html" not in one


def test_a_malformed_year_or_type_is_a_400(api):
    assert api.get("/api/studies/deploy/posts/", {"year": "last"}).status_code == 400
    assert api.get("/api/studies/deploy/posts/", {"type": "x"}).status_code == 400


def test_the_posts_list_is_paginated(api, owner):
    for n in range(51):
        PostFactory(study=owner.study, creation_date=day(2020, 1 + n % 12, 1 + n % 28))

    first = api.get("/api/studies/deploy/posts/").json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 51 and len(first["results"]) == 50
    assert first["previous"] is None and first["next"].endswith("/api/studies/deploy/posts/?page=2")

    second = api.get("/api/studies/deploy/posts/", {"page": 2}).json()
    assert second["count"] == 51 and len(second["results"]) == 1 and second["next"] is None
    assert second["previous"] is not None
    assert {p["id"] for p in first["results"]}.isdisjoint(p["id"] for p in second["results"])


def test_post_detail_has_a_sanitised_body_answers_and_comments(api, owner):
    study = owner.study
    question = PostFactory(
        study=study, so_id=77, accepted_answer_so_id=79, title="Serving?",
        body='<p>Hi</p><script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
             '<pre><code>if a &lt; b: print("ok")</code></pre>',
    )
    AnswerFactory(question=question, so_id=78, score=9, body="<p>Other</p>")
    AnswerFactory(question=question, so_id=79, score=1, body='<p onclick="steal()">Accepted</p>')
    CommentFactory(study=study, so_id=900, post_so_id=77, text="<b>why?</b>")
    CommentFactory(study=study, so_id=901, post_so_id=79, text="thanks")

    response = api.get(f"/api/studies/deploy/posts/{question.pk}/")

    assert response.status_code == 200
    data = response.json()
    body = data["body_html"]
    assert body.startswith("<p>Hi</p>")
    assert "<script" not in body and "onerror" not in body and "javascript:" not in body
    assert '<pre tabindex="0"><code>if a &lt; b: print("ok")</code></pre>' in body
    assert data["is_accepted"] is False and data["question_id"] == question.pk
    assert [c["text"] for c in data["comments"]] == ["<b>why?</b>"]  # JSON is data; clients escape it
    assert [(a["so_id"], a["is_accepted"]) for a in data["answers"]] == [(79, True), (78, False)]
    accepted = data["answers"][0]
    assert accepted["body_html"] == "<p>Accepted</p>"
    assert [c["so_id"] for c in accepted["comments"]] == [901]
    assert data["answers"][1]["comments"] == []


def test_a_post_of_another_study_is_404(api):
    other = PostFactory()

    assert api.get(f"/api/studies/deploy/posts/{other.pk}/").status_code == 404
    assert api.get(f"/api/studies/{other.study.slug}/posts/{other.pk}/").status_code == 404


# --- jobs ------------------------------------------------------------------------------


def test_job_detail_hides_server_file_paths(api, owner):
    secret_path = "/srv/taxonomist/media/imports/9/0-Posts.xml"
    job = JobFactory(
        study=owner.study,
        params={"files": [{"path": secret_path, "name": "Posts.xml", "site": "serverfault.com"}],
                "only_tags": ["keras"], "uploaded": True},
    )

    response = api.get(f"/api/jobs/{job.pk}/")

    assert response.status_code == 200
    data = response.json()
    assert data["params"]["files"] == [{"name": "Posts.xml", "site": "serverfault.com"}]
    assert data["params"]["only_tags"] == ["keras"]
    assert data["study"] == "deploy" and data["kind"] == "import" and data["status"] == "queued"
    assert "/srv/" not in response.content.decode()


def test_an_uploaded_import_hides_where_the_file_was_saved(api, owner, settings):
    dump = (
        '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
        '  <row Id="1" PostTypeId="1" CreationDate="2020-01-02T03:04:05.000" Body="&lt;p&gt;x&lt;/p&gt;" '
        'Title="t" Tags="|a|" />\n</posts>\n'
    ).encode()

    queued = api.post("/api/studies/deploy/imports/",
                      {"files": SimpleUploadedFile("serverfault.com-Posts.xml", dump, content_type="text/xml")})

    assert queued.status_code == 202
    job = Job.objects.get(pk=queued.json()["id"])
    saved_path = job.params["files"][0]["path"]
    assert saved_path.startswith(str(settings.MEDIA_ROOT))
    for response in (queued, api.get(f"/api/jobs/{job.pk}/"), api.get("/api/studies/deploy/imports/")):
        assert str(settings.MEDIA_ROOT) not in response.content.decode()
    assert api.get(f"/api/jobs/{job.pk}/").json()["params"]["files"] == [
        {"name": "serverfault.com-Posts.xml", "site": "serverfault.com"}
    ]


def test_openapi_schema_is_valid_and_has_no_warnings(tmp_path):
    """Every endpoint is described (no view drf-spectacular cannot introspect, no clashing names)."""
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/studies/{slug}/members/{membership_id}/", "/api/studies/{slug}/posts/{post_id}/"):
        assert path in text
