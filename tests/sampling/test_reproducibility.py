"""The same dump, the same sets and the same seed draw the same sample wherever
and however the dump was imported: rows shuffled, in two steps (``--only-tags``
first, then everything), into another study, or into another database. The
posts drawn, the pilot split, the assignment (by username) and the population
digests are compared by (site, id) only. And a draw made before algorithm 2
(by database ids) still shows its posts and checks out."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from annotator.corpus.models import Post
from annotator.studies.models import Study
from sampling.draws import selectors
from sampling.draws.draw import StratumSpec, stratified_draw
from sampling.draws.models import Assignment, DrawStatus, ItemPart, SampleItem
from sampling.draws.snapshot import ids_digest, ids_pack
from tests.sampling.reproducibility import RATERS, SEED, draw_describe, draw_make, dump_write, study_prepare

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def _import(slug: str, paths, only_tags: str = "") -> Study:
    options = {"study": slug, "quiet": True}
    if only_tags:
        options["only_tags"] = only_tags
    call_command("import_stackexchange", *map(str, paths), stdout=io.StringIO(), **options)
    return Study.objects.get(slug=slug)


def _identities_in_pk_order(study) -> list[tuple[str, int]]:
    return list(Post.objects.filter(study=study, post_type=1).order_by("pk").values_list("site", "so_id"))


def _second_installation(tmp_path: Path, paths) -> dict:
    """Another installation: a fresh SQLite database, migrated; the dump imported there
    through ``manage.py import_stackexchange`` in two steps, files the other way round;
    then the same sets and draw, printed as JSON by ``manage.py shell``."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'second.sqlite3'}", TAXONOMIST_DATA_DIR=str(tmp_path / "data"),
               DJANGO_SETTINGS_MODULE="annotator.settings")

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput", "-v0", "--skip-checks")
    files = [str(p) for p in reversed(paths)]
    manage("import_stackexchange", "--study", "elsewhere", "--only-tags", "pytorch,keras", "--quiet", *files)
    manage("import_stackexchange", "--study", "elsewhere", "--quiet", *files)
    out = manage("shell", "-c", "from tests.sampling.reproducibility import second_installation; "
                                "second_installation('elsewhere')")
    return json.loads(out.strip().splitlines()[-1])


def test_the_same_dump_draws_the_same_sample_in_any_import_order_study_and_database(tmp_path, queued):
    plain = dump_write(tmp_path / "plain")
    shuffled = dump_write(tmp_path / "shuffled", shuffle=7)
    assert plain[0].read_bytes() != shuffled[0].read_bytes()

    a = _import("plain", plain)
    b = _import("shuffled", shuffled)
    c = _import("two-steps", plain, only_tags="keras")
    _import("two-steps", plain)
    # The imports really gave the posts different database orders (else this test proves nothing).
    orders = [_identities_in_pk_order(study) for study in (a, b, c)]
    assert sorted(orders[0]) == sorted(orders[1]) == sorted(orders[2]) and len(orders[0]) == 460
    assert orders[0] != orders[1] and orders[0] != orders[2]

    described, draws = {}, {}
    for study, raters in ((a, RATERS), (b, tuple(reversed(RATERS))), (c, ("Bo", "cy", "ana"))):
        draws[study.slug] = draw = draw_make(study=study, sets=study_prepare(study=study, rater_order=raters))
        assert draw.status == DrawStatus.READY and draw.algorithm == 2
        assert selectors.draw_reproduces(draw=draw) is True
        described[study.slug] = draw_describe(draw)
    described["elsewhere"] = _second_installation(tmp_path / "second", shuffled)

    reference = described["plain"]
    tensorflow, keras = reference["strata"]
    # A real sample: n of N in the first stratum, 40 of the rest of Keras in the second, 30 % pilot each.
    assert len(tensorflow["drawn"]) < tensorflow["population"] and len(keras["drawn"]) == 40
    assert keras["set_size"] > keras["population"]  # posts tagged both count in TensorFlow only
    assert [len(s["pilot"]) for s in reference["strata"]] == [round(0.3 * len(tensorflow["drawn"])), 12]
    load = Counter(name for names in reference["assignment"].values() for name in names)
    assert set(load) == set(RATERS) and max(load.values()) - min(load.values()) <= 1
    # The digest is the SHA-256 of the set's "site<TAB>id<LF>" lines in (site, id) order.
    members = sorted(Post.objects.filter(study=a, tags__contains="|tensorflow|").values_list("site", "so_id"))
    assert tensorflow["digest"] == hashlib.sha256(
        "".join(f"{site}\t{so_id}\n" for site, so_id in members).encode()).hexdigest()
    for slug in ("shuffled", "two-steps", "elsewhere"):
        assert described[slug] == reference, slug

    # Algorithm 1 ordered the same posts by database id: the imports drew different samples.
    def by_database_id(study):
        specs = [StratumSpec(s.name, list(s.question_set.members.values_list("post_id", flat=True)), s.n)
                 for s in draws[study.slug].strata.order_by("position")]
        drawn = stratified_draw(strata=specs, seed=SEED).post_ids
        return sorted(Post.objects.filter(pk__in=drawn).values_list("site", "so_id"))

    assert by_database_id(a) != by_database_id(b) and by_database_id(a) != by_database_id(c)


