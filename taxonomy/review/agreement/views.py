"""Agreement pages: the runs of a study with the start form, and one run
(progress while computing, then its figures). Owners start; owners,
arbitrators and viewers read the runs the blindness rule lets them see; a
member who only rates sees nothing while labelling goes on (``agreement_access``)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header

from annotator.studies.access import study_view
from annotator.csv_output import csv_response
from annotator.form_utils import form_errors_add, query_id
from annotator.jobs.selectors import job_get_in_study
from annotator.jobs.progress import job_progress_render
from annotator.studies.models import Role

from . import exports, figures, selectors, services
from .apis import AgreementRunDetailOutput
from .forms import AgreementStartForm

CONFUSION_SHOWN = 50


@study_view(check=selectors.agreement_access, write_role=Role.OWNER, methods=["GET", "POST"])
def run_list(request, slug, *, access):
    """The runs, and for owners the form that starts one (POST: start it)."""
    study = access.study
    draws = selectors.agreement_labelling_draws(study=study)
    strata = selectors.agreement_strata(study=study)
    form = AgreementStartForm(request.POST if request.method == "POST" else None, draws=draws, strata=strata,
                              initial={"draw": draws[-1].pk if draws else None})
    if request.method == "POST" and form.is_valid():
        try:
            run = services.agreement_run_start(study=study, user=request.user, **form.start_arguments())
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"Computing agreement run #{run.pk} (seed {run.seed}).")
            return redirect(f"{reverse('agreement:run', args=[slug, run.pk])}?job={run.job_id}")
    page = Paginator(selectors.agreement_run_list(study=study, user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "agreement/run_list.html", {
        "access": access, "study": study, "page": page, "form": form, "draws": draws, "strata": strata})


@study_view(check=selectors.agreement_access)
def run_detail(request, slug, run_id, *, access):
    """One run: progress while it computes, then its figures. An htmx request with ``?job=``
    polls the progress; with ``?pair=`` it swaps in another pair of raters' matrix."""
    run = selectors.agreement_run_get(study=access.study, run_id=run_id, user=request.user)
    if request.htmx and request.GET.get("job"):
        job = job_get_in_study(study=access.study, job_id=query_id(request.GET["job"]))
        return job_progress_render(request, job)
    result = run.result or {}
    pair = query_id(request.GET.get("pair"))
    matrix = figures.confusion_matrix(stored=result.get("confusion_matrix"), pair=pair - 1 if pair else None)
    context = {"access": access, "study": access.study, "run": run, "matrix": matrix}
    if request.htmx and "pair" in request.GET:
        return render(request, "agreement/run_detail.html#matrix", context)
    coefficients = selectors.agreement_run_coefficients(run=run)
    confusion = result.get("confusion") or []
    return render(request, "agreement/run_detail.html", {
        **context,
        "job": run.job if run.job and not run.job.is_finished else None,
        "poll_url": f"{request.path}?job={run.job_id}",
        "coefficients": coefficients,
        "headline": figures.headline(coefficients=coefficients, raters=run.raters),
        "per_category": result.get("per_category") or [],
        "reasons": _footnotes(result.get("per_category") or []),
        "confusion": confusion[:CONFUSION_SHOWN], "confusion_total": len(confusion),
        "rater_summary": result.get("rater_summary") or [],
        "tree_now": selectors.agreement_taxonomy_changed(run=run),
    })


def _footnotes(per_category) -> list[str]:
    """The distinct reasons a per-category κ does not apply, numbered once for the whole table."""
    return list(dict.fromkeys(reason for row in per_category for reason in (row.get("reasons") or {}).values()))


@study_view(check=selectors.agreement_access)
def run_csv(request, slug, run_id, *, access):
    """The run as CSV (``exports``): the same visibility as the page."""
    run = selectors.agreement_run_get(study=access.study, run_id=run_id, user=request.user)
    return csv_response(request, header=exports.AGREEMENT_CSV_COLUMNS, rows=exports.agreement_run_csv_rows(run=run),
                        filename=exports.agreement_run_filename(run=run, extension="csv"))


@study_view(check=selectors.agreement_access)
def run_json(request, slug, run_id, *, access):
    """The run as JSON: the API's document of it, as a file."""
    run = selectors.agreement_run_get(study=access.study, run_id=run_id, user=request.user)
    response = JsonResponse(AgreementRunDetailOutput(run).data, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response.headers["Content-Disposition"] = content_disposition_header(
        True, exports.agreement_run_filename(run=run, extension="json"))
    return response
