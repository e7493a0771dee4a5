"""50 raters and 2 arbitrators at once against gunicorn + PostgreSQL on loopback, for 2 minutes.

    .venv/bin/python benchmarks/load_bench.py [--raters 50] [--arbitrators 2] [--duration 120]
                                             [--arbitration-at 30] [--workers N] [--items-per-rater 400]
                                             [--think 0] [--database-url URL] [--keep]

Makes its own database (``taxonomist_load``, dropped at the end unless ``--keep``) and in it a
study: a tree of 12 leaves, an earlier draw whose reliability items every rater has labelled
(still in labelling), and a draw in labelling with ``--items-per-rater`` items for each rater
(two raters per item). Starts gunicorn with production settings (TAXONOMIST_PRODUCTION=1,
DEBUG off, a real secret; TLS redirect and secure cookies off, as this is plain HTTP on loopback)
and ``--workers`` sync workers on a free port (the project and its URL conf imported before they
fork, so that no timed request pays for importing the views), then runs, each in its own thread
with its own API token and session:

- every rater, as fast as the server answers (or with ``--think`` seconds between steps): the
  next item, a label on it (one or two leaves, sometimes Pending or False positive), now and
  then a change to one of their earlier labels, a read of one of their items, their progress;
- the owner, at ``--arbitration-at`` seconds: starts arbitration on the earlier draw;
- every arbitrator, from then on: the arbitration queue, one of its first items, a decision
  (two arbitrators sometimes decide the same item: the second is told 409, which is counted,
  not an error).

Stops by itself after ``--duration`` seconds, stops gunicorn and prints requests per second and
p50 / p95 / p99 latency per endpoint, errors (5xx, refused connections, timeouts, unexpected
4xx), and the count check, read from the database: every label the clients were told was
stored is there exactly once, with the categories of the last answer; no label the clients were
not told about; each rater's tally equals their submitted assignments; each decision a client
was told was made (201) is the item's one final label, by that arbitrator. Also the CPU time
gunicorn's workers used per request, which the machine's other load changes less than the
latencies. Exits 1 when a check fails or a request errs. A report, never a test: nothing fails on
speed.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/taxonomist_load"
SLUG = "load"
EARLIER_PER_RATER = 10  # labelled items per rater on the earlier draw, arbitrated during the run


# -- the database ----------------------------------------------------------------------------------


def _admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL (the embedded default), else None (PostgreSQL)."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _sqlite_remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def database_create(url: str) -> None:
    """A fresh database (a leftover of ``--keep`` is dropped first), migrated. ``sqlite:///<file>``:
    a fresh file (the embedded default's engine and settings: WAL, immediate transactions)."""
    path = _sqlite_path(url)
    if path is not None:
        _sqlite_remove(path)
    else:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": url})


def database_drop(url: str) -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()
    path = _sqlite_path(url)
    if path is not None:
        _sqlite_remove(path)
        return
    import psycopg

    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def django_setup(url: str, data_dir: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["TAXONOMIST_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    sys.path.insert(0, ROOT)
    import django

    django.setup()


# -- the study -------------------------------------------------------------------------------------


@dataclass
class Study:
    owner: str  # tokens
    raters: list[tuple[int, str]]  # (user id, token)
    arbitrators: list[tuple[int, str]]
    leaves: list[int]
    earlier_version: int
    draw_id: int  # the draw the raters label during the run
    earlier_id: int


def _draw(study, *, version: int, raters, per_rater: int, first_so_id: int):
    """A draw in labelling with ``per_rater`` reliability items for each rater, two raters per item
    (rater i and i + 1 in turn), made directly as ``sample_draw_labelling_start`` leaves one."""
    from django.utils import timezone

    from annotator.corpus.models import Post, PostType
    from annotator.dbstats import table_statistics_refresh
    from sampling.draws.models import Assignment, SampleDraw, SampleItem, SampleStratum
    from taxonomy.labelling.services import rater_tallies_make

    n = len(raters) * per_rater // 2
    now = timezone.now()
    posts = Post.objects.bulk_create(
        (Post(study=study, site="stackoverflow.com", so_id=first_so_id + i, post_type=PostType.QUESTION,
              title=f"How do I serve model {first_so_id + i} behind a load balancer?",
              body="<p>It works on my laptop; in the cluster every third request times out.</p>",
              tags="|tensorflow|deployment|", creation_date=now, updated_at=now) for i in range(n)),
        batch_size=5000)
    draw = SampleDraw.objects.create(study=study, version=version, status="labelling", seed=version,
                                     raters_per_item=2, rater_ids=[r.pk for r in raters], drawn_at=now,
                                     labelling_started_at=now, sample_size=n, pilot_size=0)
    stratum = SampleStratum.objects.create(draw=draw, position=0, name="All", mode="census", set_size=n,
                                           population=n, n=n, drawn=n, pilot=0)
    items = SampleItem.objects.bulk_create(
        (SampleItem(draw=draw, stratum=stratum, post=p, part="reliability") for p in posts), batch_size=5000)
    Assignment.objects.bulk_create(
        (Assignment(draw=draw, item=item, rater=raters[(i + k) % len(raters)])
         for i, item in enumerate(items) for k in (0, 1)), batch_size=5000)
    rater_tallies_make(draw=draw)
    table_statistics_refresh(SampleItem, Assignment)  # as the draw's service does after writing them
    return draw


def study_make(*, raters: int, arbitrators: int, per_rater: int) -> Study:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotator.studies.models import Membership
    from annotator.studies.models import Study as StudyModel
    from sampling.draws.models import Assignment
    from taxonomy.labelling.services import label_submit
    from taxonomy.tree.services import category_add

    User = get_user_model()
    owner = User.objects.create_user("load-owner")
    rater_users = [User.objects.create_user(f"rater{i:02d}") for i in range(1, raters + 1)]
    arbitrator_users = [User.objects.create_user(f"arbitrator{i}") for i in range(1, arbitrators + 1)]
    study = StudyModel.objects.create(slug=SLUG, name="Load", created_by=owner)
    Membership.objects.create(study=study, user=owner, is_owner=True)
    Membership.objects.bulk_create([Membership(study=study, user=u, is_rater=True) for u in rater_users]
                                   + [Membership(study=study, user=u, is_arbitrator=True) for u in arbitrator_users])
    leaves = []
    for root_name in ("Serving", "Training", "Data"):
        root = category_add(study=study, name=root_name, actor=owner)
        leaves += [category_add(study=study, name=f"{root_name} {j}", parent=root, actor=owner).pk for j in range(4)]

    earlier = _draw(study, version=1, raters=rater_users, per_rater=EARLIER_PER_RATER, first_so_id=1)
    rng = random.Random(1)
    for assignment in Assignment.objects.filter(draw=earlier).select_related("rater").order_by("pk"):
        # a few leaves only, so that about half the items are disputed
        label_submit(assignment=assignment, rater=assignment.rater, kind="categories",
                     category_ids=[rng.choice(leaves[:3])])
    draw = _draw(study, version=2, raters=rater_users, per_rater=per_rater, first_so_id=1_000_000)

    def token(user) -> str:
        return Token.objects.create(user=user).key

    return Study(owner=token(owner), raters=[(u.pk, token(u)) for u in rater_users],
                 arbitrators=[(u.pk, token(u)) for u in arbitrator_users], leaves=leaves,
                 earlier_version=earlier.version, draw_id=draw.pk, earlier_id=earlier.pk)


# -- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(*, url: str, data_dir: str, port: int, workers: int, log_path: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url, "TAXONOMIST_DATA_DIR": data_dir,
        "TAXONOMIST_PRODUCTION": "1", "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1",
        # plain HTTP on loopback: no TLS proxy in front
        "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }
    # production serves hashed static names from the manifest: collect them first, as a deployment does
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)
    # the project's gunicorn.conf.py (read from ROOT, the working directory) as production runs it
    with open(log_path, "wb") as log:  # the server writes to it; this process no more
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "annotator.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--timeout", "60", "--backlog", "2048"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{Path(log_path).read_text()[-3000:]}")
            try:  # the workers import the project as they boot: the first answers take seconds
                if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10).status_code == 200:
                    return proc
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer in 90 s:\n{Path(log_path).read_text()[-3000:]}")
    except BaseException:
        gunicorn_stop(proc)
        raise


def gunicorn_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the master stops its workers
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def cpu_seconds(group: int) -> float:
    """User + system CPU time of the processes in a process group (gunicorn's master and workers)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the clients -----------------------------------------------------------------------------------


@dataclass
class Record:
    """What every client saw, shared by the threads (appends and dict writes only)."""

    latencies: dict = field(default_factory=lambda: defaultdict(list))  # endpoint → seconds
    slowest: dict = field(default_factory=dict)  # endpoint → (seconds, when it started, from the start)
    begun: float = 0.0
    errors: dict = field(default_factory=lambda: defaultdict(list))  # endpoint → descriptions
    conflicts: int = 0  # 409s on decisions: the other arbitrator was first
    stored: dict = field(default_factory=dict)  # (rater id, item id) → (kind, categories) last confirmed
    decided: list = field(default_factory=list)  # (item id, arbitrator id) for each 201
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    def __init__(self, base: str, token: str, record: Record, think: float):
        self.base, self.record, self.think = base, record, think
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def call(self, endpoint: str, method: str, path: str, expect=(200,), **kwargs):
        """The response when its status is expected, else None (the error is recorded)."""
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            self.record.errors[endpoint].append(f"{type(exc).__name__}: {exc}"[:200])
            return None
        took = time.perf_counter() - started
        self.record.latencies[endpoint].append(took)
        if took > self.record.slowest.get(endpoint, (0.0,))[0]:
            self.record.slowest[endpoint] = (took, started - self.record.begun)
        if response.status_code not in expect:
            self.record.errors[endpoint].append(f"{response.status_code} {response.text[:200]!r}")
            return None
        return response

    def pause(self) -> None:
        if self.think:
            time.sleep(random.expovariate(1 / self.think))


def _label_choice(rng: random.Random, leaves: list[int]) -> tuple[str, tuple[int, ...]]:
    roll = rng.random()
    if roll < 0.04:
        return "pending", ()
    if roll < 0.08:
        return "false_positive", ()
    return "categories", tuple(sorted(rng.sample(leaves, rng.choice((1, 1, 1, 2)))))


def rater_run(client: Client, rater_id: int, leaves: list[int], stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    api = f"/api/studies/{SLUG}/labelling"
    mine: list[int] = []  # items this rater labelled during the run

    def submit(endpoint: str, item: int) -> None:
        kind, categories = _label_choice(rng, leaves)
        response = client.call(endpoint, "PUT", f"{api}/items/{item}/",
                               json={"kind": kind, "categories": list(categories), "note": ""})
        if response is None:
            return
        label = response.json().get("label") or {}
        got = (label.get("kind"), tuple(sorted(c["id"] for c in label.get("categories", []))))
        if got != (kind, categories):
            client.record.errors[endpoint].append(f"answered {got} for {(kind, categories)}")
            return
        client.record.stored[(rater_id, item)] = got

    while not stop.is_set():
        response = client.call("GET labelling/next", "GET", f"{api}/next/")
        if response is None:
            time.sleep(0.2)  # an error: do not spin on it
            continue
        body = response.json()
        if body["done"]:
            return  # everything labelled: this rater goes home
        item = body["item"]["item"]
        client.pause()
        submit("PUT labelling/items/{id} (new)", item)
        mine.append(item)
        roll = rng.random()
        if roll < 0.10 and mine:
            client.pause()
            submit("PUT labelling/items/{id} (change)", rng.choice(mine))
        elif roll < 0.20 and mine:
            client.call("GET labelling/items/{id}", "GET", f"{api}/items/{rng.choice(mine)}/")
        elif roll < 0.35:
            client.call("GET labelling/progress", "GET", f"{api}/progress/")


def _results(body):
    return body["results"] if isinstance(body, dict) else body


def arbitrator_run(client: Client, arbitrator_id: int, leaves: list[int], started: threading.Event,
                   stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    api = f"/api/studies/{SLUG}/arbitration"
    while not started.wait(0.2):
        if stop.is_set():
            return
    while not stop.is_set():
        response = client.call("GET arbitration/queue", "GET", f"{api}/queue/")
        if response is None:
            time.sleep(0.2)
            continue
        queue = _results(response.json())
        if not queue:
            time.sleep(0.5)  # nothing left to decide
            continue
        item = rng.choice(queue[:5])["id"]  # the two arbitrators sometimes pick the same one
        client.pause()
        if client.call("GET arbitration/items/{id}", "GET", f"{api}/items/{item}/") is None:
            continue
        client.pause()
        response = client.call("POST arbitration/items/{id}", "POST", f"{api}/items/{item}/", expect=(201, 409),
                               json={"kind": "categories", "categories": [rng.choice(leaves)],
                                     "reason": "Decided under load."})
        if response is None:
            continue
        if response.status_code == 409:
            with client.record.lock:
                client.record.conflicts += 1
        else:
            client.record.decided.append((item, arbitrator_id))


def owner_run(client: Client, version: int, at: float, started: threading.Event, stop: threading.Event) -> None:
    if stop.wait(at):
        return
    response = client.call("POST draws/{v}/arbitration", "POST",
                           f"/api/studies/{SLUG}/draws/{version}/arbitration/", json={})
    if response is not None:
        started.set()


# -- the checks ------------------------------------------------------------------------------------


def count_check(study: Study, record: Record) -> list[str]:
    """What the clients were told, against the database."""
    from django.db.models import Count, Sum

    from sampling.draws.models import Assignment
    from taxonomy.labelling.models import Label, RaterTally
    from taxonomy.review.arbitration.models import FinalLabel

    problems = []
    labels = {}
    for label in (Label.objects.filter(assignment__draw_id=study.draw_id)
                  .select_related("assignment").prefetch_related("categories")):
        key = (label.assignment.rater_id, label.assignment.item_id)
        labels[key] = (label.kind, tuple(sorted(c.category_id for c in label.categories.all())))
    per_assignment = (Label.objects.filter(assignment__draw_id=study.draw_id).values("assignment_id")
                      .annotate(n=Count("pk")).filter(n__gt=1).count())
    if per_assignment:
        problems.append(f"{per_assignment} assignments with more than one label")
    missing = [k for k in record.stored if k not in labels]
    different = [k for k, v in record.stored.items() if k in labels and labels[k] != v]
    untold = [k for k in labels if k not in record.stored]
    if missing:
        problems.append(f"{len(missing)} labels confirmed to a client are not stored, e.g. {missing[:3]}")
    if different:
        problems.append(f"{len(different)} stored labels differ from the last one confirmed, e.g. {different[:3]}")
    if untold:
        problems.append(f"{len(untold)} labels stored that no client was told about (a timed-out request?)")
    submitted = dict(Assignment.objects.filter(draw_id=study.draw_id, submitted_at__isnull=False)
                     .values_list("rater_id").annotate(n=Count("pk")))
    tallied = dict(RaterTally.objects.filter(draw_id=study.draw_id).values_list("rater_id")
                   .annotate(n=Sum("submitted")))
    for rater_id, n in tallied.items():
        if n != submitted.get(rater_id, 0):
            problems.append(f"rater {rater_id}: tally {n}, {submitted.get(rater_id, 0)} submitted assignments")
    finals = {f.item_id: f for f in FinalLabel.objects.filter(item__draw_id=study.earlier_id, method="arbitrated")}
    if len(finals) != len(record.decided):
        problems.append(f"{len(finals)} arbitrated final labels, {len(record.decided)} decisions confirmed")
    twice = len(record.decided) - len({item for item, _ in record.decided})
    if twice:
        problems.append(f"{twice} items confirmed as decided to both arbitrators")
    wrong = [i for i, who in record.decided if i not in finals or finals[i].decided_by_id != who]
    if wrong:
        problems.append(f"{len(wrong)} confirmed decisions not stored as that arbitrator's, e.g. {wrong[:3]}")
    return problems


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))]


def report(record: Record, elapsed: float) -> int:
    endpoints = sorted(set(record.latencies) | set(record.errors))
    total = sum(len(v) for v in record.latencies.values())
    errors = sum(len(v) for v in record.errors.values())
    print(f"\n{total:,} requests in {elapsed:.1f} s: {total / elapsed:,.1f} requests/s, {errors} errors, "
          f"{record.conflicts} decisions refused with 409 (the other arbitrator was first)\n")
    print(f"  {'endpoint':<36} {'requests':>9} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name in endpoints:
        ms = sorted(s * 1000 for s in record.latencies.get(name, []))
        figures = (f"{statistics.median(ms):>8.1f} {percentile(ms, 95):>8.1f} {percentile(ms, 99):>8.1f}"
                   if ms else f"{'-':>8} {'-':>8} {'-':>8}")
        print(f"  {name:<36} {len(ms):>9,} {len(ms) / elapsed:>7.1f} {figures} {len(record.errors.get(name, [])):>7}")
    took, when = max(record.slowest.values(), default=(0.0, 0.0))
    slowest = next((name for name, value in record.slowest.items() if value == (took, when)), "-")
    print(f"  slowest: {slowest}, {took * 1000:,.0f} ms, sent {when:.1f} s into the run")
    for name, found in record.errors.items():
        for line in found[:3]:
            print(f"  error {name}: {line}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--arbitrators", type=int, default=2)
    parser.add_argument("--duration", type=float, default=120, help="seconds of load")
    parser.add_argument("--arbitration-at", type=float, default=None,
                        help="seconds into the run when the owner starts arbitration (default: a quarter of it)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--items-per-rater", type=int, default=400)
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds a client waits between steps")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--keep", action="store_true", help="keep the database (and print where it is)")
    args = parser.parse_args()
    arbitration_at = args.duration / 4 if args.arbitration_at is None else args.arbitration_at

    data_dir = tempfile.mkdtemp(prefix="load-bench-")
    url = args.database_url
    server = None
    try:
        t = time.perf_counter()
        database_create(url)
        django_setup(url, data_dir)
        study = study_make(raters=args.raters, arbitrators=args.arbitrators, per_rater=args.items_per_rater)
        from django.db import connections

        connections.close_all()
        print(f"study: {args.raters} raters × {args.items_per_rater} items (2 per item), "
              f"{args.raters * EARLIER_PER_RATER // 2} earlier items labelled; made in {time.perf_counter() - t:.1f} s")
        port = free_port()
        server = gunicorn_start(url=url, data_dir=data_dir, port=port, workers=args.workers,
                                log_path=os.path.join(data_dir, "gunicorn.log"))
        print(f"gunicorn: {args.workers} workers on 127.0.0.1:{port}; {args.raters} raters and {args.arbitrators} "
              f"arbitrators for {args.duration:.0f} s, arbitration from {arbitration_at:.0f} s; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before (clients, server and "
              "PostgreSQL share them)")

        base = f"http://127.0.0.1:{port}"
        record, stop, started = Record(), threading.Event(), threading.Event()
        threads = [threading.Thread(target=rater_run, args=(Client(base, token, record, args.think), uid,
                                                            study.leaves, stop, i))
                   for i, (uid, token) in enumerate(study.raters)]
        threads += [threading.Thread(target=arbitrator_run, args=(Client(base, token, record, args.think), uid,
                                                                  study.leaves, started, stop, 1000 + i))
                    for i, (uid, token) in enumerate(study.arbitrators)]
        threads.append(threading.Thread(target=owner_run, args=(Client(base, study.owner, record, 0),
                                                                study.earlier_version, arbitration_at, started,
                                                                stop)))
        begun, cpu_before = time.perf_counter(), cpu_seconds(server.pid)
        record.begun = begun
        for thread in threads:
            thread.start()
        stop.wait(args.duration)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed, server_cpu = time.perf_counter() - begun, cpu_seconds(server.pid) - cpu_before
        gunicorn_stop(server)
        log = Path(data_dir, "gunicorn.log").read_text()
        server_errors = log.count("Traceback")

        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        errors = report(record, elapsed)
        requests_made = sum(len(v) for v in record.latencies.values())
        print(f"\ngunicorn's workers used {server_cpu:.1f} CPU seconds: {1000 * server_cpu / max(1, requests_made):.1f} ms "
              "per request (PostgreSQL's share not counted)")
        problems = count_check(study, record)
        print(f"\ncount check: {len(record.stored):,} labels confirmed to the raters, "
              f"{len(record.decided):,} decisions confirmed to the arbitrators: "
              + ("all stored exactly once, as confirmed" if not problems else "FAILED"))
        for line in problems:
            print(f"  {line}")
        if server_errors:
            print(f"gunicorn logged {server_errors} tracebacks:\n{log[-3000:]}")
        return 1 if problems or errors or server_errors else 0
    finally:
        if server is not None:
            gunicorn_stop(server)
        if args.keep:
            print(f"kept: {url}")
        else:
            database_drop(url)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
