"""The rater's write path through gunicorn, side by side with doccano 1.8.4, the two taking turns.

    .venv/bin/python benchmarks/peer_labelling.py [--per-rater 2000] [--raters 10] [--workers 5]
                                                 [--calls 300] [--threads 10] [--duration 20] [--rounds 2]
                                                 [--doccano PROJECT_ID] [--database-url URL] [--keep]

Our side: a fresh database (PostgreSQL's ``taxonomist_peer`` unless ``--database-url``;
``--database-url sqlite:////tmp/peer.sqlite3`` runs on the embedded default's engine, the one
doccano's harness runs doccano on) with a study of
``--raters`` raters, a draw in labelling with ``--per-rater`` reliability items each (two raters
per item) and an earlier draw whose items every rater labelled alike and whose arbitration has
started (its labels are visible to all, and its agreed items have their final labels). gunicorn
with ``--workers`` sync workers, production settings (DEBUG off), as ``load_bench.py`` starts it.
For one rater, through the API with a token:

- the cheapest authenticated request (the study, ``GET /api/studies/<slug>/``);
- the progress call (``GET …/labelling/progress/``) and a page of 50 labels
  (``…/labelling/labels/``) and of 50 final labels (``…/final-labels/``, as the owner);
- ``--calls`` label submissions one after the other, each on a new item (``PUT …/items/<id>/``);
- ``--threads`` clients submitting on new items at once for ``--duration`` seconds, then a check in
  the database that every answered submission is stored exactly once (one label per assignment,
  the assignment marked submitted, nothing stored that was not answered).

Both submission workloads run twice: answered as ``GET`` answers (the item with its post, answers
and comments: what the API gives by default), then with ``Prefer: return=minimal`` (the label
alone, as doccano answers with the annotation alone).

Also the CPU time gunicorn's workers spent per submission (what the machine's other load changes
less than the latencies).

doccano's side (``--doccano``: the project id made with ``../shared/peers/doccano/``'s
``setup_project.py`` and ``import_bench.py``, doccano already started with its ``start.sh`` under
/tmp/peer, or ``--peer-dir``: a copy of the harness whose ``start.sh`` sets doccano's
``DATABASE_URL`` to a PostgreSQL database and whose ``db_query`` reads it): its own client scripts ``label_seq.py`` and ``label_conc.py`` on fresh documents, run
in turn with ours, round after round (``--rounds``): ours sequential, doccano's sequential, ours
concurrent, doccano's concurrent. On a shared machine the absolute figures move with the load;
compare the ratios within one run. A report, never a test: nothing fails on speed; it exits 1
only when a stored-once check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from load_bench import (  # noqa: E402
    _draw,
    cpu_seconds,
    database_create,
    database_drop,
    django_setup,
    free_port,
    gunicorn_start,
    gunicorn_stop,
    percentile,
)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/taxonomist_peer"
SLUG = "peer"
EARLIER_PER_RATER = 60  # labelled items per rater on the earlier draw: > 50 labels and final labels
PEER = "/tmp/peer"
MINIMAL = {False: "", True: " (Prefer: return=minimal)"}


@dataclass
class Setup:
    rater_id: int
    rater_token: str
    owner_token: str
    leaves: list[int]
    draw_id: int


def study_make(*, raters: int, per_rater: int) -> Setup:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotator.studies.models import Membership, Study
    from sampling.draws.models import Assignment
    from taxonomy.labelling.services import label_submit
    from taxonomy.review.arbitration.services import arbitration_start
    from taxonomy.tree.services import category_add

    User = get_user_model()
    owner = User.objects.create_user("peer-owner")
    users = [User.objects.create_user(f"rater{i:02d}") for i in range(1, raters + 1)]
    study = Study.objects.create(slug=SLUG, name="Peer", created_by=owner)
    Membership.objects.create(study=study, user=owner, is_owner=True, is_arbitrator=True)
    Membership.objects.bulk_create([Membership(study=study, user=u, is_rater=True) for u in users])
    leaves = []
    for root_name in ("Serving", "Training", "Data", "Tooling"):
        root = category_add(study=study, name=root_name, actor=owner)
        leaves += [category_add(study=study, name=f"{root_name} {j}", parent=root, actor=owner).pk for j in range(5)]
    earlier = _draw(study, version=1, raters=users, per_rater=EARLIER_PER_RATER, first_so_id=1)
    for assignment in Assignment.objects.filter(draw=earlier).select_related("rater", "draw").order_by("pk"):
        label_submit(assignment=assignment, rater=assignment.rater, kind="categories",
                     category_ids=[leaves[assignment.item_id % len(leaves)]], note="the same on both")
    arbitration_start(draw=earlier, user=owner)
    draw = _draw(study, version=2, raters=users, per_rater=per_rater, first_so_id=1_000_000)
    rater = users[0]
    return Setup(rater_id=rater.pk, rater_token=Token.objects.create(user=rater).key,
                 owner_token=Token.objects.create(user=owner).key, leaves=leaves, draw_id=draw.pk)


def open_items(*, draw_id: int, rater_id: int) -> list[int]:
    from sampling.draws.models import Assignment

    return list(Assignment.objects.filter(draw_id=draw_id, rater_id=rater_id, submitted_at__isnull=True)
                .order_by("item_id").values_list("item_id", flat=True))


def summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    ms = sorted(s * 1000 for s in seconds)
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(ms[-1], 1)}


def session(token: str, *, minimal: bool = False) -> requests.Session:
    """A client with the token; ``minimal``: its submissions ask for the label alone
    (``Prefer: return=minimal``), as doccano's answer with the annotation alone."""
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    if minimal:
        s.headers["Prefer"] = "return=minimal"
    return s


