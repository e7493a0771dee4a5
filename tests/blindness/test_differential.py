"""The differential blindness test: whoever rates on a draw in labelling gets
exactly the same answer from every page and every API endpoint, before and
after a co-rater works, and the same as in a world where the co-rater's
labels were different.

Observers: ana (a rater) and rhea (an owner who also rates on the draw: her
owner role must not lift the rule). The co-rater is bertold. What is fetched,
and what is normalised (tokens and times only), is in ``crawl.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from annotator.studies.models import Membership
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.tree.models import Category, CategoryStatus

from . import crawl
from .conftest import (
    SLUG,
    agreement_run_by_api,
    label_by_api,
    label_by_page,
    merge_by_api,
    propose_by_api,
    propose_by_page,
)

pytestmark = pytest.mark.django_db

OBSERVERS = ["ana", "rhea"]


def _observer(world, name):
    return {"ana": world.ana, "rhea": world.rhea}[name]


def bertold_works(world) -> list[tuple[str, object]]:
    """bertold's steps, in order: label (one item shared with each observer), change the labels
    (other categories, a special label), propose categories (API and labelling page, under a
    root and under an inner node)."""
    bert, c = world.bert, world.cats
    with_ana, with_rhea = world.shared(world.ana, bert), world.shared(bert, world.rhea)

    def label():
        label_by_api(world, bert, with_ana[0], c["scope"])  # ana labelled this item too
        label_by_page(world, bert, with_rhea[0], c["lambda"], c["scope"])  # so did rhea

    def change():
        label_by_api(world, bert, with_ana[0], c["export"], c["lambda"])
        label_by_page(world, bert, with_rhea[0], kind="pending")

    def propose():
        propose_by_api(world, bert, "B root proposal", c["other"])
        propose_by_api(world, bert, "B inner proposal", c["cloud"])
        for item, name, parent in ((with_ana[1], "B form root proposal", c["server"]),
                                   (with_rhea[1], "B form inner proposal", c["cloud"])):
            response = propose_by_page(world, bert, item, name, parent)
            assert response.status_code == 200
            assert Category.objects.filter(name=name, proposed_by=bert, status=CategoryStatus.PROPOSED).exists()

    return [("bertold labelled an item he shares with the observer", label),
            ("bertold changed his labels (other categories; Pending)", change),
            ("bertold proposed categories under a root and an inner node (API and labelling page)", propose)]


@pytest.mark.parametrize("observer", OBSERVERS)
def test_a_co_raters_labels_and_proposals_change_nothing_the_observer_can_get(world, observer):
    x = _observer(world, observer)

    # Every id bertold's steps will create is known before the first snapshot: the steps are
    # run once in a world that is rolled back, and run again for real with the same ids.
    def dry_run():
        for _title, step in bertold_works(world):
            step()
        return crawl.param_values(world.study)

    values = crawl.in_world(dry_run)
    plan = crawl.plan(values, probe=world.html(world.owner))
    html, api = world.html(x), world.api(x)
    before = crawl.snapshot(plan, html=html, api=api)
    leaks = []
    for title, step in bertold_works(world):
        step()
        diff = crawl.differences(before, crawl.snapshot(plan, html=html, api=api))
        if diff:
            leaks.append(f"## after: {title}\n{diff}")
    assert crawl.param_values(world.study) == values, "the dry run and the real steps made different ids"
    assert not leaks, (f"{observer} ({', '.join(Membership.objects.get(study=world.study, user=x).roles)}, rates "
                       f"on the draw) sees a co-rater's work in {len(plan.requests)} responses crawled:\n\n"
                       + "\n\n".join(leaks))


def _after_merge_and_run(world, x, *, bertold_item0, bertold_item2):
    """A world in which bertold labels his item shared with ana (``bertold_item0``) and his item
    shared with rhea (``bertold_item2``), then the owner merges Lambda into Docker and starts an
    agreement run over the draw. What the observer gets there (rolled back afterwards)."""
    c = world.cats

    def steps():
        label_by_api(world, world.bert, world.shared(world.ana, world.bert)[0], *(c[n] for n in bertold_item0))
        label_by_api(world, world.bert, world.shared(world.bert, world.rhea)[0], *(c[n] for n in bertold_item2))
        merge_by_api(world, c["lambda"], c["docker"])
        run = agreement_run_by_api(world)
        values = crawl.param_values(world.study)
        plan = crawl.plan(values, probe=world.html(world.owner))
        return SimpleNamespace(values=values, run=run, requests=len(plan.requests),
                               snapshot=crawl.snapshot(plan, html=world.html(x), api=world.api(x)))

    return crawl.in_world(steps)


@pytest.mark.parametrize("observer", OBSERVERS)
def test_a_merge_and_an_agreement_run_over_a_co_raters_labels_look_as_in_a_control_world(world, observer):
    """World 1: bertold used Lambda (on rhea's item) and agreed with ana (Scope) and, after the
    merge of Lambda into Docker, with rhea: the merge moves his label, the run finds full
    agreement. Control world: he used Export and Misc; the same merge moves nothing, the run
    finds none. Both worlds write the same rows, so their ids line up."""
    x = _observer(world, observer)
    used = _after_merge_and_run(world, x, bertold_item0=["scope"], bertold_item2=["lambda"])
    control = _after_merge_and_run(world, x, bertold_item0=["export"], bertold_item2=["misc"])
    assert used.values == control.values and used.run == control.run, "the two worlds made different ids"
    diff = crawl.differences(control.snapshot, used.snapshot)
    assert not diff, (f"{observer} can tell which categories the co-rater chose, through the owner's merge "
                      f"and agreement run ({used.requests} responses crawled; control → world):\n{diff}")


def test_the_crawl_sees_a_change_once_arbitration_starts(world):
    """A positive control: the same crawl does tell the co-rater's labels apart once
    arbitration starts on the draw (the rule lifts), so the tests above cannot pass by
    hiding everything or by fetching nothing."""
    values = crawl.param_values(world.study)
    plan = crawl.plan(values, probe=world.html(world.owner))
    labels_url = f"/api/studies/{SLUG}/labelling/labels/"
    assert crawl.Request("api", labels_url).key in {r.key for r in plan.requests}
    label_by_api(world, world.bert, world.shared(world.ana, world.bert)[0], world.cats["lambda"])
    label_by_api(world, world.bert, world.shared(world.bert, world.rhea)[0], world.cats["lambda"])
    labels = {name: crawl.fetch(world.api(_observer(world, name)), crawl.Request("api", labels_url))
              for name in OBSERVERS}
    arbitration_start(draw=world.draw, user=world.owner, allow_incomplete=True)
    for name in OBSERVERS:
        status, body = crawl.fetch(world.api(_observer(world, name)), crawl.Request("api", labels_url))
        assert status == 200 and (status, body) != labels[name]
        assert '"rater":"bertold"' in body.replace(" ", "")
