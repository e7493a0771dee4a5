"""Similar coded posts (issue 20, point 4): for a post, the coded posts (those with a final
label) nearest to it, and how often the nearest coded neighbour's label is right.

Two ways of putting a post's text (its title and its body without code) into a vector space:

- ``tfidf`` (the default, always there): scikit-learn's TF-IDF over words and word pairs
  (English stop words left out, sublinear term frequencies), rows L2-normalised, so that a
  dot product is the cosine;
- ``embeddings`` (the optional extra ``pip install -e '.[embeddings]'``): WordLlama's static
  sentence embeddings, whose model (256 dimensions) ships inside the PyPI wheel and loads
  offline; used only where the package is installed.

The coded posts' vectors are fitted once per study and method and kept in this process, keyed
by the state of the study's final labels (how many, the last id, the last decision and the last
change of a post's text): a page does not refit while nothing changed. Labels are read fresh at
each query, so that a merge or a new decision shows at once. What a viewer is shown is cut to
the final labels they may see (``final_label_visible_q``, the one rule of blindness).
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.db.models import Count, Max
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from annotator.corpus.models import Post
from sampling.draws.sight import Sight, final_label_visible_q
from taxonomy.review.arbitration.models import FinalKind, FinalLabel, FinalLabelCategory
from taxonomy.tree.paths import tree_shape

from .features import body_split

TFIDF, EMBEDDINGS = "tfidf", "embeddings"
METHOD_NAMES = {TFIDF: "TF-IDF", EMBEDDINGS: "sentence embeddings (WordLlama)"}
DEFAULT_K = 5
MAX_K = 50
CACHED_INDEXES = 8  # (study, method) pairs kept fitted in one process


def embeddings_available() -> bool:
    """The optional extra is installed (``wordllama``)."""
    return importlib.util.find_spec("wordllama") is not None


def methods_available() -> list[str]:
    return [TFIDF, EMBEDDINGS] if embeddings_available() else [TFIDF]


def post_text(title: str, body: str) -> str:
    """What is compared: the title and the body's visible text without its code, cut out as the
    classifier's features cut it (``features.body_split``: one reading of a post in this app)."""
    return f"{title or ''}\n{body_split(body or '')[0]}".strip()


# -- the two vector spaces ---------------------------------------------------------------------


class TfidfSpace:
    """TF-IDF fitted on the coded posts; new texts are put in the same space."""

    def __init__(self, texts: list[str]):
        self.vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True,
                                          strip_accents="unicode", dtype=np.float32)
        try:
            self.matrix = self.vectorizer.fit_transform(texts).tocsr()
        except ValueError:  # no word at all (empty or stop words only): nothing is similar
            self.vectorizer = None
            self.matrix = sparse.csr_matrix((len(texts), 1), dtype=np.float32)

    def transform(self, texts: list[str]):
        if self.vectorizer is None:
            return sparse.csr_matrix((len(texts), 1), dtype=np.float32)
        return self.vectorizer.transform(texts).tocsr()


@lru_cache(maxsize=1)
def _wordllama():
    """WordLlama's default model, from the files inside the installed package (never a download:
    the package looks for its tokenizer under ``<cache_dir>/tokenizers``, which is where the
    wheel puts it when the cache directory is the package's own)."""
    from pathlib import Path

    import wordllama

    return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


