"""One small two-site dump, imported and drawn from the same way on any installation,
for tests/sampling/test_reproducibility.py. Used in the test process and, through
``manage.py shell``, in a second installation on another database, which prints
what it drew as JSON (``second_installation``)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from xml.sax.saxutils import quoteattr

SITES = ("datascience.stackexchange.com", "ai.stackexchange.com")  # not in key order, on purpose
RATERS = ("ana", "Bo", "cy")  # code-point order (B < a) is not a case-insensitive collation's
SEED = 20240611


def _rows(site: str) -> list[str]:
    """About 230 questions per site, with ids far apart, tags among tensorflow / keras /
    others, and an answer to some of them."""
    rng = random.Random(site)
    ids = sorted(rng.sample(range(1, 90_000), 230))
    rows, next_answer = [], 100_000
    for so_id in ids:
        tags = [t for t, p in (("tensorflow", 0.55), ("keras", 0.35), ("pytorch", 0.3)) if rng.random() < p]
        tags = tags or ["statistics"]
        rows.append(
            f'  <row Id="{so_id}" PostTypeId="1" CreationDate="2021-03-04T05:06:07.000" Score="1" ViewCount="10" '
            f'Body={quoteattr(f"<p>Question {so_id} on {site}</p>")} Title={quoteattr(f"Question {so_id}")} '
            f'Tags={quoteattr("".join(f"<{t}>" for t in tags))} AnswerCount="1" CommentCount="0" '
            'ContentLicense="CC BY-SA 4.0" />')
        if rng.random() < 0.3:
            next_answer += 1
            rows.append(f'  <row Id="{next_answer}" PostTypeId="2" ParentId="{so_id}" '
                        'CreationDate="2021-03-05T05:06:07.000" Score="0" Body="&lt;p&gt;An answer&lt;/p&gt;" '
                        'CommentCount="0" ContentLicense="CC BY-SA 4.0" />')
    return rows


def dump_write(directory: Path, *, shuffle: int | None = None) -> list[Path]:
    """The two sites' Posts.xml files; ``shuffle`` (a seed) puts their rows in another order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for site in SITES:
        rows = _rows(site)
        if shuffle is not None:
            random.Random(shuffle).shuffle(rows)
        path = directory / f"{site}-Posts.xml"
        path.write_text('\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n",
                        encoding="utf-8")
        paths.append(path)
    return paths


def study_prepare(*, study, rater_order=RATERS) -> list:
    """The raters (created in the order given, so their user ids differ between
    installations), an owner, and two overlapping question sets, evaluated."""
    from django.contrib.auth import get_user_model

    from sampling.question_sets.services import QuestionSetRule, question_set_evaluate, question_set_save
    from annotator.studies.models import Membership

    User = get_user_model()
    for name in rater_order:
        user, _ = User.objects.get_or_create(username=name)
        Membership.objects.update_or_create(study=study, user=user, defaults={"is_rater": True})
    sets = []
    for name, tag in (("TensorFlow", "tensorflow"), ("Keras", "keras")):
        question_set = question_set_save(study=study, rule=QuestionSetRule(name=name, tags=[tag]))
        question_set_evaluate(question_set=question_set)
        question_set.refresh_from_db()
        sets.append(question_set)
    return sets


def draw_make(*, study, sets, seed: int = SEED):
    """TensorFlow with n calculated (95 % / ±5 %), then Keras (less the posts TensorFlow
    already counts) with n = 40 by hand; 30 % pilot; two of the three raters per item."""
    from annotator.jobs.runner import job_run
    from sampling.draws.design import DrawDesign, StratumChoice
    from sampling.draws.services import sample_draw_start

    tensorflow, keras = sets
    design = DrawDesign(strata=(StratumChoice(tensorflow.pk),
                                StratumChoice(keras.pk, mode="override", n=40, reason="a fixed budget")),
                        seed=seed, pilot_share=0.3, raters_per_item=2)
    draw = sample_draw_start(study=study, design=design)
    job_run(job_id=draw.job_id)
    draw.refresh_from_db()
    return draw


def draw_describe(draw) -> dict:
    """What a reader compares between installations, by identities only: per stratum the
    drawn and pilot (site, id) lists and the population digest; who rates each item, by
    username. No database ids."""
    from sampling.draws.models import Assignment, ItemPart, SampleItem

    strata = []
    for stratum in draw.strata.order_by("position"):
        items = SampleItem.objects.filter(stratum=stratum).order_by("post__site", "post__so_id")
        strata.append({
            "name": stratum.name, "set_size": stratum.set_size, "population": stratum.population,
            "digest": stratum.population_digest,
            "drawn": sorted([site, so_id] for site, so_id in items.values_list("post__site", "post__so_id")),
            "pilot": sorted([site, so_id] for site, so_id in items.filter(part=ItemPart.PILOT).values_list(
                "post__site", "post__so_id")),
        })
    assignment: dict[str, list[str]] = {}
    for site, so_id, username in Assignment.objects.filter(draw=draw).values_list(
            "item__post__site", "item__post__so_id", "rater__username"):
        assignment.setdefault(f"{site}/{so_id}", []).append(username)
    return {"algorithm": draw.algorithm, "seed": draw.seed, "status": draw.status, "strata": strata,
            "assignment": {key: sorted(names) for key, names in sorted(assignment.items())}}


def second_installation(slug: str) -> None:
    """Run by ``manage.py shell`` after the study was imported: prepare, draw, print JSON."""
    from annotator.studies.models import Study

    study = Study.objects.get(slug=slug)
    draw = draw_make(study=study, sets=study_prepare(study=study, rater_order=("cy", "ana", "Bo")))
    print(json.dumps(draw_describe(draw)))
