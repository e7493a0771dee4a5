"""Export a study with 100,000 sampled posts and 300,000 labels, in PostgreSQL: each export step.

    .venv/bin/python benchmarks/export_bench.py [--items 100000] [--raters 4] [--pilot-share 0.25]
                                                [--steps taxonomy_csv,items_csv,archive,package]
                                                [--database-url URL] [--keep]

Fills a fresh study by COPY: as many questions as items, one draw in labelling
with arbitration started, three strata; a quarter of the items are pilot items
with the team's final label, the rest go to four raters each (75,000 × 4 =
300,000 labels: 1–2 leaves of a 60-leaf tree, or a verdict; a note on one in
five), and every reliability item has a final label (agreed, or arbitrated
with a reason). Then runs each export step as the export job does, to a file
as the study's owner, each in a fresh process: the taxonomy CSV (the results'
counts), the items CSV, the study archive and the replication package (which
holds the archive, both CSVs, the figures, the saturation curve, the methods
report and the codebook). It prints each step's wall time, the bytes written,
and the process's peak memory (VmHWM) next to what it held before the export
(Django loaded, two queries made). Target per export: under 10 s and 200 MB.
A report, never a test: nothing fails on speed.

The database is --database-url, else DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/taxonomist_bench; it is created if missing
and migrated. The study is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from draw_bench import fill  # noqa: E402
from labelling_bench import copy_rows, delete_all  # noqa: E402
from question_set_bench import DEFAULT_DB, ROOT, django_setup, ensure_database  # noqa: E402

NOTE_EVERY = 5


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM where Linux gives it: ru_maxrss would count the
    parent's memory at the fork that started this process (it survives the exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_cpu_seconds() -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (user + system), read from
    /proc when the server runs on this machine; None otherwise. With the process's own CPU
    time it tells what an export costs when other work shares the two cores (wall time then
    stretches; CPU time barely does)."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def build(study, *, items_n: int, raters, owner, pilot_share: float) -> dict:
    """The draw, items, assignments, labels and final labels, by COPY."""
    from django.db import connection
    from django.utils import timezone

    from annotator.corpus.models import Post
    from sampling.draws.models import SampleDraw, SampleItem, SampleStratum
    from taxonomy.review.arbitration.models import FinalMethod
    from taxonomy.tree.services import category_add

    rng = random.Random(17)
    now = timezone.now()
    pilot_n = int(items_n * pilot_share)
    draw = SampleDraw.objects.create(study=study, version=1, status="labelling", seed=1, raters_per_item=len(raters),
                                     rater_ids=[r.pk for r in raters], drawn_at=now, labelling_started_at=now,
                                     arbitration_started_at=now, arbitration_started_by=owner,
                                     sample_size=items_n, pilot_size=pilot_n)
    strata = [SampleStratum.objects.create(draw=draw, position=i, name=name, mode="census", set_size=items_n,
                                           population=items_n, n=items_n, drawn=items_n)
              for i, name in enumerate(("Server/Cloud", "Mobile", "Browser"))]
    post_ids = list(Post.objects.filter(study=study).order_by("pk").values_list("pk", flat=True)[:items_n])
    rng.shuffle(post_ids)
    copy_rows("sampling_sampleitem", ("draw_id", "stratum_id", "post_id", "part"),
              ((draw.pk, strata[i % 3].pk, pid, "pilot" if i < pilot_n else "reliability")
               for i, pid in enumerate(post_ids)))
    items = list(SampleItem.objects.filter(draw=draw).order_by("pk").values_list("pk", "part"))
    reliability = [pk for pk, part in items if part == "reliability"]
    pilot = [pk for pk, part in items if part == "pilot"]
    copy_rows("sampling_assignment", ("draw_id", "item_id", "rater_id", "submitted_at"),
              ((draw.pk, item_id, rater.pk, now) for item_id in reliability for rater in raters))

    roots = [category_add(study=study, name=f"Root {r}", actor=owner) for r in range(4)]
    inner = [category_add(study=study, name=f"Inner {r}.{i}", actor=owner, parent=root)
             for r, root in enumerate(roots) for i in range(3)]
    leaves = [category_add(study=study, name=f"Leaf {c.name[6:]}.{j}", actor=owner, parent=c).pk
              for c in inner for j in range(5)]

    kinds = ["categories"] * 8 + ["false_positive", "unclear"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM sampling_assignment WHERE draw_id = %s ORDER BY id", [draw.pk])
        assignments = [row[0] for row in cursor.fetchall()]
    copy_rows("labelling_label", ("assignment_id", "kind", "note", "submitted_at", "updated_at", "revision"),
              ((a, rng.choice(kinds), f"note {a}, \"quoted\"" if a % NOTE_EVERY == 0 else "", now, now, 1)
               for a in assignments))
    with connection.cursor() as cursor:
        cursor.execute("SELECT l.id FROM labelling_label l JOIN sampling_assignment a ON a.id = l.assignment_id "
                       "WHERE a.draw_id = %s AND l.kind = 'categories'", [draw.pk])
        label_ids = [row[0] for row in cursor.fetchall()]
    copy_rows("labelling_labelcategory", ("label_id", "category_id"),
              ((lid, c) for lid in label_ids for c in rng.sample(leaves, rng.choice((1, 1, 2)))))

    # every item decided: pilot items by the team, reliability ones agreed or arbitrated
    pilot_method = FinalMethod.PILOT.value if hasattr(FinalMethod, "PILOT") else FinalMethod.ARBITRATED.value
    finals = [(pk, pilot_method, owner.pk, "") for pk in pilot]
    finals += [(pk, "agreed", None, "") if i % 3 else (pk, "arbitrated", owner.pk, f"rater {i % 4} was right")
               for i, pk in enumerate(reliability)]
    copy_rows("arbitration_finallabel", ("item_id", "kind", "method", "decided_by_id", "decided_at", "reason"),
              ((pk, "categories" if pk % 10 else "false_positive", method, by, now, reason)
               for pk, method, by, reason in finals))
    with connection.cursor() as cursor:
        cursor.execute("SELECT f.id FROM arbitration_finallabel f JOIN sampling_sampleitem i ON i.id = f.item_id "
                       "WHERE i.draw_id = %s AND f.kind = 'categories'", [draw.pk])
        final_ids = [row[0] for row in cursor.fetchall()]
    copy_rows("arbitration_finallabelcategory", ("final_id", "category_id"),
              ((fid, c) for fid in final_ids for c in rng.sample(leaves, rng.choice((1, 1, 1, 2)))))
    with connection.cursor() as cursor:
        # as autovacuum would have it by the time a study is exported (the planner needs the draws' too)
        for table in ("corpus_post", "sampling_sampledraw", "sampling_samplestratum", "sampling_sampleitem",
                      "sampling_assignment", "labelling_label", "labelling_labelcategory", "arbitration_finallabel",
                      "arbitration_finallabelcategory", "tree_category", "auth_user"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"items": len(items), "pilot": len(pilot), "labels": len(assignments), "finals": len(finals),
            "leaves": len(leaves)}


def delete(study_id: int, user_ids: list[int]) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        finals = ("SELECT f.id FROM arbitration_finallabel f JOIN sampling_sampleitem i ON i.id = f.item_id "
                  "JOIN sampling_sampledraw d ON d.id = i.draw_id WHERE d.study_id = %s")
        cursor.execute(f"DELETE FROM arbitration_finallabelcategory WHERE final_id IN ({finals})", [study_id])
        cursor.execute(f"DELETE FROM arbitration_finallabel WHERE id IN ({finals})", [study_id])
    delete_all(study_id, user_ids)


def _step_taxonomy_csv(study, user, out, progress):
    from taxonomy.results.selectors import results_get
    from taxonomy.results.taxonomy_csv import taxonomy_csv_write

    results = results_get(study=study, user=user)
    taxonomy_csv_write(results=results, out=out)
    return len(results.counts.nodes) + 3


def _step_items_csv(study, user, out, progress):
    from taxonomy.results.items_csv import items_csv_write

    return items_csv_write(study=study, out=out, user=user, progress=lambda done, total: progress(done))


def _step_archive(study, user, out, progress):
    from taxonomy.results.archive import study_archive_write

    return sum(study_archive_write(study=study, out=out, progress=lambda section, rows: progress(rows)).values())


def _step_package(study, user, out, progress):
    from taxonomy.results.package import replication_package_write

    replication_package_write(study=study, user=user, out=out, progress=lambda done, total, phase=None: progress(done))
    return 0


STEPS = {"taxonomy_csv": _step_taxonomy_csv, "items_csv": _step_items_csv, "archive": _step_archive,
         "package": _step_package}


def export_only(step: str, study_id: int, user_id: int) -> int:
    """One export step alone, in this (fresh) process; prints one JSON line."""
    from django.contrib.auth import get_user_model

    from annotator.studies.models import Study

    study = Study.objects.get(pk=study_id)
    user = get_user_model().objects.get(pk=user_id)
    before = peak_mb()
    progress_calls = []
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, step)
        db_cpu = backend_cpu_seconds()
        cpu = time.process_time()
        t0 = time.perf_counter()
        with open(path, "wb") as out:
            rows = STEPS[step](study, user, out, progress_calls.append)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu
        db_after = backend_cpu_seconds()
        size = os.path.getsize(path)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "db_cpu": None if db_cpu is None or db_after is None
                      else db_after - db_cpu, "rows": rows, "bytes": size, "peak_mb": peak_mb(),
                      "before_mb": before, "progress_calls": len(progress_calls)}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--raters", type=int, default=4)
    parser.add_argument("--pilot-share", type=float, default=0.25)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--steps", default=",".join(STEPS), help="which exports, comma-separated")
    parser.add_argument("--export-only", nargs=3, metavar=("STEP", "STUDY_ID", "USER_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DB
    # As the export job runs in production: no query log, no debug pages.
    os.environ.setdefault("DEBUG", "0")
    if not args.export_only:
        ensure_database(url)
    django_setup(url)
    if args.export_only:
        step, study_id, user_id = args.export_only
        return export_only(step, int(study_id), int(user_id))

    from django.contrib.auth import get_user_model

    from annotator.studies.models import Membership, Study

    User = get_user_model()
    study = Study.objects.create(slug=f"bench-export-{int(time.time())}", name="export benchmark")
    owner = User.objects.create(username=f"bench-items-{study.pk}-owner")
    raters = [User.objects.create(username=f"bench-items-{study.pk}-r{i}") for i in range(args.raters)]
    Membership.objects.create(study=study, user=owner, is_owner=True, is_arbitrator=True)
    for user in raters:
        Membership.objects.create(study=study, user=user, is_rater=True)
    try:
        t0 = time.perf_counter()
        fill(study.pk, args.items)
        built = build(study, items_n=args.items, raters=raters, owner=owner, pilot_share=args.pilot_share)
        print(f"filled {built['items']:,} sampled posts ({built['pilot']:,} pilot), {built['labels']:,} labels, "
              f"{built['finals']:,} final labels, {built['leaves']} leaves in {time.perf_counter() - t0:.1f} s")
        for step in [s.strip() for s in args.steps.split(",") if s.strip()]:
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--database-url", url,
                 "--export-only", step, str(study.pk), str(owner.pk)],
                cwd=ROOT, check=True, capture_output=True, text=True, env={**os.environ, "DATABASE_URL": url})
            result = json.loads(child.stdout.strip().splitlines()[-1])
            ok = result["seconds"] < 10 and result["peak_mb"] < 200
            db_cpu = "" if result["db_cpu"] is None else f" + database {result['db_cpu']:.1f} s"
            print(f"{step:<13} {result['seconds']:6.2f} s (cpu {result['cpu']:.1f} s{db_cpu})  "
                  f"{result['bytes'] / 1e6:7.1f} MB written  "
                  f"{result['rows']:>9,} rows  peak {result['peak_mb']:4.0f} MB (held {result['before_mb']:.0f} MB "
                  f"before; {result['progress_calls']} progress reports)  target < 10 s, < 200 MB: "
                  f"{'ok' if ok else 'MISSED'}")
    finally:
        if not args.keep:
            delete(study.pk, [owner.pk, *(r.pk for r in raters)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
