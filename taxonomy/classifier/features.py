"""What a classifier reads of a post, and the scikit-learn pipeline that turns it into features.

No Django here. A post is three documents:

- **text**: the title and the body's visible text without its code (``<pre>`` and ``<code>``
  split out with lxml, the body being the dump's HTML);
- **code**: the identifiers in those code blocks, a feature group of its own (code vocabulary
  such as ``tf.lite`` or ``onnx`` says a lot, but must not drown the prose);
- **tags**: the post's tags, one token each.

Feature groups (each a TF-IDF with sublinear term frequency and l2 norm, stacked side by side):
word 1–2-grams and character 3–5-grams (within word boundaries) of the text, identifiers of the
code, the tags, and, when the user gave keyword lists, one column per category counting its
keywords in title + text (times ``keyword_weight``): the published study's hand-picked keywords
"weighted in" as extra features. The model is one-vs-rest logistic regression (liblinear,
class weights balanced), whose probabilities are the scores; a post gets every category scoring
at least ``threshold``, and its best one when none does (every training post has a category).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from lxml import etree, html
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

# Every parameter a model records; a training request may change any of them.
DEFAULT_PARAMS: dict = {
    "folds": 5,
    "word_ngram_max": 2,
    "char_ngram_min": 3,
    "char_ngram_max": 5,
    "min_df": 1,
    "max_features_word": 50_000,
    "max_features_char": 50_000,
    "max_features_code": 20_000,
    "C": 4.0,
    "class_weight": "balanced",
    "threshold": 0.5,
    "keyword_weight": 3.0,
    "use_code": True,
    "use_tags": True,
    "use_char": True,
}

TEXT, CODE, TAGS, KEYWORD_TEXT = 0, 1, 2, 3
NO_CODE, NO_TAGS = "__nocode__", "__notags__"  # so that a group never has an empty vocabulary
_IDENTIFIER = r"(?u)\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\b"
_SPACE = re.compile(r"\s+")


class PostDocuments(NamedTuple):
    text: str
    code: str
    tags: str


def body_split(body_html: str) -> tuple[str, str]:
    """(visible text without code, code) of a post body."""
    if not body_html or not body_html.strip():
        return "", ""
    try:
        root = html.fragment_fromstring(body_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _SPACE.sub(" ", body_html).strip(), ""
    code_parts = []
    for element in root.xpath(".//pre | .//code[not(ancestor::pre)]"):
        code_parts.append(element.text_content())
    for element in list(root.xpath(".//pre | .//code[not(ancestor::pre)]")):
        tail = element.tail
        parent = element.getparent()
        if parent is None:
            continue
        previous = element.getprevious()
        if tail:  # keep the prose after the code
            if previous is not None:
                previous.tail = (previous.tail or "") + " " + tail
            else:
                parent.text = (parent.text or "") + " " + tail
        parent.remove(element)
    # pieces joined by a space, so that paragraphs and list items do not run together
    text = _SPACE.sub(" ", " ".join(root.itertext())).strip()
    return text, "\n".join(code_parts)


def post_documents(title: str, body_html: str, tags: str) -> PostDocuments:
    text, code = body_split(body_html or "")
    tag_list = [t for t in (tags or "").split("|") if t]
    return PostDocuments(text=f"{title or ''}\n{text}".strip(), code=code or NO_CODE,
                         tags=" ".join(tag_list) or NO_TAGS)


def documents_matrix(documents: Sequence[PostDocuments]) -> np.ndarray:
    """The column layout the pipeline reads: text, code, tags, and the text again for keywords."""
    rows = np.empty((len(documents), 4), dtype=object)
    for i, doc in enumerate(documents):
        rows[i] = (doc.text, doc.code, doc.tags, doc.text)
    return rows


def _split_tags(value: str) -> list[str]:
    return value.split()


class KeywordCounts(TransformerMixin, BaseEstimator):
    """One column per category: how many of its keywords (whole words, case-insensitive) the
    text holds. ``keywords`` is a list (one entry per category, in the model's order) of
    word lists; an empty list gives a column of zeros."""

    def __init__(self, keywords=(), weight: float = 1.0):
        self.keywords = keywords
        self.weight = weight

    def fit(self, X, y=None):
        self.patterns_ = [keyword_pattern(words) for words in self.keywords]
        return self

    def transform(self, X):
        column = X if X.ndim == 1 else X[:, 0]
        out = np.zeros((len(column), len(self.patterns_)), dtype=np.float64)
        for j, pattern in enumerate(self.patterns_):
            if pattern is None:
                continue
            for i, text in enumerate(column):
                out[i, j] = len(set(m.group(0).lower() for m in pattern.finditer(text)))
        return sparse.csr_matrix(out * self.weight)


def keyword_pattern(words: Iterable[str]) -> re.Pattern | None:
    words = sorted({w.strip().lower() for w in words if w and w.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


def pipeline_build(*, params: dict, keywords: Sequence[Sequence[str]] = (), seed: int = 0) -> Pipeline:
    """The untrained pipeline for ``params`` (DEFAULT_PARAMS completed by the request)."""
    p = {**DEFAULT_PARAMS, **params}
    groups = [("word", TfidfVectorizer(ngram_range=(1, p["word_ngram_max"]), min_df=p["min_df"],
                                       max_features=p["max_features_word"], sublinear_tf=True,
                                       dtype=np.float32), TEXT)]
    if p["use_char"]:
        groups.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(p["char_ngram_min"],
                                                                                p["char_ngram_max"]),
                                               min_df=p["min_df"], max_features=p["max_features_char"],
                                               sublinear_tf=True, dtype=np.float32), TEXT))
    if p["use_code"]:
        groups.append(("code", TfidfVectorizer(token_pattern=_IDENTIFIER, lowercase=False, min_df=p["min_df"],
                                               max_features=p["max_features_code"], sublinear_tf=True,
                                               dtype=np.float32), CODE))
    if p["use_tags"]:
        groups.append(("tags", TfidfVectorizer(tokenizer=_split_tags, token_pattern=None, lowercase=True,
                                               dtype=np.float32), TAGS))
    if any(keywords):
        groups.append(("keywords", KeywordCounts(keywords=[list(k) for k in keywords],
                                                 weight=p["keyword_weight"]), KEYWORD_TEXT))
    model = OneVsRestClassifier(LogisticRegression(C=p["C"], class_weight=p["class_weight"], solver="liblinear",
                                                   random_state=seed, max_iter=1000))
    return Pipeline([("features", ColumnTransformer(groups, sparse_threshold=1.0)), ("model", model)])


def scores_decide(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean n×k: every category scoring ≥ ``threshold``, else the best one."""
    decided = scores >= threshold
    none = ~decided.any(axis=1)
    if none.any():
        best = scores[none].argmax(axis=1)
        decided[np.flatnonzero(none), best] = True
    return decided


def pipeline_scores(pipeline: Pipeline, matrix: np.ndarray) -> np.ndarray:
    """n×k scores (probabilities per category) of a fitted pipeline."""
    scores = pipeline.predict_proba(matrix)
    return np.asarray(scores, dtype=np.float64)
