"""Named question sets defined by rules, their members and their funnel.

A rule is a fixed pipeline; every step that is set narrows or widens the set,
and the funnel records how many questions each step kept and dropped:

1. start: the union of the ``within`` sets, or every question of the study;
2. tags: questions carrying any of these tags;
3. words: any vocabulary word in the title and/or the body outside code;
4. required words: also at least one of these;
5. creation date range;
6. union: plus the members of ``union`` sets and questions carrying ``union_tags``;
7. minus: without the members of ``minus`` sets (e.g. baseline = B − (C ∪ D ∪ E));
8. manual include / exclude of single posts, each with a reason.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class QuestionSet(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="question_sets")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="keep questions carrying any of these tags")
    words = models.JSONField(default=list, blank=True, help_text="keep questions containing any of these words")
    required_words = models.JSONField(default=list, blank=True, help_text="…and at least one of these too")
    whole_words = models.BooleanField(default=True, help_text="match whole words (else any substring)")
    search_title = models.BooleanField(default=True)
    search_body = models.BooleanField(default=True, help_text="the body without its code blocks")
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    union_tags = models.JSONField(default=list, blank=True, help_text="add questions carrying any of these tags")
    all_questions = models.BooleanField(
        default=False, help_text="the set holds every question of the study (no filter needed): a baseline or stratum")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Results of the last evaluation (members are in QuestionSetMember).
    evaluated_at = models.DateTimeField(null=True, blank=True)
    member_count = models.IntegerField(null=True, blank=True)
    funnel = models.JSONField(default=list, blank=True)
    # What makes a set, or what uses it, out of date: its rule or manual decisions changed
    # (until the evaluation this queues has run), and when an evaluation last changed its members.
    rule_changed_at = models.DateTimeField(null=True, blank=True)
    members_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="question_set_unique_name_per_study"),
            models.CheckConstraint(
                condition=Q(date_from__isnull=True) | Q(date_to__isnull=True) | Q(date_from__lte=models.F("date_to")),
                name="question_set_dates_ordered",
            ),
            models.CheckConstraint(condition=Q(search_title=True) | Q(search_body=True),
                                   name="question_set_searches_something"),
        ]

    def __str__(self) -> str:
        return self.name


class SetReference(models.Model):
    """One set used by another's rule. RESTRICT: a set in use cannot be deleted
    on its own (the rule would silently change; the error names the sets that
    use it), but it goes with its study like everything else."""

    class Kind(models.TextChoices):
        WITHIN = "within", "within"
        UNION = "union", "plus"
        MINUS = "minus", "minus"

    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="references")
    target = models.ForeignKey(QuestionSet, on_delete=models.RESTRICT, related_name="referenced_by")
    kind = models.CharField(max_length=10, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question_set", "target", "kind"], name="set_reference_unique"),
            models.CheckConstraint(condition=~Q(question_set=models.F("target")), name="set_reference_not_self"),
            models.CheckConstraint(condition=Q(kind__in=["within", "union", "minus"]), name="set_reference_kind"),
        ]


class ManualDecision(models.Model):
    """A post included in or excluded from a set by hand, with the reason."""

    class Action(models.TextChoices):
        INCLUDE = "include", "include"
        EXCLUDE = "exclude", "exclude"

    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="manual_decisions")
    post = models.ForeignKey("corpus.Post", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question_set", "post"], name="manual_decision_one_per_post"),
            models.CheckConstraint(condition=~Q(reason=""), name="manual_decision_has_reason"),
            models.CheckConstraint(condition=Q(action__in=["include", "exclude"]), name="manual_decision_action"),
        ]


class QuestionSetMember(models.Model):
    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="members")
    post = models.ForeignKey("corpus.Post", on_delete=models.CASCADE, related_name="+")
    matched_words = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question_set", "post"], name="member_unique_per_set")]