def reads(base: str, setup: Setup, calls: int) -> dict:
    rater, owner = session(setup.rater_token), session(setup.owner_token)
    api = f"{base}/api/studies/{SLUG}"
    out = {}
    for name, s, url in (("cheapest (GET study)", rater, f"{api}/"),
                         ("progress", rater, f"{api}/labelling/progress/"),
                         ("labels, page of 50", rater, f"{api}/labelling/labels/"),
                         ("final labels, page of 50", owner, f"{api}/final-labels/")):
        response = s.get(url, timeout=30)
        response.raise_for_status()
        if "page of 50" in name:
            assert len(response.json()["results"]) == 50, (name, response.json()["count"])
        lat = []
        for _ in range(calls):
            t = time.perf_counter()
            s.get(url, timeout=30).raise_for_status()
            lat.append(time.perf_counter() - t)
        out[name] = summary(lat)
    return out


def _body(setup: Setup, i: int) -> dict:
    return {"kind": "categories", "categories": [setup.leaves[i % len(setup.leaves)]], "note": ""}


def ours_sequential(base: str, setup: Setup, items: list[int], server: subprocess.Popen, *,
                    minimal: bool = False) -> dict:
    s = session(setup.rater_token, minimal=minimal)
    lat, codes = [], {}
    cpu = cpu_seconds(server.pid)
    t0 = time.perf_counter()
    for i, item in enumerate(items):
        t = time.perf_counter()
        code = s.put(f"{base}/api/studies/{SLUG}/labelling/items/{item}/", json=_body(setup, i), timeout=60).status_code
        lat.append(time.perf_counter() - t)
        codes[code] = codes.get(code, 0) + 1
    wall = time.perf_counter() - t0
    return {**summary(lat), "req_per_s": round(len(lat) / wall, 1), "codes": codes,
            "server_cpu_ms_per_request": round(1000 * (cpu_seconds(server.pid) - cpu) / len(lat), 1)}


def ours_concurrent(base: str, setup: Setup, items: list[int], threads: int, duration: float,
                    server: subprocess.Popen, *, minimal: bool = False) -> tuple[dict, list[int]]:
    lock = threading.Lock()
    nxt, lat, codes, stored, ran_out = [0], [], {}, [], [False]
    stop_at = time.time() + duration

    def worker():
        s = session(setup.rater_token, minimal=minimal)
        while time.time() < stop_at:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(items):
                ran_out[0] = True
                return
            t = time.perf_counter()
            try:
                code = s.put(f"{base}/api/studies/{SLUG}/labelling/items/{items[i]}/", json=_body(setup, i),
                             timeout=60).status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            took = time.perf_counter() - t
            with lock:
                lat.append(took)
                codes[code] = codes.get(code, 0) + 1
                if code == 200:
                    stored.append(items[i])

    cpu = cpu_seconds(server.pid)
    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    if ran_out[0]:  # the figures cover less than the duration asked: say so rather than print them as equal
        print(f"  (the rater ran out of open items after {len(lat)} submissions: give --per-rater more)")
    return ({"threads": threads, **summary(lat), "req_per_s": round(len(lat) / wall, 1), "codes": codes,
             "server_cpu_ms_per_request": round(1000 * (cpu_seconds(server.pid) - cpu) / max(1, len(lat)), 1)},
            stored)