class EmbeddingSpace:
    """Sentence embeddings (normalised) of the coded posts."""

    def __init__(self, texts: list[str]):
        self.matrix = self.transform(texts)

    def transform(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        vectors = np.asarray(_wordllama().embed(texts, norm=True), dtype=np.float32)
        return np.nan_to_num(vectors)  # an empty text embeds as 0/0


def space_fit(method: str, texts: list[str]):
    if method == EMBEDDINGS:
        return EmbeddingSpace(texts)
    return TfidfSpace(texts)


def cosine_scores(matrix, vectors) -> np.ndarray:
    """Row-normalised ``matrix`` against row-normalised ``vectors``: (len(vectors), rows) cosines."""
    product = vectors @ matrix.T
    return np.asarray(product.toarray() if sparse.issparse(product) else product, dtype=np.float32)


# -- the coded posts of a study, fitted once per state -------------------------------------------


@dataclass(frozen=True)
class CodedIndex:
    """The study's coded posts (one row per post: its latest final label) in one method's space."""

    method: str
    key: tuple
    final_ids: np.ndarray
    post_ids: np.ndarray
    space: object = field(repr=False)

    @property
    def matrix(self):
        return self.space.matrix

    def scores_for(self, text: str) -> np.ndarray:
        return cosine_scores(self.matrix, self.space.transform([text]))[0]


_INDEXES: OrderedDict[tuple, CodedIndex] = OrderedDict()
_LOCK = threading.Lock()


def _finals(study_id: int):
    return FinalLabel.objects.filter(item__draw__study_id=study_id)


def coded_state(*, study_id: int) -> tuple:
    """What the fitted vectors depend on: the coded posts and their texts."""
    state = _finals(study_id).aggregate(n=Count("pk"), last=Max("pk"), decided=Max("decided_at"),
                                        edited=Max("item__post__updated_at"))
    return (state["n"], state["last"], str(state["decided"]), str(state["edited"]))


def coded_index(*, study_id: int, method: str = TFIDF) -> CodedIndex:
    """The study's coded posts fitted in ``method``'s space (from this process's cache when the
    final labels have not changed since)."""
    key = (study_id, method, *coded_state(study_id=study_id))
    with _LOCK:
        if key in _INDEXES:
            _INDEXES.move_to_end(key)
            return _INDEXES[key]
    latest: dict[int, tuple[int, str]] = {}  # post id → (final id, text): a post drawn twice counts once
    for final_id, post_id, title, body in (_finals(study_id).order_by("pk")
                                           .values_list("pk", "item__post_id", "item__post__title",
                                                        "item__post__body").iterator()):
        latest[post_id] = (final_id, post_text(title, body))
    rows = sorted((final_id, post_id, text) for post_id, (final_id, text) in latest.items())
    index = CodedIndex(method=method, key=key, final_ids=np.array([r[0] for r in rows], dtype=np.int64),
                       post_ids=np.array([r[1] for r in rows], dtype=np.int64),
                       space=space_fit(method, [r[2] for r in rows]))
    with _LOCK:
        _INDEXES[key] = index
        while len(_INDEXES) > CACHED_INDEXES:
            _INDEXES.popitem(last=False)
    return index


def visible_final_ids(*, sight: Sight) -> set[int]:
    return set(FinalLabel.objects.filter(final_label_visible_q(sight)).values_list("pk", flat=True))


@dataclass(frozen=True)
class FinalOf:
    kind: str
    category_ids: tuple[int, ...]


def finals_of(final_ids) -> dict[int, FinalOf]:
    """Final label id → its kind and categories, read now."""
    ids = [int(i) for i in final_ids]
    categories: dict[int, list[int]] = {}
    for final_id, category_id in (FinalLabelCategory.objects.filter(final_id__in=ids)
                                  .order_by("final_id", "category_id").values_list("final_id", "category_id")):
        categories.setdefault(final_id, []).append(category_id)
    return {pk: FinalOf(kind=kind, category_ids=tuple(categories.get(pk, ())))
            for pk, kind in FinalLabel.objects.filter(pk__in=ids).values_list("pk", "kind")}


# -- similar posts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarPost:
    final_id: int
    item_id: int
    post_id: int
    title: str
    score: float
    kind: str
    kind_display: str
    paths: list[str]


def similar_posts(*, study, post, sight: Sight, method: str = TFIDF, k: int = DEFAULT_K) -> list[SimilarPost]:
    """The ``k`` coded posts most similar to ``post`` (itself left out) among the final labels
    ``sight`` may see, most similar first (ties: the earlier decision first); a post sharing
    nothing with it (cosine 0 or less) is not similar."""
    index = coded_index(study_id=study.pk, method=method)
    if not len(index.final_ids):
        return []
    scores = index.scores_for(post_text(post.title, post.body))
    allowed = np.isin(index.final_ids, sorted(visible_final_ids(sight=sight))) & (index.post_ids != post.pk)
    scores = np.where(allowed, scores, -np.inf)
    order = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 1e-6]
    if not order:
        return []
    chosen = [int(index.final_ids[i]) for i in order]
    finals = finals_of(chosen)
    items = dict(FinalLabel.objects.filter(pk__in=chosen).values_list("pk", "item_id"))
    titles = dict(Post.objects.filter(pk__in=[int(index.post_ids[i]) for i in order]).values_list("pk", "title"))
    paths = tree_shape(study=study).paths()
    kinds = dict(FinalKind.choices)
    out = []
    for i, final_id in zip(order, chosen, strict=True):
        final = finals[final_id]
        post_id = int(index.post_ids[i])
        out.append(SimilarPost(final_id=final_id, item_id=items[final_id], post_id=post_id,
                               title=titles.get(post_id, ""), score=round(float(scores[i]), 3), kind=final.kind,
                               kind_display=kinds.get(final.kind, final.kind),
                               paths=[paths.get(c, "") for c in final.category_ids]))
    return out


