"""Writes to studies and memberships."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.text import slugify

from .models import Membership, Role, Study

User = get_user_model()
ROLE_FLAGS = {Role.OWNER: "is_owner", Role.RATER: "is_rater", Role.ARBITRATOR: "is_arbitrator"}


def _role_flags(roles: Iterable[str]) -> dict[str, bool]:
    roles = set(roles)
    unknown = roles - {str(r) for r in Role}
    if unknown:
        raise ValidationError(f"Unknown role(s): {', '.join(sorted(unknown))}. Use owner, rater, arbitrator or viewer.")
    return {flag: role in roles for role, flag in ROLE_FLAGS.items()}


@transaction.atomic
def study_create(*, name: str, slug: str = "", description: str = "", owner=None) -> Study:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A study needs a name."})
    slug = slugify(slug or name)[:80]
    if not slug:
        raise ValidationError({"slug": "Choose a slug with at least one letter or digit."})
    if Study.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"The slug “{slug}” is taken; choose another."})
    try:
        with transaction.atomic():
            study = Study.objects.create(name=name, slug=slug, description=description, created_by=owner)
    except IntegrityError as exc:  # a concurrent create with the same slug
        raise ValidationError({"slug": f"The slug “{slug}” is taken; choose another."}) from exc
    if owner is not None:
        Membership.objects.create(study=study, user=owner, is_owner=True)
    return study


@transaction.atomic
def study_update(*, study: Study, name: str | None = None, description: str | None = None) -> Study:
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "A study needs a name."})
        study.name = name.strip()
    if description is not None:
        study.description = description
    study.save(update_fields=["name", "description"])
    return study


def study_get_or_create_for_import(*, slug: str, owner=None) -> Study:
    """For the command line: a study with that slug, created if it does not exist."""
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        study = study_create(name=slug, slug=slug, owner=owner)
    elif owner is not None:
        Membership.objects.get_or_create(study=study, user=owner, defaults={"is_owner": True})
    return study


def _user_find(identifier: str):
    identifier = identifier.strip()
    user = User.objects.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier)).first() if identifier else None
    if user is None:
        raise ValidationError({"user": f"No user “{identifier}”. Ask an administrator to create the account first."})
    return user


@transaction.atomic
def membership_add(*, study: Study, user_identifier: str, roles: Iterable[str]) -> Membership:
    user = _user_find(user_identifier)
    flags = _role_flags(roles)
    if Membership.objects.filter(study=study, user=user).exists():
        raise ValidationError({"user": f"{user.username} is already a member; change their roles instead."})
    try:
        with transaction.atomic():
            return Membership.objects.create(study=study, user=user, **flags)
    except IntegrityError as exc:
        raise ValidationError({"user": f"{user.username} is already a member."}) from exc


def _ensure_another_owner(*, study: Study, membership: Membership) -> None:
    owners = Membership.objects.select_for_update().filter(study=study, is_owner=True).exclude(pk=membership.pk)
    if not owners.exists():
        raise ValidationError("A study must keep at least one owner: make someone else owner first.")


@transaction.atomic
def membership_set_roles(*, membership: Membership, roles: Iterable[str]) -> Membership:
    flags = _role_flags(roles)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.is_owner and not flags["is_owner"]:
        _ensure_another_owner(study=membership.study, membership=membership)
    for field, value in flags.items():
        setattr(membership, field, value)
    membership.save(update_fields=list(flags))
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.is_owner:
        _ensure_another_owner(study=membership.study, membership=membership)
    membership.delete()
