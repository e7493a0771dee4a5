"""Two editors at once (PostgreSQL: real row locks). Both read the tree before either locks; the
locks then serialise them and the second one re-reads: one winner, one clear refusal, no cycle,
no label lost."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from taxonomy.labelling.models import LabelCategory
from taxonomy.tree import services
from taxonomy.tree.models import Category, CategoryStatus

from .conftest import assignments, label

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only real on PostgreSQL")


def run_together(monkeypatch, *calls):
    """Run each call in its own thread; all of them pass their first read before any takes a lock."""
    barrier = threading.Barrier(len(calls), timeout=20)
    real_lock = services._lock

    def lock_after_everyone_read(*categories):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return real_lock(*categories)

    monkeypatch.setattr(services, "_lock", lock_after_everyone_read)
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            outcomes[index] = call()
        except ValidationError as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_crossing_moves_cannot_make_a_cycle(postgres, team, monkeypatch):
    a = services.category_add(study=team.study, name="A", actor=team.owner)
    b = services.category_add(study=team.study, name="B", actor=team.owner)
    outcomes = run_together(
        monkeypatch,
        lambda: services.category_move(category=Category.objects.get(pk=a.pk), parent=Category.objects.get(pk=b.pk),
                                       actor=team.owner),
        lambda: services.category_move(category=Category.objects.get(pk=b.pk), parent=Category.objects.get(pk=a.pk),
                                       actor=team.arbitrator),
    )
    errors = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(errors) == 1 and "own descendant" in errors[0].messages[0]
    parents = dict(Category.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "parent_id"))
    assert parents in ({a.pk: b.pk, b.pk: None}, {a.pk: None, b.pk: a.pk})


def test_crossing_merges_keep_every_label(postgres, team, monkeypatch):
    x = services.category_add(study=team.study, name="X", actor=team.owner)
    y = services.category_add(study=team.study, name="Y", actor=team.owner)
    a = assignments(team)
    label(a[0], x)
    label(a[1], y)
    outcomes = run_together(
        monkeypatch,
        lambda: services.category_merge(source=Category.objects.get(pk=x.pk), target=Category.objects.get(pk=y.pk),
                                        actor=team.owner),
        lambda: services.category_merge(source=Category.objects.get(pk=y.pk), target=Category.objects.get(pk=x.pk),
                                        actor=team.arbitrator),
    )
    assert sum(isinstance(o, ValidationError) for o in outcomes) == 1
    live = Category.objects.filter(pk__in=[x.pk, y.pk]).exclude(status=CategoryStatus.RETIRED)
    assert live.count() == 1
    assert LabelCategory.objects.filter(category=live.get()).count() == 2
