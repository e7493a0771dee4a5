"""A study's taxonomy: a tree of categories and the record of every change to it.

Categories are never deleted: a retired or merged category keeps its row (and
``merged_into`` says where its labels went), so that labels, codes, history and
old agreement figures keep pointing at something real. "Leaf" is not stored:
it is a category with no non-retired children, computed when needed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower


class CategoryStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # Awaiting approval by an owner or arbitrator. Proposed by a rater while
    # labelling: private (usable at once by its proposer, seen by the owners and
    # arbitrators who rate on no running round). Made by grouping codes in the
    # joint pilot: ``joint``, seen by every member.
    PROPOSED = "proposed", "Proposed"
    RETIRED = "retired", "Retired"


# Names are unique among the siblings every member sees (active categories and joint
# proposals); a private proposal only among its proposer's own, so that proposing a
# name never tells a rater that someone else proposed it (approval meets the clash).
PUBLIC = Q(status="active") | Q(status="proposed", joint=True)
PRIVATE = Q(status="proposed", joint=False)


class Category(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="categories")
    # PROTECT: a parent is retired, never deleted, while it has children.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=200)
    definition = models.TextField(blank=True)
    inclusion = models.TextField(blank=True, help_text="What belongs here.")
    exclusion = models.TextField(blank=True, help_text="What does not belong here (and where it goes instead).")
    examples = models.ManyToManyField("corpus.Post", blank=True, related_name="example_of")
    status = models.CharField(max_length=10, choices=CategoryStatus.choices, default=CategoryStatus.ACTIVE)
    position = models.PositiveIntegerField(default=0, help_text="Order among siblings.")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    joint = models.BooleanField(default=False, help_text="a proposal made in the joint pilot: every member sees it")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            # Sibling names are unique (case-insensitive) among public categories, and
            # among one proposer's private proposals; roots have no parent, so they get
            # their own constraints.
            models.UniqueConstraint(
                "parent", Lower("name"), condition=PUBLIC & Q(parent__isnull=False),
                name="category_unique_name_among_siblings",
            ),
            models.UniqueConstraint(
                "study", Lower("name"), condition=PUBLIC & Q(parent__isnull=True),
                name="category_unique_root_name",
            ),
            models.UniqueConstraint(
                "parent", Lower("name"), "proposed_by", condition=PRIVATE & Q(parent__isnull=False),
                name="category_unique_private_proposal",
            ),
            models.UniqueConstraint(
                "study", Lower("name"), "proposed_by", condition=PRIVATE & Q(parent__isnull=True),
                name="category_unique_private_root_proposal",
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="category_not_own_parent"),
            models.CheckConstraint(condition=~Q(merged_into=F("id")), name="category_not_merged_into_itself"),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(status="retired"), name="category_merged_is_retired"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="category_name_not_empty"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CategoryStatus]), name="category_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["study", "status"])]

    def __str__(self) -> str:
        return self.name


class ChangeAction(models.TextChoices):
    ADD = "add", "Added"
    RENAME = "rename", "Renamed"
    DESCRIBE = "describe", "Described"
    MOVE = "move", "Moved"
    MERGE = "merge", "Merged"
    SPLIT = "split", "Split"
    RETIRE = "retire", "Retired"
    RESTORE = "restore", "Restored"
    PROPOSE = "propose", "Proposed"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class CategoryChange(models.Model):
    """One change to the tree: who, when, before/after, and how many rows of each kind followed.

    The latest change id of a study is its taxonomy version: an agreement
    figure stores it so that it stays reproducible after the tree changes.
    """

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="category_changes")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    # What followed the change: dependent name (taxonomy.tree.dependents) → rows, e.g.
    # {"labels": 3, "final_labels": 2, "codes": 1}; labels_moved and codes_moved repeat
    # the first and last of those (the API's older fields).
    moved = models.JSONField(default=dict, blank=True)
    labels_moved = models.PositiveIntegerField(default=0)
    codes_moved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=[a.value for a in ChangeAction]), name="category_change_action_valid"
            ),
        ]
        indexes = [models.Index(fields=["study", "-id"])]


class CategoriesSeen(models.Model):
    """How far into the study's change history (``CategoryChange`` ids) a member has been told
    about new categories: the announcements shown while labelling are the additions and
    approvals after it (``selectors.categories_announced``), until the member dismisses them.
    The history is the record; this row is only the member's bookmark in it."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    change_id = models.PositiveBigIntegerField(default=0, help_text="the last change this member was told about")

    class Meta:
        verbose_name_plural = "categories seen"
        constraints = [models.UniqueConstraint(fields=["study", "user"], name="categories_seen_once_per_member")]
