from django.conf import settings
from django.db import models


class Study(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    RATER = "rater", "Rater"
    ARBITRATOR = "arbitrator", "Arbitrator"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's place in a study. Roles combine (an owner may also rate);
    a member with no role flag is a viewer: they read, never write."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    is_owner = models.BooleanField(default=False)
    is_rater = models.BooleanField(default=False)
    is_arbitrator = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique_user_per_study"),
        ]
        indexes = [models.Index(fields=["user", "study"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.study}"

    @property
    def roles(self) -> list[str]:
        roles = [
            role
            for role, flag in (
                (Role.OWNER, self.is_owner),
                (Role.RATER, self.is_rater),
                (Role.ARBITRATOR, self.is_arbitrator),
            )
            if flag
        ]
        return [str(r) for r in roles] or [str(Role.VIEWER)]

    def has_role(self, role: str) -> bool:
        if role == Role.VIEWER:
            return True
        return bool(getattr(self, f"is_{role}"))


