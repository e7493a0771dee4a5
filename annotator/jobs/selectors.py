from django.db.models import QuerySet
from django.http import Http404

from annotator.studies.models import Membership
from annotator.studies.selectors import study_get_for_user

from .models import Job


def job_list(*, study, kind: str | None = None) -> QuerySet[Job]:
    jobs = Job.objects.filter(study=study).select_related("created_by")
    return jobs.filter(kind=kind) if kind else jobs


def job_get_for_user(*, job_id: int, user) -> Job:
    """The job, if the user is a member of its study; 404 otherwise (missing or forbidden alike)."""
    job = Job.objects.select_related("study", "created_by").filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    try:
        study_get_for_user(slug=job.study.slug, user=user)
    except Http404:
        # The same answer as for a missing job, so that its existence does not leak.
        raise Http404("No such job.") from None
    return job


def job_can_cancel(*, job: Job, user) -> bool:
    """An owner of the job's study, or the member who started it."""
    if not getattr(user, "is_authenticated", False):
        return False
    if job.created_by_id == user.pk:
        return True
    return Membership.objects.filter(study_id=job.study_id, user=user, is_owner=True).exists()


def job_get_in_study(*, study, job_id: int | None, kind: str | None = None, missing: str = "No such job.") -> Job:
    """A job of ``study`` (and of ``kind``, if given) by id, or 404 with ``missing`` (also for no id:
    a malformed one read from a query string)."""
    job = job_list(study=study, kind=kind).filter(pk=job_id).first() if job_id is not None else None
    if job is None:
        raise Http404(missing)
    return job