def stored_once_check(*, setup: Setup, answered: list[int], tried: list[int]) -> dict:
    """Every answered submission stored exactly once; nothing stored that was not answered."""
    from django.db.models import Count

    from taxonomy.labelling.models import Label

    rows = dict(Label.objects.filter(assignment__draw_id=setup.draw_id, assignment__rater_id=setup.rater_id,
                                     assignment__item_id__in=tried, assignment__submitted_at__isnull=False)
                .values("assignment__item_id").annotate(n=Count("id")).values_list("assignment__item_id", "n"))
    return {"answered": len(answered), "stored": len(rows),
            "lost": sum(1 for item in answered if item not in rows),
            "stored_more_than_once": sum(1 for n in rows.values() if n > 1),
            "stored_not_answered": sum(1 for item in rows if item not in set(answered))}


def doccano(peer: str, script: str, *args) -> dict:
    tag = f"{script}-{time.time_ns()}"
    subprocess.run([f"{peer}/venv/bin/python", f"{peer}/{script}.py", *map(str, args), tag], cwd=peer, check=True,
                   stdout=subprocess.DEVNULL)
    with open(f"{peer}/results/{script}_{tag}.json") as f:
        return json.load(f)


def doccano_brief(result: dict) -> dict:
    keep = ("n", "p50_ms", "p95_ms", "max_ms", "req_per_s", "req_per_s_total", "codes", "lost",
            "extra_rows_vs_201", "duplicate_(example,label,user)_groups", "next_index")
    return {k: result[k] for k in keep if k in result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-rater", type=int, default=2000)
    parser.add_argument("--raters", type=int, default=10)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="sequential submissions (and reads) per round")
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--doccano", type=int, help="doccano's project id (doccano started under --peer-dir)")
    parser.add_argument("--peer-dir", default=PEER,
                        help="where doccano's harness and venv are (a copy whose start.sh points doccano at "
                             "PostgreSQL, for PostgreSQL against PostgreSQL)")
    parser.add_argument("--doccano-from", type=int, default=5000,
                        help="the first of doccano's documents to label (each run needs fresh ones)")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="peer-bench-")
    server, failed = None, False
    try:
        t = time.perf_counter()
        database_create(args.database_url)
        django_setup(args.database_url, data_dir)
        setup = study_make(raters=args.raters, per_rater=args.per_rater)
        items = open_items(draw_id=setup.draw_id, rater_id=setup.rater_id)
        from django.db import connection, connections

        with connection.cursor() as cursor:  # what autovacuum would have done (it is off on some machines)
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")

        connections.close_all()
        print(f"study: {args.raters} raters × {args.per_rater} items; made in {time.perf_counter() - t:.0f} s")
        port = free_port()
        server = gunicorn_start(url=args.database_url, data_dir=data_dir, port=port, workers=args.workers,
                                log_path=os.path.join(data_dir, "gunicorn.log"))
        base = f"http://127.0.0.1:{port}"
        print(f"gunicorn: {args.workers} workers; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        used = 0
        doccano_next = args.doccano_from
        for round_no in range(1, args.rounds + 1):
            print(f"\n== round {round_no} (load average {os.getloadavg()[0]:.1f})")
            print("ours, reads:", json.dumps(reads(base, setup, args.calls)))
            for minimal in (False, True):
                batch = items[used:used + args.calls]
                used += len(batch)
                print(f"ours, sequential submit{MINIMAL[minimal]}:",
                      json.dumps(ours_sequential(base, setup, batch, server, minimal=minimal)))
            if args.doccano:
                result = doccano(args.peer_dir, "label_seq", args.doccano, doccano_next, args.calls)
                doccano_next += args.calls
                print("doccano, sequential submit:", json.dumps(doccano_brief(result)))
            for minimal in (False, True):
                tried = items[used:]
                figures, answered = ours_concurrent(base, setup, tried, args.threads, args.duration, server,
                                                    minimal=minimal)
                used += figures["n"]
                check = stored_once_check(setup=setup, answered=answered, tried=tried[:figures["n"]])
                failed |= bool(check["lost"] or check["stored_more_than_once"] or check["stored_not_answered"])
                print(f"ours, {args.threads} concurrent{MINIMAL[minimal]}:", json.dumps({**figures, "check": check}))
            if args.doccano:
                result = doccano(args.peer_dir, "label_conc", args.doccano, doccano_next, args.threads,
                                 args.duration)
                doccano_next = result["next_index"] + 1
                print(f"doccano, {args.threads} concurrent:", json.dumps(doccano_brief(result)))
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
        return 1 if failed else 0
    finally:
        if server is not None:
            gunicorn_stop(server)
        if not args.keep:
            database_drop(args.database_url)
        else:
            print(f"kept: {args.database_url}")


if __name__ == "__main__":
    sys.exit(main())
