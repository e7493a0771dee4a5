from django import template

from annotator.jobs.selectors import job_can_cancel

register = template.Library()


@register.filter
def cancellable_by(job, user) -> bool:
    """``{% if job|cancellable_by:request.user %}``: an unfinished job this user may cancel."""
    return not job.is_finished and not job.cancel_requested and job_can_cancel(job=job, user=user)
