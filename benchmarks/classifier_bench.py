"""Train the classifier on 2,000 labelled posts and predict 1,000,000: time and peak memory.

    .venv/bin/python benchmarks/classifier_bench.py [--train 2000] [--predict 1000000] [--batch 5000]
                                                     [--db-posts 0] [--database-url URL] [--seed 7]

Posts are generated with the words of the test corpus (tests/factories.py: TOPIC_WORDS, six
leaves under three roots), about 80 words of prose and a code block each; in 40 % of the posts
three of the four topic words come from another leaf, so that the figures are not all 1.0. Prints:

1. training: the time of the 5-fold cross-validation (model and keyword baseline) and of the
   final fit on every post, the macro F1, and the size of the stored pipeline;
2. prediction in batches (``--batch``, as the estimate job does): posts per second and the
   process's peak resident memory after the first batch and at the end (constant memory: the
   two stay close, whatever ``--predict`` is), plus tracemalloc's peak for one batch;
3. with ``--db-posts N``: the whole estimate job (a study of N unsampled posts in a question
   set, in the database of ``--database-url`` or ``DATABASE_URL``, or the embedded SQLite):
   reading in batches, predicting, storing each prediction, and the adjusted shares.

A report, never a test: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
import tracemalloc

import numpy as np

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT_DIR)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def job_peak_reset() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux: VmHWM), so that the job's own peak
    can be read after the database was filled; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_mb(field: str = "VmHWM") -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def generator(seed: int, noise: float = 0.4):
    from tests.factories import COMMON_WORDS, ROOT_WORDS, TOPIC_WORDS

    rng = random.Random(seed)
    topics = [(root, leaf) for root, leaves in TOPIC_WORDS.items() for leaf in leaves]
    filler = ("the a is of to in it when I my this that with for on but not how can".split())

    def post(i: int) -> tuple[str, str, str, int]:
        t = i % len(topics)
        root, leaf = topics[t]
        own = rng.sample(TOPIC_WORDS[root][leaf], 4)
        if rng.random() < noise:
            other_root, other_leaf = rng.choice(topics)
            own[:3] = rng.sample(TOPIC_WORDS[other_root][other_leaf], 3)
        words = own + rng.sample(ROOT_WORDS[root], 1) + rng.choices(COMMON_WORDS, k=20) + rng.choices(filler, k=55)
        rng.shuffle(words)
        title = " ".join(words[:6]).capitalize()
        body = (f"<p>{' '.join(words[6:40])}.</p><pre><code>import tensorflow as tf\nmodel = tf.keras.models."
                f"load_model('model.h5')\n</code></pre><p>{' '.join(words[40:])}.</p>")
        return title, body, "|tensorflow|", t

    return post


def train(args) -> tuple[object, dict, np.ndarray, list]:
    from taxonomy.classifier.features import DEFAULT_PARAMS, documents_matrix, pipeline_build, post_documents
    from taxonomy.classifier.training import cross_validate

    post = generator(args.seed)
    rows = [post(i) for i in range(args.train)]
    labels = np.zeros((len(rows), 6), dtype=bool)
    labels[np.arange(len(rows)), [r[3] for r in rows]] = True
    matrix = documents_matrix([post_documents(t, b, g) for t, b, g, _ in rows])
    params = dict(DEFAULT_PARAMS)
    t0 = time.perf_counter()
    report = cross_validate(matrix=matrix, labels=labels, params=params, keywords=[], seed=args.seed)
    t1 = time.perf_counter()
    pipeline = pipeline_build(params=params, seed=args.seed)
    pipeline.fit(matrix, labels.astype(int))
    t2 = time.perf_counter()
    from taxonomy.classifier.services import _pipeline_dump

    size = len(_pipeline_dump(pipeline))
    print(f"training on {args.train:,} posts (6 categories, {params['folds']} folds)")
    print(f"  cross-validation (model + keyword baseline): {t1 - t0:.1f} s")
    print(f"  final fit: {t2 - t1:.1f} s; stored pipeline {size / 1e6:.1f} MB")
    print(f"  macro F1 {report['model']['macro']['f1']['mean']:.3f} ± {report['model']['macro']['f1']['sd']:.3f}"
          f" (baseline {report['baseline']['macro']['f1']['mean']:.3f}); peak RSS {peak_rss_mb():.0f} MB")
    return pipeline, report, labels, [r for r in rows]


def predict(args, pipeline) -> None:
    from taxonomy.classifier.features import documents_matrix, pipeline_scores, post_documents, scores_decide

    post = generator(args.seed + 1)
    counts = np.zeros(6, dtype=np.int64)
    done, timed, predicting, first_batch_rss = 0, 0, 0.0, None
    start = time.perf_counter()
    while done < args.predict:
        n = min(args.batch, args.predict - done)
        rows = [post(done + i) for i in range(n)]
        t0 = time.perf_counter()
        if done == args.batch:  # one batch under tracemalloc (it slows Python down: once only)
            tracemalloc.start()
        matrix = documents_matrix([post_documents(t, b, g) for t, b, g, _ in rows])
        counts += scores_decide(pipeline_scores(pipeline, matrix), 0.5).sum(axis=0)
        if tracemalloc.is_tracing():
            batch_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  tracemalloc peak of one batch of {n:,}: {batch_peak / 1e6:.0f} MB (its time not counted)")
        else:
            predicting += time.perf_counter() - t0
            timed += n
        done += n
        if first_batch_rss is None:
            first_batch_rss = peak_rss_mb()
        if done % (args.batch * 40) == 0:
            print(f"  {done:,} predicted, {timed / predicting:,.0f} posts/s, peak RSS {peak_rss_mb():.0f} MB",
                  flush=True)
    total = time.perf_counter() - start
    print(f"predicting {args.predict:,} posts in batches of {args.batch:,}: {timed / predicting:,.0f} posts/s for the "
          f"features and the model ({total:.0f} s in all, with generating the posts)")
    print(f"  peak RSS after the first batch {first_batch_rss:.0f} MB, at the end {peak_rss_mb():.0f} MB")
    print(f"  shares predicted: {', '.join(f'{c / args.predict:.3f}' for c in counts)}")


def database_run(args, pipeline, report, labels, rows) -> None:
    """The estimate job end to end on ``--db-posts`` unsampled posts."""
    from django.utils import timezone

    from annotator.corpus.models import Post, PostType
    from annotator.jobs.models import Job, JobKind
    from annotator.jobs.runner import job_run
    from sampling.question_sets.models import QuestionSet, QuestionSetMember
    from annotator.studies.models import Study
    from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel
    from taxonomy.classifier.services import _pipeline_dump

    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a fresh database (the embedded SQLite by default)
    study = Study.objects.create(name=f"Classifier bench {time.time():.0f}", slug=f"classifier-bench-{time.time():.0f}")
    now = timezone.now()
    post = generator(args.seed + 2)
    question_set = QuestionSet.objects.create(study=study, name="All", evaluated_at=now, member_count=args.db_posts)
    t0 = time.perf_counter()
    for start in range(0, args.db_posts, 10_000):
        made = Post.objects.bulk_create(
            Post(study=study, site="stackoverflow.com", so_id=start + i + 1, post_type=PostType.QUESTION, title=t,
                 body=b, tags=g, creation_date=now, updated_at=now)
            for i, (t, b, g, _) in enumerate(post(start + i) for i in range(min(10_000, args.db_posts - start))))
        QuestionSetMember.objects.bulk_create(QuestionSetMember(question_set=question_set, post=p) for p in made)
    print(f"database: {args.db_posts:,} posts written in {time.perf_counter() - t0:.0f} s")
    categories = [{"id": j + 1, "path": f"category {j + 1}", "posts": int(labels[:, j].sum())} for j in range(6)]
    model = ClassifierModel.objects.create(
        study=study, level="leaf", seed=args.seed, params={"threshold": 0.5, "folds": report["folds"]},
        taxonomy_version=0, categories=categories, cv_report=report, pipeline=_pipeline_dump(pipeline),
        training_items=[[i, [int(np.flatnonzero(row)[0]) + 1]] for i, row in enumerate(labels)],
        trained_at=now)
    estimate = ClassifierEstimate.objects.create(study=study, model=model, question_set=question_set,
                                                 question_set_name="All", seed=1, taxonomy_version=0)
    job = Job.objects.create(study=study, kind=JobKind.CLASSIFIER_ESTIMATE, params={"estimate": estimate.pk})
    import gc

    gc.collect()
    reset = job_peak_reset()
    before = vm_mb("VmRSS") if reset else float("nan")
    t0 = time.perf_counter()
    job_run(job_id=job.pk)
    seconds = time.perf_counter() - t0
    job.refresh_from_db()
    estimate.refresh_from_db()
    peak = (f"RSS {before:.0f} MB at the start (the posts just written included), peak during the job "
            f"{vm_mb():.0f} MB" if reset else f"peak RSS {peak_rss_mb():.0f} MB")
    print(f"  estimate job: {job.status} {job.error} in {seconds:.0f} s ({args.db_posts / seconds:,.0f} posts/s, "
          f"predictions stored); {peak}")
    for share in estimate.shares:
        print(f"    {share['path']}: observed {share['observed']:.3f}, estimated {share['estimate']:.3f} "
              f"[{share['low']:.3f}, {share['high']:.3f}]")
    if not args.keep:
        study.delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--predict", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--db-posts", type=int, default=0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database study")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.database_url:
        if args.database_url.startswith("postgres") and args.db_posts:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from question_set_bench import ensure_database

            ensure_database(args.database_url)  # created and migrated when missing
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    os.environ.setdefault("DEBUG", "0")  # as a worker runs: no log of every statement
    import django

    django.setup()
    pipeline, report, labels, rows = train(args)
    if args.predict:
        predict(args, pipeline)
    if args.db_posts:
        database_run(args, pipeline, report, labels, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
