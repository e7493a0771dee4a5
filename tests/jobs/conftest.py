"""A study where a job of every kind can be started, through the API or a page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.factories import (
    MembershipFactory,
    StudyFactory,
    UserFactory,
    evaluated_set,
    labelling_draw,
    questions_bulk,
)

DUMP = (
    "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n"
    '  <row Id="1" PostTypeId="1" CreationDate="2020-01-02T03:04:05.000" Score="3" '
    'Body="&lt;p&gt;How?&lt;/p&gt;" Title="Serving a model" Tags="|tensorflow|serving|" AnswerCount="0" />\n'
    "</posts>\n"
).encode()


def dump_rows(count: int, first_id: int = 1) -> bytes:
    """A Posts.xml of ``count`` questions."""
    rows = "".join(
        f'  <row Id="{first_id + i}" PostTypeId="1" CreationDate="2020-01-02T03:04:05.000" Score="1" '
        f'Body="&lt;p&gt;Body {i}&lt;/p&gt;" Title="Question {i}" Tags="|tensorflow|" AnswerCount="0" />\n'
        for i in range(count)
    )
    return f"\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n{rows}</posts>\n".encode()


@dataclass
class Lab:
    study: object
    owner: object
    rater: object
    other_rater: object
    mobile: object  # an evaluated question set
    browser: object
    labelling: object  # a draw in labelling (agreement and exports start from it)

    def api(self, user=None) -> APIClient:
        client = APIClient()
        client.force_authenticate(user or self.owner)
        return client

    def start(self, kind: str, api: APIClient | None = None):
        """Start a job of ``kind`` through the API; the response."""
        api = api or self.api()
        slug = self.study.slug
        if kind == "import":
            upload = SimpleUploadedFile("serverfault.com-Posts.xml", DUMP, content_type="text/xml")
            return api.post(f"/api/studies/{slug}/imports/", {"files": upload})
        if kind == "question_set":
            return api.post(f"/api/studies/{slug}/sets/{self.mobile.pk}/evaluate/")
        if kind == "sample_draw":
            return api.post(f"/api/studies/{slug}/draws/", self.draw_body(), format="json")
        if kind == "agreement":
            return api.post(f"/api/studies/{slug}/agreement/",
                            {"scope": "draw", "draw": self.labelling.version, "resamples": 50}, format="json")
        if kind == "export":
            return api.post(f"/api/studies/{slug}/results/exports/",
                            {"kind": "items_csv", "draw": self.labelling.version}, format="json")
        raise ValueError(kind)

    def draw_body(self) -> dict:
        return {"strata": [{"question_set": self.mobile.pk}, {"question_set": self.browser.pk, "mode": "census"}],
                "seed": 5, "raters": [self.rater.pk, self.other_rater.pk], "raters_per_item": 2,
                "pilot_share": 0.2}


KINDS = ["import", "question_set", "sample_draw", "agreement", "export"]


def lab_make() -> Lab:
    study = StudyFactory(slug="dl")
    owner = UserFactory(username="owner")
    rater, other_rater = UserFactory(username="rita"), UserFactory(username="rolf")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    MembershipFactory(study=study, user=other_rater, is_rater=True)
    mobile = evaluated_set(study=study, name="Mobile", posts=questions_bulk(study=study, count=300, first_so_id=1))
    browser = evaluated_set(study=study, name="Browser", posts=questions_bulk(study=study, count=40,
                                                                              first_so_id=5000))
    labelling = labelling_draw(study=study, raters=[rater, other_rater], pilot=2, reliability=6)
    return Lab(study=study, owner=owner, rater=rater, other_rater=other_rater, mobile=mobile, browser=browser,
               labelling=labelling)


@pytest.fixture
def lab(db) -> Lab:
    return lab_make()
