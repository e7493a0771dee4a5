"""Posts and comments imported from Stack Exchange dumps.

Rows are identified by (study, site, so_id): the id the post has on its site.
Re-importing a dump updates these rows in place and never duplicates them.
Answers point to their question by ``parent_so_id`` (same study and site),
not by a foreign key, so that a dump can be imported in any order and in part.
"""

from django.db import models
from django.db.models import Q


class PostType(models.IntegerChoices):
    QUESTION = 1, "Question"
    ANSWER = 2, "Answer"


class Post(models.Model):
    # No index of its own: the unique (study, site, so_id) index serves every lookup by study,
    # and one index fewer is one write fewer for each of the millions of rows an import adds.
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="posts", db_index=False)
    site = models.CharField(max_length=100)
    so_id = models.BigIntegerField("id on the site")
    post_type = models.SmallIntegerField(choices=PostType.choices)
    parent_so_id = models.BigIntegerField(null=True, blank=True)
    accepted_answer_so_id = models.BigIntegerField(null=True, blank=True)
    title = models.TextField(blank=True)
    body = models.TextField(blank=True, help_text="HTML as in the dump; sanitised when shown.")
    # Normalised as "|a|b|" whatever the dump used, so `contains "|a|"` is an exact tag match.
    tags = models.TextField(blank=True)
    creation_date = models.DateTimeField(null=True, blank=True)
    last_activity_date = models.DateTimeField(null=True, blank=True)
    closed_date = models.DateTimeField(null=True, blank=True)
    score = models.IntegerField(null=True, blank=True)
    view_count = models.IntegerField(null=True, blank=True)
    answer_count = models.IntegerField(null=True, blank=True)
    comment_count = models.IntegerField(null=True, blank=True)
    favorite_count = models.IntegerField(null=True, blank=True)
    owner_user_id = models.BigIntegerField(null=True, blank=True)
    owner_display_name = models.CharField(max_length=200, blank=True)
    content_license = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["site", "so_id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "site", "so_id"], name="post_unique_per_study_site"),
            models.CheckConstraint(condition=Q(post_type__in=[1, 2]), name="post_type_question_or_answer"),
            models.CheckConstraint(
                condition=Q(post_type=1) | Q(parent_so_id__isnull=False), name="post_answer_has_parent"
            ),
        ]
        indexes = [
            models.Index(fields=["study", "post_type", "creation_date"], name="post_study_type_date"),
            # A question's answers. Answers only (a question has no parent): on a corpus of
            # questions alone, SQLite's statistics of a full index say every post shares one
            # parent, and it scanned the whole table for each item's answers.
            models.Index(fields=["study", "site", "parent_so_id"], name="post_study_site_parent",
                         condition=Q(parent_so_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.get_post_type_display()} {self.site}/{self.so_id}"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split("|") if t]

    @property
    def thread_tag_list(self) -> list[str]:
        """The post's tags; an answer's (none in a dump) are its question's, where the list
        annotated them (``selectors.post_list``)."""
        return [t for t in (self.tags or getattr(self, "question_tags", None) or "").split("|") if t]

    @property
    def is_question(self) -> bool:
        return self.post_type == PostType.QUESTION

    @property
    def original_url(self) -> str:
        kind = "questions" if self.is_question else "a"
        return f"https://{self.site}/{kind}/{self.so_id}"


class Comment(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="comments", db_index=False)
    site = models.CharField(max_length=100)
    so_id = models.BigIntegerField("id on the site")
    post_so_id = models.BigIntegerField()
    score = models.IntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    creation_date = models.DateTimeField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    user_display_name = models.CharField(max_length=200, blank=True)
    content_license = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["creation_date", "so_id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "site", "so_id"], name="comment_unique_per_study_site"),
        ]
        indexes = [models.Index(fields=["study", "site", "post_so_id"], name="comment_study_site_post")]

    def __str__(self) -> str:
        return f"Comment {self.site}/{self.so_id}"


class SiteUser(models.Model):
    """A user of a Stack Exchange site, from its ``Users.xml``: the display name shown for
    the posts and comments they wrote (which carry only the user's id). Keyed like posts,
    by (study, site, so_id); Community is -1."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="site_users", db_index=False)
    site = models.CharField(max_length=100)
    so_id = models.BigIntegerField("id on the site")
    display_name = models.CharField(max_length=200)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "site", "so_id"], name="site_user_unique_per_study_site"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.site}/{self.so_id})"

