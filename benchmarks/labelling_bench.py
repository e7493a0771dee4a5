"""Serve "next item" and submit a label with 1,000,000 posts and 100,000 labels, in PostgreSQL.

    .venv/bin/python benchmarks/labelling_bench.py [--posts 1000000] [--labels 100000] [--calls 200]
                                                  [--database-url URL] [--keep]

Fills a fresh study by COPY: a million questions, a draw in labelling with three
strata, 4 raters and every reliability item given to 2 of them (each rater half
way: 25,000 items labelled, 25,000 still to do, by default), the labels themselves (1–2 leaf
categories each, or a verdict) and a 60-leaf tree. Then times, for one rater,
the server side of what a rater does all day: the next-item selector, the
label_submit service, the queue page and the htmx submission through Django's
test client, the API's next item and submission, and a page of the labels listing (the
rater's own; the owner's, every rater's; first and last page). Prints p50 / p95 in
milliseconds (target: p95 under 50 ms). A report, never a test: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from draw_bench import fill  # noqa: E402
from question_set_bench import _delete_study, django_setup, ensure_database  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/labelling_bench"
RATERS = 4


def copy_rows(table: str, columns: tuple[str, ...], rows) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def build(study, *, posts: int, labels: int, spare: int, owner, raters):
    """The draw, its items and assignments, the tree and the labels, by COPY."""
    from django.db import connection
    from django.utils import timezone

    from annotator.corpus.models import Post
    from sampling.draws.models import Assignment, SampleDraw, SampleItem, SampleStratum
    from taxonomy.labelling.models import Label, LabelCategory
    from taxonomy.labelling.services import rater_tallies_make
    from taxonomy.tree.services import category_add

    rng = random.Random(11)
    now = timezone.now()
    # Enough items that every rater has `labels / RATERS` labelled and `spare` still to do.
    per_rater = labels // RATERS + spare
    items_n = per_rater * RATERS // 2
    draw = SampleDraw.objects.create(study=study, version=1, status="labelling", seed=1, raters_per_item=2,
                                     rater_ids=[r.pk for r in raters], drawn_at=now, labelling_started_at=now,
                                     sample_size=items_n, pilot_size=0)
    strata = [SampleStratum.objects.create(draw=draw, position=i, name=name, mode="calculated", set_size=posts,
                                           population=posts, n=items_n, drawn=items_n)
              for i, name in enumerate(("Server/Cloud", "Mobile", "Browser"))]
    post_ids = list(Post.objects.filter(study=study).order_by("?").values_list("pk", flat=True)[:items_n])
    copy_rows("sampling_sampleitem", ("draw_id", "stratum_id", "post_id", "part"),
              ((draw.pk, strata[min(2, i * 3 // items_n)].pk, pid, "reliability") for i, pid in enumerate(post_ids)))
    items = list(SampleItem.objects.filter(draw=draw).order_by("stratum__position", "pk").values_list("pk", flat=True))
    # item i goes to raters i % 4 and (i + 1) % 4; each rater's first `labels / 4` are labelled
    done_per_rater = labels // RATERS
    seen = {r.pk: 0 for r in raters}
    rows = []
    for i, item_id in enumerate(items):
        for rater in (raters[i % RATERS], raters[(i + 1) % RATERS]):
            labelled = seen[rater.pk] < done_per_rater
            seen[rater.pk] += 1
            rows.append((draw.pk, item_id, rater.pk, now if labelled else None))
    copy_rows("sampling_assignment", ("draw_id", "item_id", "rater_id", "submitted_at"), rows)
    # the raters' tallies, as labelling start and their submissions leave them
    rater_tallies_make(draw=draw)

    roots = [category_add(study=study, name=f"Root {r}", actor=owner) for r in range(4)]
    inner = [category_add(study=study, name=f"Inner {r}.{i}", actor=owner, parent=root)
             for r, root in enumerate(roots) for i in range(3)]
    leaves = [category_add(study=study, name=f"Leaf {c.name[6:]}.{j}", actor=owner, parent=c).pk
              for c in inner for j in range(5)]

    labelled = list(Assignment.objects.filter(draw=draw, submitted_at__isnull=False).values_list("pk", flat=True))
    kinds = ["categories"] * 8 + ["false_positive", "pending"]
    copy_rows("labelling_label", ("assignment_id", "kind", "note", "submitted_at", "updated_at", "revision"),
              ((a, rng.choice(kinds), "", now, now, 1) for a in labelled))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM labelling_label WHERE kind = 'categories' AND assignment_id IN "
                       "(SELECT id FROM sampling_assignment WHERE draw_id = %s)", [draw.pk])
        label_ids = [r[0] for r in cursor.fetchall()]
    copy_rows("labelling_labelcategory", ("label_id", "category_id"),
              ((lid, c) for lid in label_ids for c in rng.sample(leaves, rng.choice((1, 1, 2)))))
    with connection.cursor() as cursor:
        for table in ("corpus_post", "sampling_sampleitem", "sampling_assignment", "labelling_label",
                      "labelling_labelcategory", "tree_category"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return draw, leaves, Label.objects.filter(assignment__draw=draw).count(), LabelCategory.objects.filter(
        label__assignment__draw=draw).count()


def delete_all(study_id: int, user_ids: list[int]) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        labels = ("SELECT l.id FROM labelling_label l JOIN sampling_assignment a ON a.id = l.assignment_id "
                  "JOIN sampling_sampledraw d ON d.id = a.draw_id WHERE d.study_id = %s")
        cursor.execute(f"DELETE FROM labelling_labelcategory WHERE label_id IN ({labels})", [study_id])
        cursor.execute(f"DELETE FROM labelling_label WHERE id IN ({labels})", [study_id])
        # the rater's keys and their bookmark in the tree's history (the queue page writes them)
        cursor.execute("DELETE FROM labelling_hotkeybinding WHERE study_id = %s", [study_id])
        cursor.execute("DELETE FROM tree_categoriesseen WHERE study_id = %s", [study_id])
        cursor.execute("DELETE FROM tree_categorychange WHERE study_id = %s", [study_id])
        cursor.execute("UPDATE tree_category SET parent_id = NULL, merged_into_id = NULL WHERE study_id = %s",
                       [study_id])
        cursor.execute("DELETE FROM tree_category WHERE study_id = %s", [study_id])
    _delete_study(study_id)
    get_user_model().objects.filter(pk__in=user_ids).delete()
    # A million dead rows at the end of the posts' id index make the planner probe past
    # them (26 ms to plan the item query) until a vacuum: where autovacuum is off (as on
    # the machine these figures come from), do it here for whoever uses the database next.
    with connection.cursor() as cursor:
        for table in ("corpus_post", "sampling_sampleitem", "sampling_assignment", "labelling_label",
                      "labelling_labelcategory"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def report(label: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(round(0.95 * len(ms))) - 1)]
    flag = "ok" if p95 < 50 else "SLOW"
    print(f"  {label:<58} p50 {statistics.median(ms):>7.1f} ms   p95 {p95:>7.1f} ms   {flag}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=25_000,
                        help="unlabelled assignments per rater on top of the labelled ones (mid-round)")
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = args.database_url or DEFAULT_DB
    if not args.database_url:
        ensure_database(url)
    # As served in production: no query log, no debug pages (DEBUG=1 in the environment to compare).
    os.environ.setdefault("DEBUG", "0")
    django_setup(url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from annotator.studies.models import Membership, Study
    from taxonomy.labelling import selectors
    from taxonomy.labelling.services import hotkeys_get_or_assign, label_submit

    User = get_user_model()
    study = Study.objects.create(slug=f"bench-labelling-{int(time.time())}", name="labelling benchmark")
    owner = User.objects.create(username=f"bench-lab-{study.pk}-owner")
    raters = [User.objects.create(username=f"bench-lab-{study.pk}-r{i}") for i in range(RATERS)]
    Membership.objects.create(study=study, user=owner, is_owner=True)
    for user in raters:
        Membership.objects.create(study=study, user=user, is_rater=True)
    try:
        t0 = time.perf_counter()
        fill(study.pk, args.posts)
        # four kinds of call, `calls` submissions each, all by the first rater
        draw, leaves, n_labels, n_cats = build(study, posts=args.posts, labels=args.labels, spare=args.backlog + 4 * args.calls,
                                               owner=owner, raters=raters)
        print(f"filled {args.posts:,} posts, {draw.assignments.count():,} assignments, {n_labels:,} labels "
              f"({n_cats:,} label categories), {len(leaves)} leaves in {time.perf_counter() - t0:.1f} s\n")
        rater = raters[0]
        rng = random.Random(5)

        def timed(fn, setup=None) -> list[float]:
            """Times ``fn`` (given what ``setup`` returns, which is not timed)."""
            out = []
            for _ in range(args.calls):
                given = () if setup is None else (setup(),)
                t = time.perf_counter()
                fn(*given)
                out.append(time.perf_counter() - t)
            return out

        def next_item():  # the item a rater's page is on when they submit (read before the timing)
            return selectors.assignment_next(study=study, user=rater).item_id

        print(f"{args.calls} calls each, rater {rater.username}:")
        report("assignment_next (selector)", timed(lambda: selectors.assignment_next(study=study, user=rater)))
        profile(client_for(rater), f"/studies/{study.slug}/labelling/")
        report("labelling_progress_mine (selector: the item page's line)",
               timed(lambda: selectors.labelling_progress_mine(study=study, user=rater)))
        report("category_choices + the rater's keys 1–9", timed(lambda: hotkeys_get_or_assign(
            study=study, user=rater, choices=selectors.category_choices(study=study, user=rater))))

        def submit():
            assignment = selectors.assignment_next(study=study, user=rater)
            label_submit(assignment=assignment, rater=rater, kind="categories",
                         category_ids=rng.sample(leaves, 2), note="benchmark")

        report("assignment_next + label_submit (service)", timed(submit))

        client = Client()
        client.force_login(rater)
        base = f"/studies/{study.slug}"
        report("GET labelling/ (queue page, whole page)",
               timed(lambda: _ok(client.get(f"{base}/labelling/"))))

        def post_htmx(item_id):
            _ok(client.post(f"{base}/labelling/items/{item_id}/",
                            {"kind": "categories", "categories": rng.sample(leaves, 1), "note": "n"},
                            HTTP_HX_REQUEST="true"))

        report("POST labelling/items/<id>/ (htmx: submit + next panel)", timed(post_htmx, next_item))
        api = Client()
        api.force_login(rater)
        report("GET /api/…/labelling/next/", timed(lambda: _ok(api.get(f"/api/studies/{study.slug}/labelling/next/"))))

        def put_api(item_id):
            _ok(api.put(f"/api/studies/{study.slug}/labelling/items/{item_id}/",
                        data={"kind": "pending", "categories": [], "note": ""}, content_type="application/json"))

        report("PUT /api/…/labelling/items/<id>/", timed(put_api, next_item))
        labels_url = f"/api/studies/{study.slug}/labelling/labels/"
        last = -(-_ok(api.get(labels_url)).json()["count"] // 50)
        report("GET /api/…/labelling/labels/ (the rater's own, first page of 50)",
               timed(lambda: _ok(api.get(labels_url))))
        report(f"GET /api/…/labelling/labels/?page={last} (the rater's last page)",
               timed(lambda: _ok(api.get(f"{labels_url}?page={last}"))))
        owner_client = Client()
        owner_client.force_login(owner)
        calls, args.calls = args.calls, 20
        report("GET labelling/progress/ (owner: every rater × stratum, 20 calls)",
               timed(lambda: _ok(owner_client.get(f"{base}/labelling/progress/"))))
        every = -(-_ok(owner_client.get(labels_url)).json()["count"] // 50)
        report("GET /api/…/labelling/labels/ (owner: every rater's, first page, 20 calls)",
               timed(lambda: _ok(owner_client.get(labels_url))))
        report(f"GET /api/…/labelling/labels/?page={every} (owner's last page, 20 calls)",
               timed(lambda: _ok(owner_client.get(f"{labels_url}?page={every}"))))
        args.calls = calls
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + _sql(selectors.assignment_next_queryset(study=study, user=rater)
                                                .values_list("pk", flat=True)[:1]))  # as assignment_next asks
            print("\nplan of the next-item query:\n  " + "\n  ".join(r[0] for r in cursor.fetchall()))
    finally:
        if not args.keep:
            delete_all(study.pk, [owner.pk, *(r.pk for r in raters)])
    return 0


def client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def profile(client, url: str) -> None:
    """Where one page's time goes: its queries, slowest first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        t = time.perf_counter()
        client.get(url)
        total = time.perf_counter() - t
    spent = sum(float(q["time"]) for q in queries.captured_queries)
    print(f"    one GET {url}: {total * 1000:.1f} ms, {len(queries)} queries taking {spent * 1000:.1f} ms; slowest:")
    for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:4]:
        print(f"      {float(q['time']) * 1000:6.1f} ms  {q['sql'][:110]}")


def _ok(response):
    assert response.status_code in (200, 302), (response.status_code, response.content[:500])
    return response


def _sql(queryset) -> str:
    import psycopg
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    return psycopg.ClientCursor(connection.connection).mogrify(sql, params)


if __name__ == "__main__":
    sys.exit(main())
