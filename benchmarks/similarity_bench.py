"""Similar coded posts on a generated study: nearest-neighbour accuracy of each method and
time per query.

    .venv/bin/python benchmarks/similarity_bench.py [--coded 3000] [--queries 200] [--noise 0.3] [--seed 7]

The study is generated in memory with the words of the test corpus (tests/factories.py:
TOPIC_WORDS, six leaves under three roots): each post mixes its leaf's words, its root's and
words every post uses, and with probability ``--noise`` half of its topic words come from another
leaf (so that the figures are not all 100 %). Prints, for TF-IDF and (when the extra
``embeddings`` is installed) sentence embeddings: the time to fit the coded posts, the
leave-one-out nearest-neighbour accuracy at the leaves and at the roots with the
most-frequent-label baseline, and the mean time of one similar-posts query (text → the k
nearest among the coded posts). A report, never a test: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")

import django  # noqa: E402

django.setup()

from taxonomy.classifier import similarity  # noqa: E402
from tests.factories import COMMON_WORDS, ROOT_WORDS, TOPIC_WORDS  # noqa: E402


def generate(*, n: int, noise: float, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(texts, leaf of each, root of each)."""
    rng = random.Random(seed)
    topics = [(root, leaf) for root, leaves in TOPIC_WORDS.items() for leaf in leaves]
    texts, leaves, roots = [], [], []
    for i in range(n):
        root, leaf = topics[i % len(topics)]
        own = rng.sample(TOPIC_WORDS[root][leaf], 4)
        if rng.random() < noise:
            other_root, other_leaf = rng.choice(topics)
            own[:2] = rng.sample(TOPIC_WORDS[other_root][other_leaf], 2)
        words = own + rng.sample(ROOT_WORDS[root], 1) + rng.sample(COMMON_WORDS, 6)
        rng.shuffle(words)
        texts.append(similarity.post_text(" ".join(words[:4]).capitalize(), f"<p>{' '.join(words[4:])}</p>"))
        leaves.append(leaf)
        roots.append(root)
    return texts, leaves, roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coded", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    texts, leaves, roots = generate(n=args.coded + args.queries, noise=args.noise, seed=args.seed)
    coded, queries = texts[:args.coded], texts[args.coded:]
    print(f"generated study: {args.coded} coded posts, {len(TOPIC_WORDS)} roots, "
          f"{sum(len(v) for v in TOPIC_WORDS.values())} leaves, noise {args.noise}, seed {args.seed}")
    if not similarity.embeddings_available():
        print("sentence embeddings: not installed (pip install -e '.[embeddings]'); TF-IDF only")
    print(f"{'method':<34} {'fit s':>7} {'n':>6} {'leaf':>7} {'root':>7} {'base leaf':>9} {'base root':>9} "
          f"{'query ms':>9}")
    for method in similarity.methods_available():
        started = time.perf_counter()
        space = similarity.space_fit(method, coded)
        fitted = time.perf_counter() - started
        figures = similarity.neighbour_accuracy_of(
            method=method, matrix=space.matrix,
            leaf_labels=[frozenset({x}) for x in leaves[:args.coded]],
            root_labels=[frozenset({x}) for x in roots[:args.coded]])
        started = time.perf_counter()
        for text in queries:  # one query as the panel makes it: vectorise, score every coded post, take the top 5
            scores = similarity.cosine_scores(space.matrix, space.transform([text]))[0]
            np.argsort(-scores, kind="stable")[:similarity.DEFAULT_K]
        per_query = (time.perf_counter() - started) / max(len(queries), 1) * 1000
        print(f"{similarity.METHOD_NAMES[method]:<34} {fitted:>7.2f} {figures.n:>6} {figures.leaf:>7.1%} "
              f"{figures.root:>7.1%} {figures.leaf_baseline_share:>9.1%} {figures.root_baseline_share:>9.1%} "
              f"{per_query:>9.2f}")


if __name__ == "__main__":
    main()
