"""Blind coding: what one user may see of the raters' work. The one rule.

A draw is *sealed* while its reliability round runs: it is in labelling and
arbitration has not started on it. On a sealed draw, a user sees the work of
other raters (their labels, and anything derived from them: counts, progress,
agreement figures, the number of labels a tree change moved) only when they are
an owner or arbitrator who holds no assignment on that draw. Whoever rates on
it, whatever other roles they hold, sees their own work only; so do members
who only rate or only view. Once arbitration starts, a draw's labels are final
inputs and every member of the study sees them.

Proposals follow the same line: a category a rater proposes while labelling is
private to its proposer until an owner or arbitrator approves it, and only an
owner or arbitrator who rates on no sealed draw sees it meanwhile. Proposals
made in the joint pilot are seen by every member.

Everything that shows, counts, exports or refuses because of raters' labels
asks this module: ``Sight`` is a user's view of one study, read once (two
queries) and passed on; ``assignments_visible`` and ``label_list_visible`` are
its querysets (labels: ``taxonomy.labelling.visibility``, which applies
``assignment_visible_q`` to them).

It lives with the draws because it is a rule about them: a draw's round, and who rates
on it, decide what a user sees; every later step (tree, labelling, review, results,
classifier) asks it, and it asks none of them.

An error message is written for the caller's sight: a user who does not see
every label (``Sight.sees_all`` is false) is never told a count, or that a
label exists; the tree services then decide on the structure alone (a leaf may
hold labels they cannot see, so it is treated as labelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import BooleanField, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull

from annotator.prepared import Prepared
from annotator.studies.models import Membership, Study

from .models import Assignment, DrawStatus, ItemPart, SampleDraw


@dataclass(frozen=True)
class Sight:
    """What ``user`` may see of the coding work in ``study``."""

    study_id: int
    user_id: int | None
    member: bool
    approver: bool  # owner or arbitrator
    sealed: frozenset[int]  # draws where this user sees their own work only
    rating_sealed: frozenset[int]  # the sealed draws this user rates on
    running: frozenset[int] | None = None  # the study's draws whose round runs (None: not read)
    # The study's other draws, read with ``sealed`` (None: not read): whose work this user sees
    # whole. Lets the filter name the draws it shows (an index) instead of those it hides.
    open_draws: frozenset[int] | None = None

    @property
    def sees_all(self) -> bool:
        """Every label of the study is visible to this user: counts may be told."""
        return self.member and not self.sealed

    @property
    def sees_private_proposals(self) -> bool:
        """Raters' proposals awaiting approval (an owner or arbitrator who rates on no sealed draw)."""
        return self.approver and self.sees_all

    @property
    def rates_blind(self) -> bool:
        """Rates on a draw whose round is still running."""
        return bool(self.rating_sealed)

    def sees_draw(self, draw_id: int | None) -> bool:
        """Every rater's work on this draw is visible (``None``: every draw of the study)."""
        if draw_id is None:
            return self.sees_all
        return self.member and draw_id not in self.sealed


def sealed_draw_ids(*, study: Study | int) -> list[int]:
    """The study's draws whose reliability round runs (labelling, arbitration not started)."""
    return list(_sealed_draws(study).values_list("pk", flat=True))


def _sealed_draws(study: Study | int) -> QuerySet[SampleDraw]:
    return SampleDraw.objects.filter(round_running_q(), study=study)


def round_running_q(*, prefix: str = "") -> Q:
    """A filter on draws (or rows reached from one through ``prefix``, e.g. ``"draw__"``): the
    ones whose reliability round runs (labelling, arbitration not started)."""
    return Q(**{f"{prefix}status": DrawStatus.LABELLING, f"{prefix}arbitration_started_at__isnull": True})


def sight_for(*, study: Study | int, user, membership: Membership | None = None) -> Sight:
    """``user``'s sight of ``study`` (a study or its id). ``membership``: the user's membership
    of the study where the caller has read it already (``study_get_for_user``)."""
    study_id = getattr(study, "pk", study)
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    if membership is not None and (membership.study_id, membership.user_id) != (study_id, user_id):
        raise ValueError("sight_for: the membership of another study or user")
    if membership is None and user_id is not None:
        membership = (Membership.objects.filter(study_id=study_id, user_id=user_id)
                      .only("is_owner", "is_arbitrator").first())
    if membership is None:
        return Sight(study_id=study_id, user_id=user_id, member=False, approver=False, sealed=frozenset(),
                     rating_sealed=frozenset())
    # The study's draws, whether each one's round runs and whether the user rates on it (their
    # first assignment there, ``_first_assignment``), in one query: one index probe per draw,
    # not a DISTINCT over the rater's tens of thousands of assignments. Unordered: a draw's
    # default order joins its study, for nothing here.
    rows = list(SampleDraw.objects.filter(study_id=study_id).order_by().annotate(
        running=round_running_q(),
        first=Subquery(_first_assignment(draw=OuterRef("pk"), user_id=user_id)),
    ).values_list("pk", "running", "first"))
    running = frozenset(pk for pk, is_running, _first in rows if is_running)
    rating = frozenset(pk for pk, is_running, first in rows if is_running and first is not None)
    approver = membership.is_owner or membership.is_arbitrator
    sealed = rating if approver else running
    return Sight(study_id=study_id, user_id=user_id, member=True, approver=approver,
                 sealed=sealed, rating_sealed=rating, running=running,
                 open_draws=frozenset(pk for pk, _running, _rated in rows if pk not in sealed))


