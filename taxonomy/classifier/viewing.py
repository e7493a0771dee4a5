"""What a member may see of the classifier's help on one item (issue 20, point 5), and the
owner's switch "show after submit". The one place that decides it: the similar-posts page,
its API and (for the other pages that show a model's help on an item) ``help_refusal``.

While a rater labels a reliability item of a draw whose round runs (arbitration not started),
they never see a model's suggestion or similar coded posts before submitting, whatever other
roles they hold: agreement figures must not be biased by it. Once submitted, they see them only
when an owner turned on ``show_after_submit`` (for training), off by default. Owners and
arbitrators see the help on any item otherwise (arbitration, Pending); a rater on items of
their own; a member who only views, nowhere (the help shows final labels of other posts, which
belong to the review pages)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404

from annotator.studies.models import Role
from annotator.studies.selectors import StudyAccess
from sampling.draws.models import Assignment, SampleItem
from taxonomy.review.arbitration.models import RelabelRequest

from .models import ClassifierSettings

BEFORE_SUBMIT = ("You have not submitted your label on this item: similar coded posts and a model's suggestion "
                 "are never shown before you submit.")
RELABELLING = ("You are asked to label this item again: similar coded posts and a model's suggestion are shown "
               "once your new label is in.")
OWNER_KEEPS_HIDDEN = ("The study's owner has not turned on “show after submit”: similar coded posts and a "
                      "model's suggestion are not shown to raters of a running round.")


def classifier_settings_get(*, study) -> ClassifierSettings:
    """The study's settings (``study``: a study or its id; unsaved defaults when none were saved)."""
    study_id = getattr(study, "pk", study)
    return ClassifierSettings.objects.filter(study_id=study_id).first() or ClassifierSettings(study_id=study_id)


@transaction.atomic
def classifier_settings_update(*, study, actor, show_after_submit: bool) -> ClassifierSettings:
    """An owner's choice (``actor`` must be the study's owner: the views check the role)."""
    settings, _ = ClassifierSettings.objects.select_for_update().get_or_create(study=study)
    settings.show_after_submit = show_after_submit
    settings.save(update_fields=["show_after_submit"])
    return settings


def help_refusal(*, item: SampleItem, user, settings: ClassifierSettings | None = None) -> str | None:
    """Why ``user`` may not see the model's help on ``item`` now (a message), or None. Only a
    rater's own assignment is refused here: on a draw whose round runs, and once arbitration
    started, while an arbitrator asks them to label the item again (they are labelling it)."""
    draw = item.draw
    assignment = Assignment.objects.filter(item=item, rater=user).only("submitted_at").first()
    if assignment is None:
        return None
    if draw.arbitration_started_at is not None:
        relabelling = RelabelRequest.objects.filter(assignment=assignment, done_at__isnull=True).exists()
        return RELABELLING if relabelling else None
    if assignment.submitted_at is None:
        return BEFORE_SUBMIT
    settings = settings or classifier_settings_get(study=draw.study_id)
    return None if settings.show_after_submit else OWNER_KEEPS_HIDDEN


def item_get_for_help(*, access: StudyAccess, user, item_id: int) -> SampleItem:
    """An item of the study whose similar posts ``user`` may see: 404 for an item that is not
    the study's, or that the user may not reach (a rater, another rater's item; a viewer, any);
    403 with the reason for a rater's own item while the round runs (``help_refusal``)."""
    item = (SampleItem.objects.select_related("post", "draw").filter(pk=item_id, draw__study=access.study)
            .first())
    if item is None:
        raise Http404("No such item.")
    approver = access.can(Role.OWNER) or access.can(Role.ARBITRATOR)
    if not approver and not Assignment.objects.filter(item=item, rater=user).exists():
        raise Http404("No such item.")
    refusal = help_refusal(item=item, user=user)
    if refusal:
        raise PermissionDenied(refusal)
    return item
