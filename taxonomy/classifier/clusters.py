"""Candidate new categories from the Pending queue (issue 20, point 4): the Pending posts in
clusters, and the free texts — the pilot's codes not yet grouped into a category and the notes
raters wrote on their Pending labels — in clusters, each named by its top terms.

TF-IDF (words, English stop words left out) and k-means, seeded (``random_state``), with ``k``
chosen or, by default, the k in 2…8 with the best silhouette (cosine): the same texts give the
same clusters every time. Clusters are listed largest first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score

from sampling.draws.sight import Sight
from taxonomy.coding.models import Code
from taxonomy.labelling.models import LabelKind
from taxonomy.labelling.visibility import label_list_visible
from taxonomy.review.arbitration.selectors import pending_queue

from .similarity import post_text

SEED = 0
K_RANGE = range(2, 9)
TOP_TERMS = 5
MAX_PENDING = 2000


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # indices into the texts given
    terms: list[str]  # the heaviest terms of its centre


def _top_terms(centre: np.ndarray, vocabulary: np.ndarray, n: int = TOP_TERMS) -> list[str]:
    order = np.argsort(-centre, kind="stable")[:n]
    return [str(vocabulary[i]) for i in order if centre[i] > 0]


def text_clusters(texts: list[str], *, k: int | None = None, seed: int = SEED) -> list[Cluster]:
    """``texts`` in clusters (``k`` of them, or the best by silhouette), largest first, ties by
    their first member. Fewer than three texts, or texts with no word: one cluster."""
    if not texts:
        return []
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, strip_accents="unicode")
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no word left
        return [Cluster(members=list(range(len(texts))), terms=[])]
    vocabulary = vectorizer.get_feature_names_out()
    distinct = len({row.indices.tobytes() + row.data.tobytes() for row in matrix})
    if len(texts) < 3 or distinct < 2:
        centre = np.asarray(matrix.mean(axis=0)).ravel()
        return [Cluster(members=list(range(len(texts))), terms=_top_terms(centre, vocabulary))]

    def fit(n_clusters: int) -> KMeans:
        return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(matrix)

    if k is not None:
        model = fit(max(1, min(k, distinct)))
    else:
        best = None
        for n_clusters in K_RANGE:
            if n_clusters >= min(len(texts), distinct):
                break
            model = fit(n_clusters)
            score = silhouette_score(matrix, model.labels_, metric="cosine")
            if best is None or score > best[0] + 1e-9:
                best = (score, model)
        model = best[1] if best else fit(1)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(model.labels_):
        groups.setdefault(int(label), []).append(index)
    clusters = [Cluster(members=members, terms=_top_terms(model.cluster_centers_[label], vocabulary))
                for label, members in groups.items()]
    return sorted(clusters, key=lambda c: (-len(c.members), c.members[0]))


@dataclass(frozen=True)
class PostCluster:
    terms: list[str]
    items: list  # SampleItem, with their posts


@dataclass(frozen=True)
class FreeText:
    text: str
    source: str  # "code" or "Pending note"


@dataclass(frozen=True)
class TextCluster:
    terms: list[str]
    texts: list[FreeText]


@dataclass(frozen=True)
class PendingClusters:
    posts: list[PostCluster]
    texts: list[TextCluster]
    k: int | None


def free_texts(*, study, user, sight: Sight) -> list[FreeText]:
    """The pilot's codes not yet grouped into a category, then the notes on Pending labels that
    ``sight`` may see (a rater's label is their own until arbitration), each text once."""
    seen: set[str] = set()
    out: list[FreeText] = []
    codes = Code.objects.filter(study=study, category__isnull=True).order_by("text").values_list("text", flat=True)
    notes = (label_list_visible(study=study, user=user, sight=sight).filter(kind=LabelKind.PENDING).exclude(note="")
             .order_by("pk").values_list("note", flat=True))
    for source, texts in (("code", codes), ("Pending note", notes)):
        for text in texts:
            if text.strip().lower() not in seen:
                seen.add(text.strip().lower())
                out.append(FreeText(text=text.strip(), source=source))
    return out


def pending_clusters(*, study, user, sight: Sight, k: int | None = None) -> PendingClusters:
    """The study's Pending queue (items waiting for a category, from draws in arbitration) in
    clusters, and the free texts in clusters."""
    items = list(pending_queue(study=study)[:MAX_PENDING])
    posts = text_clusters([post_text(i.post.title, i.post.body) for i in items], k=k)
    texts = free_texts(study=study, user=user, sight=sight)
    text_groups = text_clusters([t.text for t in texts], k=k)
    return PendingClusters(
        posts=[PostCluster(terms=c.terms, items=[items[i] for i in c.members]) for c in posts],
        texts=[TextCluster(terms=c.terms, texts=[texts[i] for i in c.members]) for c in text_groups], k=k)