def sight_whole(*, study: Study | int) -> Sight:
    """The sight of the study's own tools run from the shell (``manage.py export_taxonomy``):
    whoever can run them holds the database, and sees every label."""
    return Sight(study_id=getattr(study, "pk", study), user_id=None, member=True, approver=True,
                 sealed=frozenset(), rating_sealed=frozenset())


def sight_given(study: Study, user, sight: Sight | None) -> Sight:
    return sight if sight is not None else sight_for(study=study, user=user)


def assignment_visible_q(sight: Sight, *, prefix: str = "") -> Q:
    """A filter on assignments (or on rows reached from one through ``prefix``, e.g.
    ``"label__assignment__"``): the ones whose work ``sight`` may see."""
    if not sight.member:
        return Q(pk__in=[])
    mine = Q(**{f"{prefix}rater_id": sight.user_id})
    if not sight.sealed:
        return Q(**{f"{prefix}draw__study_id": sight.study_id})
    study = Q(**{f"{prefix}draw__study_id": sight.study_id})
    if sight.open_draws is None:
        return study & (mine | ~Q(**{f"{prefix}draw_id__in": sorted(sight.sealed)}))
    # The same rows, named by what is shown: one's own, or on a draw seen whole. Both sides are
    # indexed (rater, draw), where "not on a sealed draw" had every row of the study read.
    if not sight.open_draws:
        return study & mine
    return study & (mine | Q(**{f"{prefix}draw_id__in": sorted(sight.open_draws)}))


def work_visible_q(*, membership: Membership, prefix: str = "") -> Q:
    """``assignment_visible_q`` of a member's sight, applied in the same query rather than read
    first, on rows of the member's study that carry a draw and a rater (an assignment, a tally:
    ``prefix`` leads to its ``draw``, ``draw_id`` and ``rater_id``): every rater's work on a
    draw whose round does not run, and on one that does, ``running_draw_work_q``."""
    return ~round_running_q(prefix=f"{prefix}draw__") | running_draw_work_q(membership=membership, prefix=prefix)


def running_draw_work_q(*, membership: Membership, prefix: str = "") -> Q:
    """``assignment_visible_q`` of a member's sight on rows of the draws whose round runs (an
    assignment, a tally: ``prefix`` leads to its ``draw_id`` and ``rater_id``), applied in the
    same query rather than read first: there a member sees their own rows, and an owner or
    arbitrator every rater's rows of a draw they hold no assignment on (``sight_for``'s rule)."""
    mine = Q(**{f"{prefix}rater_id": membership.user_id})
    if not (membership.is_owner or membership.is_arbitrator):
        return mine
    return mine | IsNull(Subquery(_first_assignment(draw=OuterRef(f"{prefix}draw_id"), user_id=membership.user_id)),
                         True)


class PreparedPerMember:
    """A query of what a member sees, the rule applied in it (``work_visible_q``,
    ``running_draw_work_q``), prepared (``annotator.prepared``) once per kind of member: the
    rule's shape follows the member's roles, its values their study and user. ``build(member)``
    returns the ``values()`` queryset for ``member`` (a membership that stands in for every
    member with its roles)."""

    _ROLES = tuple(f.attname for f in Membership._meta.concrete_fields if isinstance(f, BooleanField))

    def __init__(self, build: Callable[[Membership], QuerySet]):
        self._build, self._prepared = build, {}

    def rows(self, membership: Membership) -> list[dict]:
        roles = tuple(getattr(membership, name) for name in self._ROLES)
        prepared = self._prepared.get(roles)
        if prepared is None:
            def build(*, study_id, user_id):
                return self._build(Membership(study_id=study_id, user_id=user_id, **dict(zip(self._ROLES, roles,
                                                                                             strict=True))))
            prepared = self._prepared[roles] = Prepared(build, study_id=int, user_id=int)
        return prepared.rows(study_id=membership.study_id, user_id=membership.user_id)


def _first_assignment(*, draw, user_id: int | None) -> QuerySet[Assignment]:
    """The user's first assignment on ``draw`` (an id or an ``OuterRef``) in the order of the
    (draw, rater, submitted_at) index: what "rates on this draw" asks, rather than EXISTS.
    PostgreSQL's generic plan of a prepared statement (the user a parameter) costs EXISTS as a
    sequential scan that stops at its first match: cheap for a rater, and a scan of every
    assignment for an owner who rates on nothing (8 ms for the sight of a study with 200,000
    assignments; 94 ms for the owner's progress, once per tally). An order to keep makes that
    scan sort everything first, so the index is the plan whoever asks."""
    return Assignment.objects.filter(draw_id=draw, rater_id=user_id).order_by("submitted_at").values("pk")[:1]


def assignments_visible(*, study: Study, user, sight: Sight | None = None) -> QuerySet[Assignment]:
    """The study's assignments whose work (label, progress) ``user`` may see."""
    return Assignment.objects.filter(assignment_visible_q(sight_given(study, user, sight)))


def final_label_visible_q(sight: Sight, *, prefix: str = "") -> Q:
    """A filter on final labels (or rows reached from one through ``prefix``): a pilot
    item's decision is the team's, seen by every member; a reliability item's only on a
    draw whose raters' work ``sight`` sees (final labels exist once arbitration starts,
    so in practice every member's)."""
    if not sight.member:
        return Q(pk__in=[])
    scope = Q(**{f"{prefix}item__draw__study_id": sight.study_id})
    if not sight.sealed:
        return scope
    pilot = Q(**{f"{prefix}item__part": ItemPart.PILOT})
    return scope & (pilot | ~Q(**{f"{prefix}item__draw_id__in": sorted(sight.sealed)}))
