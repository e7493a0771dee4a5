"""Reads of studies and memberships, and the one place where access is decided.

``study_get_for_user`` is what every page and API endpoint under a study calls:
it returns the study and the caller's membership, or raises ``Http404`` for a
study that does not exist *and* for one the user may not see, so that a
non-member learns nothing (not even that the slug exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet
from django.http import Http404

from annotator.prepared import Prepared, columns, instance

from .models import Membership, Role, Study


@dataclass(frozen=True)
class StudyAccess:
    study: Study
    membership: Membership

    def can(self, role: str) -> bool:
        return self.membership.has_role(role)


def study_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Study]:
    if not user.is_authenticated:
        return Study.objects.none()
    # Filtered through a subquery: filtering on ``memberships__user`` would make the count
    # read the same join, and count the user's own membership only ("Members 1").
    mine = Membership.objects.filter(user=user).values("study_id")
    return Study.objects.filter(pk__in=mine).annotate(member_count=Count("memberships"))


# Every request under a study reads this: prepared, as compiling it cost more than running it.
# One row at most (a member once per study), read with no order at all: the members' default
# order (by username) would join the users into every request's first query.
_MEMBERSHIP_WITH_STUDY = Prepared(
    lambda *, slug, user_id: Membership.objects.filter(study__slug=slug, user_id=user_id).order_by()
    .values(*columns(Membership), *columns(Study, "study__"))[:1],
    slug=str, user_id=int)


def study_get_for_user(*, slug: str, user: AbstractBaseUser | AnonymousUser, role: str = Role.VIEWER) -> StudyAccess:
    """The study and the user's membership, or 404 when missing, not a member, or lacking ``role``."""
    if not user.is_authenticated:
        raise Http404("No such study.")
    rows = _MEMBERSHIP_WITH_STUDY.rows(slug=slug, user_id=user.pk)
    if not rows:
        raise Http404("No such study.")
    membership = instance(Membership, rows[0])
    if not membership.has_role(role):
        raise Http404("No such study.")
    membership.study = instance(Study, rows[0], prefix="study__")
    return StudyAccess(study=membership.study, membership=membership)


def membership_list(*, study: Study) -> QuerySet[Membership]:
    return Membership.objects.filter(study=study).select_related("user").order_by("user__username")


def membership_get(*, study: Study, membership_id: int) -> Membership:
    membership = Membership.objects.filter(study=study, pk=membership_id).select_related("user").first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def study_list_for_user_by_name(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Study]:
    return study_list_for_user(user=user).order_by("name")


def membership_count(*, study: Study) -> int:
    return Membership.objects.filter(study=study).count()
