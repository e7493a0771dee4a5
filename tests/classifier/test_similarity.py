"""Similar coded posts, nearest-neighbour accuracy and Pending clusters (issue 20, point 4)."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import need
from sampling.draws.sight import sight_for, sight_whole
from taxonomy.classifier import similarity
from taxonomy.classifier.clusters import pending_clusters, text_clusters
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from tests.factories import MembershipFactory, PostFactory, UserFactory, coded_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(db):
    owner = UserFactory(username="olga")
    membership = MembershipFactory(user=owner, is_owner=True, is_arbitrator=True)
    return membership.study, owner


def _login(client, user):
    client.force_login(user)
    return client


def _leaf_of(item) -> str:
    return FinalLabelCategory.objects.get(final__item=item).category.name


def test_posts_about_the_same_topic_come_first(team):
    study, owner = team
    _, leaves, coded, waiting = coded_study(study=study, decided_by=owner, per_leaf=5, pending=6)
    topics = list(leaves)
    for i, item in enumerate(waiting):  # the i-th waiting post is about the i-th leaf
        found = similarity.similar_posts(study=study, post=item.post, sight=sight_whole(study=study), k=3)
        assert len(found) == 3
        assert {s.paths[0].split(" › ")[-1] for s in found} == {topics[i]}, (item.post.title, found)
        assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
        assert all(0 < s.score <= 1 for s in found)


def test_the_post_itself_is_left_out_and_a_post_sharing_no_word_finds_nothing(team):
    study, owner = team
    _, _, coded, _ = coded_study(study=study, decided_by=owner, per_leaf=3)
    found = similarity.similar_posts(study=study, post=coded[0].post, sight=sight_whole(study=study), k=50)
    assert coded[0].post_id not in {s.post_id for s in found}
    assert found[0].paths == [_path(coded[0])]
    stranger = PostFactory(study=study, title="Zebra", body="<p>giraffe savanna</p>")
    assert similarity.similar_posts(study=study, post=stranger, sight=sight_whole(study=study)) == []


def _path(item) -> str:
    category = FinalLabelCategory.objects.get(final__item=item).category
    return f"{category.parent.name} › {category.name}"


def test_the_fitted_index_is_reused_until_the_final_labels_change(team):
    study, owner = team
    _, leaves, coded, waiting = coded_study(study=study, decided_by=owner, per_leaf=2, pending=1)
    first = similarity.coded_index(study_id=study.pk)
    assert similarity.coded_index(study_id=study.pk) is first
    final = FinalLabel.objects.create(item=waiting[0], kind="false_positive", method="arbitrated", decided_by=owner,
                                      decided_at=timezone.now(), reason="not about deployment")
    again = similarity.coded_index(study_id=study.pk)
    assert again is not first and final.pk in again.final_ids.tolist()
    # a label changed in place (a merge moves the rows) is read at query time, without a refit
    found = similarity.similar_posts(study=study, post=coded[0].post, sight=sight_whole(study=study), k=1)
    FinalLabelCategory.objects.filter(final_id=found[0].final_id).update(category=leaves["REST endpoint"])
    assert similarity.coded_index(study_id=study.pk) is again
    moved = similarity.similar_posts(study=study, post=coded[0].post, sight=sight_whole(study=study), k=1)
    assert moved[0].paths == ["Server › REST endpoint"]


def test_nearest_neighbour_accuracy_matches_a_hand_computation():
    # rows 0 and 1 are near each other, so are 2 and 3; 0 and 1 share a leaf, 2 and 3 only a root
    matrix = np.array([[1, 0.1, 0], [0.9, 0.2, 0], [0, 0.2, 1], [0, 0.1, 0.8]], dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert similarity.nearest_neighbours(matrix).tolist() == [1, 0, 3, 2]
    leaves = [frozenset({1}), frozenset({1}), frozenset({3}), frozenset({4})]
    roots = [frozenset({10}), frozenset({10}), frozenset({20}), frozenset({20})]
    figures = similarity.neighbour_accuracy_of(method="tfidf", matrix=matrix, leaf_labels=leaves, root_labels=roots)
    assert (figures.n, figures.leaf_hits, figures.root_hits) == (4, 2, 4)
    assert (figures.leaf, figures.root) == (0.5, 1.0)
    assert (figures.leaf_baseline, figures.root_baseline) == (2, 2)


def test_nearest_neighbour_accuracy_of_a_study_by_hand(team, client):
    study, owner = team
    _, leaves, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=0, pending=4)
    texts = [("Docker container", "docker container"), ("Docker container image", "docker container image"),
             ("Android gradle", "android gradle"), ("Android gradle apk", "android gradle apk")]
    labels = ["Docker serving", "Docker serving", "Android build", "Quantization"]
    for item, (title, body), leaf in zip(waiting, texts, labels, strict=True):
        item.post.title, item.post.body = title, f"<p>{body}</p>"
        item.post.save()
        final = FinalLabel.objects.create(item=item, kind="categories", method="arbitrated", decided_by=owner,
                                          decided_at=timezone.now(), reason="r")
        FinalLabelCategory.objects.create(final=final, category=leaves[leaf])
    figures = similarity.neighbour_accuracy(study=study, sight=sight_whole(study=study))
    # 0↔1 (same leaf), 2↔3 (Android build vs Quantization: another leaf, the same root Mobile)
    assert (figures.n, figures.leaf_hits, figures.root_hits) == (4, 2, 4)
    page = _login(client, owner).get(reverse("classifier:neighbour_accuracy", args=[study.slug]))
    assert page.status_code == 200
    row = page.content.decode().split('data-method="tfidf"')[1].split("</tr>")[0]
    assert "<td>4</td>" in row and "50.0 %" in row and "100.0 %" in row


def test_the_similar_posts_page_and_panel_for_an_arbitrator(team, client):
    study, owner = team
    _, _, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=3, pending=1)
    url = reverse("classifier:similar", args=[study.slug, waiting[0].pk])
    _login(client, owner)
    page = client.get(url)
    assert page.status_code == 200
    assert "Server › Docker serving" in page.content.decode()
    panel = client.get(url, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert "<html" not in panel.content.decode() and "Server › Docker serving" in panel.content.decode()
    assert client.get(url + "?method=unknown").status_code == 404
    assert client.get(url + "?k=x").status_code == 404


def test_the_arbitration_and_pending_pages_load_the_panel_by_url(team, client):
    study, owner = team
    rater = UserFactory()
    MembershipFactory(study=study, user=rater, is_rater=True)
    _, _, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=2, pending=2, raters=[rater])
    _login(client, owner)
    similar = reverse("classifier:similar", args=[study.slug, waiting[0].pk])
    item_page = client.get(reverse("arbitration:item", args=[study.slug, waiting[0].pk])).content.decode()
    assert f'hx-get="{similar}"' in item_page
    pending = client.get(reverse("arbitration:pending", args=[study.slug])).content.decode()
    assert f'hx-get="{similar}"' in pending
    assert reverse("classifier:pending_clusters", args=[study.slug]) in pending


def test_clusters_of_pending_posts_are_deterministic_and_follow_the_topics(team, client):
    study, owner = team
    rater = UserFactory()
    MembershipFactory(study=study, user=rater, is_rater=True)
    notes = ["docker image too big", "docker container image fails", "android gradle build error",
             "gradle android apk"]
    coded_study(study=study, decided_by=owner, per_leaf=1, pending=18, raters=[rater], notes=notes)
    sight = sight_for(study=study, user=owner)
    first = pending_clusters(study=study, user=owner, sight=sight)
    again = pending_clusters(study=study, user=owner, sight=sight)
    assert [[i.pk for i in c.items] for c in first.posts] == [[i.pk for i in c.items] for c in again.posts]
    assert len(first.posts) >= 3
    for cluster in first.posts:  # every cluster is about one root: its posts carry one root's words
        roots = {root for i in cluster.items for root, words in ROOTS.items()
                 if any(w in i.post.body for w in words)}
        assert len(roots) == 1, [i.post.body for i in cluster.items]
    texts = {t.text: n for n, c in enumerate(first.texts) for t in c.texts}
    assert texts["docker image too big"] == texts["docker container image fails"]
    assert texts["android gradle build error"] == texts["gradle android apk"]
    assert texts["docker image too big"] != texts["gradle android apk"]
    page = _login(client, owner).get(reverse("classifier:pending_clusters", args=[study.slug]) + "?k=6")
    assert page.status_code == 200 and "docker image too big" in page.content.decode()


ROOTS = {"Server": ["server", "cloud", "deployment"], "Mobile": ["mobile", "phone", "device"],
         "Browser": ["browser", "javascript", "page"]}


def test_text_clusters_of_a_chosen_number_and_of_too_few_texts():
    texts = ["docker container", "docker image", "android gradle", "android apk", "webgl shader", "webgl canvas"]
    clusters = text_clusters(texts, k=3)
    assert sorted(sorted(c.members) for c in clusters) == [[0, 1], [2, 3], [4, 5]]
    assert all(c.terms for c in clusters)
    assert text_clusters(texts[:2]) == text_clusters(texts[:2])
    assert len(text_clusters(texts[:2])) == 1
    assert text_clusters([]) == []
    assert [c.members for c in text_clusters(["the", "a"])] == [[0, 1]]


def test_the_pending_clusters_are_for_owners_and_arbitrators(team, client):
    study, owner = team
    rater = UserFactory()
    MembershipFactory(study=study, user=rater, is_rater=True)
    url = reverse("classifier:pending_clusters", args=[study.slug])
    assert _login(client, rater).get(url).status_code == 404


def test_sentence_embeddings_find_the_same_topic_and_are_measured(team):
    # make test installs the extra (requirements-test.lock); a bare install skips, .ci/run fails
    need(similarity.embeddings_available(), "the optional extra 'embeddings' is not installed")
    study, owner = team
    _, leaves, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=5, pending=6)
    roots = {leaf: c.parent.name for leaf, c in leaves.items()}
    hits = 0
    for i, item in enumerate(waiting):
        found = similarity.similar_posts(study=study, post=item.post, sight=sight_whole(study=study),
                                         method=similarity.EMBEDDINGS, k=1)
        hits += found[0].paths[0].split(" › ")[0] == roots[list(leaves)[i]]
    assert hits >= 5
    figures = similarity.neighbour_accuracy(study=study, sight=sight_whole(study=study),
                                            method=similarity.EMBEDDINGS)
    assert figures.n == 30 and figures.root > figures.root_baseline_share


def test_the_panel_tells_how_often_the_nearest_coded_post_is_right(team, client):
    study, owner = team
    _, _, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=3, pending=1)
    figures = similarity.neighbour_accuracy(study=study, sight=sight_whole(study=study))
    panel = _login(client, owner).get(reverse("classifier:similar", args=[study.slug, waiting[0].pk]),
                                      HTTP_HX_REQUEST="true").content.decode()
    assert figures.n == 18
    assert f"{100 * figures.leaf:.1f} % at the leaves" in panel and "(n = 18;" in panel
