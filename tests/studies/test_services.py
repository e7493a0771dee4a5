"""Study and membership services: slugs, roles, and the last-owner rule."""

import pytest
from django.core.exceptions import ValidationError

from annotator.studies import services
from annotator.studies.models import Membership, Role, Study
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- study_create --------------------------------------------------------------


def test_study_create_derives_the_slug_from_the_name():
    study = services.study_create(name="  Deep Learning Deployment (FSE 2020)  ")

    assert study.slug == "deep-learning-deployment-fse-2020"
    assert study.name == "Deep Learning Deployment (FSE 2020)"
    assert Study.objects.get(slug="deep-learning-deployment-fse-2020") == study


def test_study_create_slugifies_a_given_slug_instead_of_the_name():
    study = services.study_create(name="Anything", slug="My Own Slug")

    assert study.slug == "my-own-slug"


def test_study_create_refuses_a_duplicate_slug():
    services.study_create(name="Mobile deployment")

    with pytest.raises(ValidationError) as caught:
        services.study_create(name="Mobile Deployment!")  # same slug once derived
    assert "slug" in caught.value.message_dict
    assert "mobile-deployment" in caught.value.message_dict["slug"][0]

    with pytest.raises(ValidationError):
        services.study_create(name="Other name", slug="mobile-deployment")
    assert Study.objects.filter(slug="mobile-deployment").count() == 1
    assert Study.objects.count() == 1


@pytest.mark.parametrize("name, slug, field", [("   ", "", "name"), ("!!!", "", "slug"), ("Fine", "???", "slug")])
def test_study_create_refuses_an_empty_name_or_slug(name, slug, field):
    with pytest.raises(ValidationError) as caught:
        services.study_create(name=name, slug=slug)
    assert field in caught.value.message_dict
    assert not Study.objects.exists()


def test_the_creator_of_a_study_becomes_its_only_owner():
    creator = UserFactory()

    study = services.study_create(name="Browser deployment", owner=creator)

    membership = Membership.objects.get(study=study)
    assert membership.user == creator
    assert membership.is_owner and not membership.is_rater and not membership.is_arbitrator
    assert membership.roles == ["owner"]
    assert study.created_by == creator


def test_a_study_created_without_an_owner_has_no_members():
    study = services.study_create(name="From the command line")

    assert not Membership.objects.filter(study=study).exists()


# --- membership_add ------------------------------------------------------------


@pytest.fixture
def study():
    study = StudyFactory()
    MembershipFactory(study=study, is_owner=True)
    return study


def test_membership_add_by_username_sets_the_roles(study):
    rater = UserFactory(username="alice")

    membership = services.membership_add(study=study, user_identifier="alice", roles=["rater", "arbitrator"])

    membership.refresh_from_db()
    assert membership.study == study and membership.user == rater
    assert (membership.is_owner, membership.is_rater, membership.is_arbitrator) == (False, True, True)
    assert membership.roles == ["rater", "arbitrator"]


def test_membership_add_by_email_ignoring_case_and_spaces(study):
    user = UserFactory(username="bob", email="bob@lab.example.org")

    membership = services.membership_add(study=study, user_identifier="  Bob@Lab.Example.org ", roles=["owner"])

    assert membership.user == user
    assert Membership.objects.get(study=study, user=user).is_owner


def test_membership_add_refuses_an_unknown_user(study):
    UserFactory(username="carol")

    with pytest.raises(ValidationError) as caught:
        services.membership_add(study=study, user_identifier="nobody", roles=["rater"])
    assert "user" in caught.value.message_dict
    assert "nobody" in caught.value.message_dict["user"][0]
    with pytest.raises(ValidationError):
        services.membership_add(study=study, user_identifier="", roles=[])
    assert Membership.objects.filter(study=study).count() == 1


def test_membership_add_refuses_someone_who_is_already_a_member(study):
    member = MembershipFactory(study=study, is_rater=True)

    with pytest.raises(ValidationError) as caught:
        services.membership_add(study=study, user_identifier=member.user.email, roles=["owner"])
    assert "already a member" in caught.value.message_dict["user"][0]
    member.refresh_from_db()
    assert not member.is_owner  # the existing membership is left alone
    assert Membership.objects.filter(study=study, user=member.user).count() == 1


def test_membership_add_refuses_an_unknown_role(study):
    user = UserFactory()

    with pytest.raises(ValidationError) as caught:
        services.membership_add(study=study, user_identifier=user.username, roles=["rater", "superuser"])
    assert "superuser" in " ".join(caught.value.messages)
    assert not Membership.objects.filter(study=study, user=user).exists()