# -- a draw made before this change (algorithm 1) -----------------------------------------------


def _old_stratified_draw(populations, ns, seed):
    """The draw as it was before algorithm 2, verbatim in substance: ids sorted, overlap
    removed, ``rng.choice`` over the id array."""
    taken, out = set(), []
    for ids, n, child in zip(populations, ns, np.random.SeedSequence(seed).spawn(len(populations)), strict=True):
        population = [pid for pid in sorted(set(ids)) if pid not in taken]
        taken.update(population)
        n = len(population) if n is None else n
        if n == len(population):
            out.append(tuple(population))
        else:
            rng = np.random.default_rng(child)
            out.append(tuple(sorted(int(i) for i in rng.choice(np.asarray(population, dtype=np.int64), size=n,
                                                               replace=False))))
    return out


def _old_pilot(drawn, share, seed):
    out = []
    for ids, child in zip(drawn, np.random.SeedSequence([seed, 1]).spawn(len(drawn)), strict=True):
        k = int(share * len(ids) + 0.5 + 1e-9)
        order = np.random.default_rng(child).permutation(len(ids))
        out.append({ids[i] for i in order[:k]})
    return out


def _old_assignment(groups, raters, per_item, seed):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    rotation = [raters[i] for i in rng.permutation(len(raters))]
    assignment, position = {}, 0
    for group in [sorted(set(g)) for g in groups]:
        for index in rng.permutation(len(group)):
            start = position * per_item
            assignment[group[index]] = tuple(sorted(rotation[(start + j) % len(rotation)] for j in range(per_item)))
            position += 1
    return assignment


def _make_old_draw(study, sets, seed=SEED):
    """A draw as the code before algorithm 2 left it in the database (the migration
    gave it algorithm 1): database ids, their snapshot and digest, items, pilot, assignment."""
    from django.utils import timezone

    from sampling.draws.models import SampleDraw, SampleStratum, StratumPopulation

    raters = list(study.memberships.filter(is_rater=True).order_by("user__username").values_list("user_id",
                                                                                               flat=True))
    draw = SampleDraw.objects.create(study=study, version=1, seed=seed, algorithm=1, status=DrawStatus.READY,
                                     pilot_share=0.3, raters_per_item=2, rater_ids=raters, drawn_at=timezone.now())
    populations = [list(s.members.values_list("post_id", flat=True)) for s in sets]
    drawn = _old_stratified_draw(populations, [30, 40], seed)
    pilot = _old_pilot(drawn, 0.3, seed)
    strata = []
    for position, (qs, ids, chosen, pilot_ids) in enumerate(zip(sets, populations, drawn, pilot, strict=True)):
        stratum = SampleStratum.objects.create(
            draw=draw, position=position, question_set=qs, name=qs.name, mode="override", override_n=len(chosen),
            override_reason="old", set_size=len(ids), population=len(ids), n=len(chosen), drawn=len(chosen),
            pilot=len(pilot_ids), population_digest=ids_digest(ids))
        StratumPopulation.objects.create(stratum=stratum, ids=ids_pack(ids))
        SampleItem.objects.bulk_create(SampleItem(draw=draw, stratum=stratum, post_id=pid,
                                                  part="pilot" if pid in pilot_ids else "reliability")
                                       for pid in chosen)
        strata.append(stratum)
    item_of = dict(SampleItem.objects.filter(draw=draw).values_list("post_id", "id"))
    groups = [[item_of[pid] for pid in chosen if pid not in pilot_ids] for chosen, pilot_ids in zip(drawn, pilot)]
    for item, item_raters in _old_assignment(groups, raters, 2, seed).items():
        Assignment.objects.bulk_create(Assignment(draw=draw, item_id=item, rater_id=r) for r in item_raters)
    # the population's overlap: the old code counted shared posts in the first stratum only
    overlap = len(set(populations[0]) & set(populations[1]))
    SampleStratum.objects.filter(pk=strata[1].pk).update(population=len(populations[1]) - overlap,
                                                         overlap_removed=overlap)
    draw.sample_size = sum(map(len, drawn))
    draw.pilot_size = sum(map(len, pilot))
    draw.save()
    return draw, drawn, pilot