# -- how often the nearest coded neighbour is right ------------------------------------------------


def nearest_neighbours(matrix, *, block: int = 512) -> np.ndarray:
    """For each row of a row-normalised matrix, the index of the most similar other row (cosine;
    ties: the lowest index); -1 when there is no other row."""
    n = matrix.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = cosine_scores(matrix, matrix[start:stop])
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        out[start:stop] = np.argmax(scores, axis=1)
    return out


@dataclass(frozen=True)
class NeighbourAccuracy:
    """Leave-one-out: each coded post's label guessed as its nearest coded neighbour's. A guess is
    right when the two labels are the same set (of leaves, or of their roots; False positive and
    Unclear are labels of their own). ``baseline``: guessing the most frequent label every time."""

    method: str
    n: int
    leaf_hits: int
    root_hits: int
    leaf_baseline: int
    root_baseline: int

    def _share(self, hits: int) -> float | None:
        return hits / self.n if self.n else None

    @property
    def leaf(self) -> float | None:
        return self._share(self.leaf_hits)

    @property
    def root(self) -> float | None:
        return self._share(self.root_hits)

    @property
    def leaf_baseline_share(self) -> float | None:
        return self._share(self.leaf_baseline)

    @property
    def root_baseline_share(self) -> float | None:
        return self._share(self.root_baseline)

    @property
    def method_name(self) -> str:
        return METHOD_NAMES.get(self.method, self.method)


def neighbour_hits(neighbours: np.ndarray, labels: list) -> int:
    return sum(1 for i, j in enumerate(neighbours) if j >= 0 and labels[i] == labels[j])


def most_common_count(labels: list) -> int:
    counts: dict = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return max(counts.values(), default=0)


def neighbour_accuracy_of(*, method: str, matrix, leaf_labels: list, root_labels: list) -> NeighbourAccuracy:
    """The figures for rows already in a space (pure: the benchmark and the tests call it too).
    A single row has no neighbour: n counts only rows that have one."""
    n = matrix.shape[0] if matrix.shape[0] >= 2 else 0
    neighbours = nearest_neighbours(matrix)
    return NeighbourAccuracy(method=method, n=n, leaf_hits=neighbour_hits(neighbours, leaf_labels) if n else 0,
                             root_hits=neighbour_hits(neighbours, root_labels) if n else 0,
                             leaf_baseline=most_common_count(leaf_labels) if n else 0,
                             root_baseline=most_common_count(root_labels) if n else 0)


def label_keys(finals: list[FinalOf], shape) -> tuple[list, list]:
    """Each final label as a comparable value: the set of its leaves, and of their roots."""
    leaves, roots = [], []
    for final in finals:
        if final.kind != FinalKind.CATEGORIES:
            leaves.append(frozenset({final.kind}))
            roots.append(frozenset({final.kind}))
        else:
            leaves.append(frozenset(final.category_ids))
            roots.append(frozenset(shape.root_id(c) or c for c in final.category_ids))
    return leaves, roots


_ACCURACY: OrderedDict[tuple, NeighbourAccuracy] = OrderedDict()


def neighbour_accuracy(*, study, sight: Sight, method: str = TFIDF) -> NeighbourAccuracy:
    """The study's leave-one-out nearest-neighbour accuracy over the final labels ``sight`` sees."""
    index = coded_index(study_id=study.pk, method=method)
    visible = np.isin(index.final_ids, sorted(visible_final_ids(sight=sight)))
    rows = np.flatnonzero(visible)
    finals = finals_of(index.final_ids[rows])
    labels = [finals[int(index.final_ids[i])] for i in rows]
    shape = tree_shape(study=study)
    leaves, roots = label_keys(labels, shape)
    key = (index.key, tuple(rows.tolist()), hash((tuple(leaves), tuple(roots))))
    with _LOCK:
        if key in _ACCURACY:
            return _ACCURACY[key]
    matrix = index.matrix[rows] if len(rows) else index.matrix[:0]
    figures = neighbour_accuracy_of(method=method, matrix=matrix, leaf_labels=leaves, root_labels=roots)
    with _LOCK:
        _ACCURACY[key] = figures
        while len(_ACCURACY) > CACHED_INDEXES:
            _ACCURACY.popitem(last=False)
    return figures


def neighbour_accuracy_all(*, study, sight: Sight) -> list[NeighbourAccuracy]:
    return [neighbour_accuracy(study=study, sight=sight, method=m) for m in methods_available()]