def test_a_member_of_one_study_can_join_another(study):
    other = StudyFactory()
    member = MembershipFactory(study=other, is_owner=True)

    services.membership_add(study=study, user_identifier=member.user.username, roles=[])

    assert Membership.objects.filter(user=member.user).count() == 2


@pytest.mark.parametrize("roles", [[], ["viewer"]])
def test_a_viewer_has_no_role_flag(study, roles):
    user = UserFactory()

    membership = services.membership_add(study=study, user_identifier=user.username, roles=roles)

    membership.refresh_from_db()
    assert (membership.is_owner, membership.is_rater, membership.is_arbitrator) == (False, False, False)
    assert membership.roles == ["viewer"]
    assert membership.has_role(Role.VIEWER)
    assert not any(membership.has_role(r) for r in (Role.OWNER, Role.RATER, Role.ARBITRATOR))


# --- membership_set_roles / membership_remove ----------------------------------


@pytest.fixture
def owner():
    return MembershipFactory(is_owner=True)


def test_membership_set_roles_replaces_the_flags(owner):
    member = MembershipFactory(study=owner.study, is_rater=True)

    services.membership_set_roles(membership=member, roles=["arbitrator", "owner"])
    member.refresh_from_db()
    assert (member.is_owner, member.is_rater, member.is_arbitrator) == (True, False, True)

    services.membership_set_roles(membership=member, roles=[])
    member.refresh_from_db()
    assert member.roles == ["viewer"]


def test_membership_set_roles_refuses_an_unknown_role(owner):
    member = MembershipFactory(study=owner.study, is_rater=True)

    with pytest.raises(ValidationError):
        services.membership_set_roles(membership=member, roles=["admin"])
    member.refresh_from_db()
    assert member.is_rater and not member.is_owner


@pytest.mark.parametrize("roles", [[], ["rater"], ["rater", "arbitrator"]])
def test_the_last_owner_cannot_be_demoted(owner, roles):
    with pytest.raises(ValidationError) as caught:
        services.membership_set_roles(membership=owner, roles=roles)
    assert "owner" in " ".join(caught.value.messages)
    owner.refresh_from_db()
    assert owner.is_owner and not owner.is_rater


def test_the_last_owner_may_add_roles_and_stay_owner(owner):
    services.membership_set_roles(membership=owner, roles=["owner", "rater"])

    owner.refresh_from_db()
    assert owner.is_owner and owner.is_rater


def test_the_last_owner_cannot_be_removed(owner):
    MembershipFactory(study=owner.study, is_rater=True, is_arbitrator=True)

    with pytest.raises(ValidationError):
        services.membership_remove(membership=owner)
    assert Membership.objects.filter(pk=owner.pk, is_owner=True).exists()


def test_an_owner_of_another_study_does_not_count(owner):
    MembershipFactory(user=owner.user, is_owner=True)  # same person, owner elsewhere
    MembershipFactory(is_owner=True)

    with pytest.raises(ValidationError):
        services.membership_set_roles(membership=owner, roles=["rater"])
    with pytest.raises(ValidationError):
        services.membership_remove(membership=owner)
    owner.refresh_from_db()
    assert owner.is_owner


def test_with_two_owners_one_can_be_demoted_then_the_other_is_the_last(owner):
    second = MembershipFactory(study=owner.study, is_owner=True)

    services.membership_set_roles(membership=owner, roles=["rater"])
    owner.refresh_from_db()
    assert not owner.is_owner and owner.is_rater

    with pytest.raises(ValidationError):
        services.membership_set_roles(membership=second, roles=[])
    second.refresh_from_db()
    assert second.is_owner


def test_with_two_owners_one_can_be_removed_then_the_other_is_the_last(owner):
    second = MembershipFactory(study=owner.study, is_owner=True)

    services.membership_remove(membership=owner)
    assert not Membership.objects.filter(pk=owner.pk).exists()

    with pytest.raises(ValidationError):
        services.membership_remove(membership=second)
    assert Membership.objects.filter(pk=second.pk).exists()


def test_members_who_are_not_owners_can_always_be_removed(owner):
    rater = MembershipFactory(study=owner.study, is_rater=True)
    viewer = MembershipFactory(study=owner.study)

    services.membership_remove(membership=rater)
    services.membership_remove(membership=viewer)

    assert list(Membership.objects.filter(study=owner.study)) == [owner]