def test_a_draw_made_before_algorithm_2_still_shows_its_posts_and_checks_out(client, tmp_path, queued):
    from django.urls import reverse

    from annotator.studies.models import Membership
    from sampling.draws.services import sample_draw_redistribute_start
    from tests.factories import UserFactory

    study = _import("old", dump_write(tmp_path / "dump", shuffle=3))
    sets = study_prepare(study=study)
    draw, drawn, pilot = _make_old_draw(study, sets)
    stored = set(SampleItem.objects.filter(draw=draw).values_list("post_id", flat=True))
    assert stored == set(drawn[0]) | set(drawn[1])

    # The check redraws by database id (algorithm 1) and finds the same posts and pilot split.
    assert selectors.draw_reproduces(draw=draw) is True
    pilot_post = min(pilot[0])
    SampleItem.objects.filter(draw=draw, post_id=pilot_post).update(part="reliability")
    assert selectors.draw_reproduces(draw=draw) is False  # it does look at the pilot split
    SampleItem.objects.filter(draw=draw, post_id=pilot_post).update(part="pilot")

    owner = UserFactory(username="owner")
    Membership.objects.create(study=study, user=owner, is_owner=True)
    client.force_login(owner)
    page = client.get(reverse("sampling:draw", args=[study.slug, 1])).content.decode()
    assert 'id="draw-algorithm">version 1' in page and "reproducible in this installation only" in page
    for so_id in Post.objects.filter(pk__in=drawn[0]).values_list("so_id", flat=True):  # page 1: 30 of 50 rows
        assert f">Question {so_id}</a>" in page
    check = client.get(reverse("sampling:draw", args=[study.slug, 1]), {"check": "reproduce"},
                       HTTP_HX_REQUEST="true").content.decode()
    assert "✓" in check
    # Its population list comes out as (site, id) like any other.
    rows = b"".join(client.get(reverse("sampling:draw_population_csv", args=[study.slug, 1])).streaming_content)
    lines = rows.decode().splitlines()
    expected = sorted(Post.objects.filter(pk__in=sets[0].members.values_list("post_id")).values_list("site", "so_id"))
    assert lines[0] == "position,stratum,site,post_id"
    assert [tuple(line.split(",")[2:]) for line in lines[1:] if line.startswith("0,")] == [
        (site, str(so_id)) for site, so_id in expected]

    # Splitting it again keeps algorithm 1 (database ids, raters in the recorded order).
    from annotator.jobs.runner import job_run

    draw = sample_draw_redistribute_start(draw=draw, pilot_share=0.3, raters_per_item=2, user=owner)
    job_run(job_id=draw.job_id)
    draw.refresh_from_db()
    assert draw.status == DrawStatus.READY and draw.algorithm == 1
    assert set(SampleItem.objects.filter(draw=draw, part=ItemPart.PILOT).values_list("post_id", flat=True)) == (
        pilot[0] | pilot[1])
    item_of = dict(SampleItem.objects.filter(draw=draw).values_list("post_id", "id"))
    groups = [[item_of[pid] for pid in chosen if pid not in p] for chosen, p in zip(drawn, pilot)]
    expected = _old_assignment(groups, draw.rater_ids, 2, SEED)
    got: dict[int, list[int]] = {}
    for item, rater in Assignment.objects.filter(draw=draw).values_list("item_id", "rater_id"):
        got.setdefault(item, []).append(rater)
    assert {item: tuple(sorted(r)) for item, r in got.items()} == expected
    assert selectors.draw_reproduces(draw=draw) is True


def test_the_population_csv_and_the_readme_recipe_give_the_sample_back(client, tmp_path, queued):
    """What a reader outside does: download the population list, take the seed, n, pilot
    share and raters from the draw page, run README's recipe with NumPy, and get the
    sample, the pilot and the assignment the application drew."""
    import csv

    from django.urls import reverse

    from annotator.studies.models import Membership
    from tests.factories import UserFactory
    from tests.sampling.test_draw import _readme_recipe

    study = _import("csv", dump_write(tmp_path / "dump", shuffle=11))
    draw = draw_make(study=study, sets=study_prepare(study=study))
    owner = UserFactory(username="owner")
    Membership.objects.create(study=study, user=owner, is_owner=True)
    client.force_login(owner)
    response = client.get(reverse("sampling:draw_population_csv", args=[study.slug, draw.version]))
    assert response["Content-Disposition"].endswith('-draw-v1-population.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    strata = list(draw.strata.order_by("position"))
    assert [sum(1 for r in rows if r["position"] == str(s.position)) for s in strata] == [s.set_size for s in strata]
    # each stratum's rows are its digest's lines
    for stratum in strata:
        text = "".join(f"{r['site']}\t{r['post_id']}\n" for r in rows if r["position"] == str(stratum.position))
        assert hashlib.sha256(text.encode()).hexdigest() == stratum.population_digest

    rederive = _readme_recipe()
    raters = list(Membership.objects.filter(user_id__in=draw.rater_ids).values_list("user__username", flat=True))
    drawn, pilots, assignment = rederive(
        [(int(r["position"]), r["site"], int(r["post_id"])) for r in rows],
        {s.position: s.n for s in strata}, draw.seed, draw.pilot_share, raters, draw.raters_per_item)
    described = draw_describe(draw)
    assert [[list(post) for post in posts] for posts in drawn] == [s["drawn"] for s in described["strata"]]
    assert [sorted(map(list, pilot)) for pilot in pilots] == [s["pilot"] for s in described["strata"]]
    assert {f"{site}/{so_id}": names for (site, so_id), names in assignment.items()} == described["assignment"]
