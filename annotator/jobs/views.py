from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .selectors import job_get_for_user
from .services import job_cancel


@login_required
@require_POST
def job_cancel_view(request, job_id):
    """The cancel button of a job's progress panel; back to the page it was on."""
    job = job_get_for_user(job_id=job_id, user=request.user)
    try:
        job = job_cancel(job=job, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, "Job cancelled." if job.is_finished
                      else "Cancel requested: the job stops at its next step.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = "/"
    return redirect(back)
