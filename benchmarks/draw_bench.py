"""Draw and assign a 400-post sample from strata totalling 1,000,000 posts, in PostgreSQL.

    .venv/bin/python benchmarks/draw_bench.py [--posts 1000000] [--database-url URL] [--keep]

Fills a fresh study with synthetic questions by COPY and three evaluated
question sets (60 % / 30 % / 10 % of the posts, with 2 % of the second also
in the first, so the overlap rule has work to do), then times what an owner
does: the design preview (the N of each stratum after overlap, counted in the
database), the draw job (read the populations as (site, id) with their posts,
draw, keep their compressed snapshots and digests, write items, split 30 %
pilot, assign to 2 of 3 raters), the population list of the draw page's CSV,
the reproducibility check of the draw page, and the draw page's selectors.
Twice: a 400-post sample (n set by hand: 200 / 120 / 80) and the calculated
95 % / ±5 % design. Prints seconds and the process's peak memory. A report,
never a test: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from question_set_bench import _delete_study, django_setup  # noqa: E402


def fill(study_id: int, n: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.cursor.copy(
        "COPY corpus_post (study_id, site, so_id, post_type, title, body, tags, updated_at, owner_display_name, "
        "content_license) FROM STDIN"
    ) as copy:
        for i in range(1, n + 1):
            copy.write_row((study_id, "stackoverflow.com", i, 1, f"Question {i}", "<p>body</p>", "|tensorflow|",
                            "2024-01-01T00:00:00Z", "", "CC BY-SA 4.0"))


def make_set(study, name: str, post_ids) -> object:
    from django.db import connection
    from django.utils import timezone

    from sampling.question_sets.models import QuestionSet

    qs = QuestionSet.objects.create(study=study, name=name, tags=["tensorflow"], member_count=len(post_ids),
                                    evaluated_at=timezone.now())
    with connection.cursor() as cursor, cursor.cursor.copy(
        "COPY selection_questionsetmember (question_set_id, post_id, matched_words) FROM STDIN"
    ) as copy:
        for pid in post_ids:
            copy.write_row((qs.pk, pid, "[]"))
    return qs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn):
    t0 = time.perf_counter()
    result = fn()
    print(f"  {label:<52}{time.perf_counter() - t0:>8.2f} s")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup(args.database_url)
    from django.contrib.auth import get_user_model

    from annotator.corpus.models import Post
    from annotator.dbstats import table_statistics_refresh
    from annotator.jobs.models import Job
    from sampling.question_sets.models import QuestionSetMember
    from annotator.studies.models import Membership, Study
    from sampling.draws import selectors
    from sampling.draws.design import DrawDesign, StratumChoice, design_resolve
    from sampling.draws.services import sample_draw_job_execute, sample_draw_start
    from sampling.draws.models import StratumPopulation

    study = Study.objects.create(slug=f"bench-draw-{int(time.time())}", name="draw benchmark")
    User = get_user_model()
    raters = [User.objects.create(username=f"bench-draw-{study.pk}-r{i}") for i in range(3)]
    for user in raters:
        Membership.objects.create(study=study, user=user, is_rater=True)
    try:
        t0 = time.perf_counter()
        fill(study.pk, args.posts)
        ids = list(Post.objects.filter(study=study).order_by("pk").values_list("pk", flat=True))
        a, b = int(0.6 * len(ids)), int(0.9 * len(ids))
        overlap = ids[: int(0.02 * (b - a))]
        sets = [make_set(study, "server", ids[:a]), make_set(study, "mobile", overlap + ids[a:b]),
                make_set(study, "browser", ids[b:])]
        table_statistics_refresh(Post, QuestionSetMember)
        del ids
        total = sum(s.member_count for s in sets)
        print(f"filled {args.posts:,} posts and 3 sets ({total:,} members, {len(overlap):,} in two sets) "
              f"in {time.perf_counter() - t0:.1f} s; peak memory so far {peak_mb():.0f} MB\n")

        designs = {
            "400-post sample (n by hand 200/120/80)": tuple(
                StratumChoice(s.pk, mode="override", n=n, reason="benchmark") for s, n in zip(sets, (200, 120, 80))),
            "95 % / ±5 % design (n calculated)": tuple(StratumChoice(s.pk) for s in sets),
        }
        for title, strata in designs.items():
            print(title)
            design = DrawDesign(strata=strata, seed=2024)
            resolved = design_resolve(study=study, design=design)
            preview = timed("design preview (N after overlap, n exact, n)",
                            lambda: selectors.draw_design_preview(resolved=resolved))
            draw = sample_draw_start(study=study, design=design)
            job = Job.objects.get(pk=draw.job_id)
            before = peak_mb()
            result = timed("draw job (populations, draw, snapshots, split, assign)",
                           lambda: sample_draw_job_execute(job=job))
            draw.refresh_from_db()
            listed = timed("population list (the CSV's site, id rows)",
                           lambda: sum(1 for _ in selectors.draw_population_rows(draw=draw)))
            assert listed == total, (listed, total)
            ok = timed("reproducibility check (redraw from snapshots)",
                       lambda: selectors.draw_reproduces(draw=draw))

            def page():
                strata = selectors.draw_strata(draw=draw)
                selectors.draw_drift(draw=draw, strata=strata)
                selectors.draw_rater_workload(draw=draw, membership=Membership(user_id=raters[0].pk, is_owner=True))
                list(selectors.draw_items(draw=draw)[:50])

            timed("draw page selectors (table, workload, first 50 items)", page)
            snapshot = sum(len(p.ids) for p in StratumPopulation.objects.filter(stratum__draw=draw))
            print(f"  sample {result['sample_size']} ({preview.sample_size} previewed), pilot {result['pilot']}, "
                  f"{result['assignments']} assignments; reproduces: {ok}; snapshots {snapshot / 1e6:.1f} MB; "
                  f"peak memory {max(before, peak_mb()):.0f} MB; job phases: {result['seconds']} s\n")
    finally:
        if not args.keep:
            _delete_study(study.pk)
            User.objects.filter(pk__in=[u.pk for u in raters]).delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
