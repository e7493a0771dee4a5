"""Evaluate a keyword rule over N questions (default 1,000,000) in PostgreSQL.

    .venv/bin/python benchmarks/question_set_bench.py [--questions 1000000] [--database-url URL] [--keep]

Fills a fresh study with synthetic questions by COPY (titles, ~0.6 KB HTML
bodies with a <pre><code> block, tags; ~3 % mention a cloud word outside code,
~3 % only inside code), then evaluates two sets the way the page does:

  B: tagged tensorflow or keras or pytorch        (database only)
  C: within B, any of cloud/server/serving in title and body outside code

and prints the wall time of each and the split the service measures: time
waiting for the database (streaming rows, counts, filters), time in Python
(stripping code and matching words), time writing members. A report, never a
test: nothing fails on speed.

Without --database-url, postgresql://postgres@127.0.0.1:5432/taxonomist_bench is
created if missing and migrated. The study is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/taxonomist_bench"
WORDS = ("model", "layer", "tensor", "shape", "batch", "epoch", "loss", "gradient", "export", "convert",
         "predict", "input", "output", "error", "version", "install", "memory", "thread", "latency", "graph")
TAGS = ("tensorflow", "keras", "pytorch", "python", "numpy", "pandas", "java", "javascript", "docker", "android")


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": url})


def fill(study_id: int, n: int, seed: int = 7) -> float:
    from django.db import connection

    rng = random.Random(seed)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    columns = ("study_id", "site", "so_id", "post_type", "title", "body", "tags", "creation_date",
               "owner_user_id", "updated_at", "owner_display_name", "content_license")
    t0 = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY corpus_post ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for i in range(1, n + 1):
            words = " ".join(rng.choice(WORDS) for _ in range(60))
            r = rng.random()
            outside = " We deploy it on a cloud server." if r < 0.03 else ""
            inside = "server = start_cloud()" if 0.03 <= r < 0.06 else "x = model(batch)"
            body = f"<p>{words}.{outside}</p>\n<pre><code>{inside}\nprint(x.shape)</code></pre>\n<p>{words[:120]}</p>"
            tags = "|" + "|".join(rng.sample(TAGS, 2)) + "|"
            copy.write_row((study_id, "stackoverflow.com", i, 1, f"Question {i}: {words[:50]}", body, tags,
                            start + timedelta(minutes=5 * i), rng.randint(1, n // 5), now, "", "CC BY-SA 4.0"))
    return time.perf_counter() - t0


def django_setup(database_url: str | None) -> None:
    """Point Django at the given database (or a fresh benchmark one) and set it up."""
    url = database_url or DEFAULT_DB
    if not database_url:
        ensure_database(url)
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()


def _delete_study(study_id: int) -> None:
    """In SQL: Django's collector would load a million posts to delete them."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        draws = "SELECT id FROM sampling_sampledraw WHERE study_id = %s"
        cursor.execute("DELETE FROM sampling_stratumpopulation WHERE stratum_id IN "
                       f"(SELECT id FROM sampling_samplestratum WHERE draw_id IN ({draws}))", [study_id])
        for table in ("sampling_ratertally", "sampling_assignment", "sampling_sampleitem", "sampling_samplestratum"):
            cursor.execute(f"DELETE FROM {table} WHERE draw_id IN ({draws})", [study_id])
        cursor.execute("DELETE FROM sampling_sampledraw WHERE study_id = %s", [study_id])
        sets = "SELECT id FROM selection_questionset WHERE study_id = %s"
        for table, column in (("selection_questionsetmember", "question_set_id"),
                              ("selection_manualdecision", "question_set_id"),
                              ("selection_setreference", "question_set_id")):
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({sets})", [study_id])
        for table in ("selection_questionset", "corpus_comment", "corpus_post", "jobs_job", "studies_membership"):
            cursor.execute(f"DELETE FROM {table} WHERE study_id = %s", [study_id])
        cursor.execute("DELETE FROM studies_study WHERE id = %s", [study_id])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup(args.database_url)
    from sampling.question_sets.services import QuestionSetRule, question_set_evaluate_one, question_set_save
    from annotator.studies.models import Study

    study = Study.objects.create(slug=f"bench-sets-{int(time.time())}", name="question set benchmark")
    try:
        seconds = fill(study.pk, args.questions)
        print(f"filled {args.questions:,} questions in {seconds:.1f} s")
        b = question_set_save(study=study, rule=QuestionSetRule(name="B", tags=["tensorflow", "keras", "pytorch"]))
        c = question_set_save(study=study, rule=QuestionSetRule(
            name="C", within=["B"], words=["cloud", "server", "serving"]))
        print(f"\n{'set':<4}{'members':>10}{'wall s':>9}{'database s':>12}{'python s':>10}{'writing s':>11}"
              f"{'rows/s':>10}")
        for question_set in (b, c):
            t0 = time.perf_counter()
            result = question_set_evaluate_one(question_set=question_set)
            wall = time.perf_counter() - t0
            split = result["seconds"]
            scanned = result["funnel"][0]["after"]
            print(f"{question_set.name:<4}{result['members']:>10,}{wall:>9.2f}{split['database']:>12.2f}"
                  f"{split['python']:>10.2f}{split['writing members']:>11.2f}{scanned / wall:>10,.0f}")
        share = split["python"] / max(wall, 1e-9)
        print(f"\nC: {share:.0%} of the time in Python (code stripping and matching), "
              f"{split['database'] / wall:.0%} waiting for the database, "
              f"{split['writing members'] / wall:.0%} writing members.")
    finally:
        if not args.keep:
            _delete_study(study.pk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
