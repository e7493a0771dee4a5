"""A study coded by generated final labels (tests.factories.coded_study), with an owner, an
arbitrator, a rater and a viewer, and a question set holding the sample and more posts."""

import random

import pytest
from django.utils import timezone

from annotator.corpus.models import Post, PostType
from tests.factories import (TOPIC_WORDS, MembershipFactory, StudyFactory, UserFactory, coded_study, evaluated_set,
                             topic_text)


def unsampled_posts(*, study, count: int, seed: int = 7, first_so_id: int = 500_000) -> list[Post]:
    """Posts about the TOPIC_WORDS leaves in turn (nobody coded them)."""
    rng = random.Random(seed)
    topics = [(root, leaf) for root, leaves in TOPIC_WORDS.items() for leaf in leaves]
    now = timezone.now()
    posts = []
    for i in range(count):
        root, leaf = topics[i % len(topics)]
        title, body = topic_text(root=root, leaf=leaf, rng=rng)
        posts.append(Post(study=study, site="stackoverflow.com", so_id=first_so_id + i, post_type=PostType.QUESTION,
                          title=title, body=body, tags="|tensorflow|", creation_date=now, updated_at=now))
    return Post.objects.bulk_create(posts)


@pytest.fixture
def corpus(db):
    study = StudyFactory(slug="cls", name="Classifier study")
    owner, arbitrator, rater, viewer = (UserFactory(username=name) for name in ("olga", "arne", "rita", "vic"))
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    MembershipFactory(study=study, user=viewer)
    draw, leaves, coded, _ = coded_study(study=study, decided_by=owner, per_leaf=8)
    extra = unsampled_posts(study=study, count=60)
    question_set = evaluated_set(study=study, name="All", posts=[item.post for item in coded] + extra)
    return {"study": study, "owner": owner, "arbitrator": arbitrator, "rater": rater, "viewer": viewer,
            "draw": draw, "leaves": leaves, "coded": coded, "extra": extra, "question_set": question_set}
