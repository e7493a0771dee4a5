"""Results pages: the taxonomy with its final counts (for the study, one draw or one
stratum) and the downloads. Every member reads; what they see goes through the
blindness rule (final labels are everyone's once arbitration starts)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from annotator.studies.access import study_view
from annotator.csv_output import csv_response
from annotator.jobs.progress import job_progress_render
from sampling.draws.models import DrawStatus

from . import codebook, figure, saturation, selectors, services
from .report import methods_report, methods_report_download
from .taxonomy_csv import TAXONOMY_COLUMNS, taxonomy_csv_filename, taxonomy_csv_rows


@study_view()
def results_page(request, slug, *, access):
    study = access.study
    error, results, undecided, curve = None, None, [], None
    try:
        arguments = selectors.results_scope_arguments(request.GET)
        results = selectors.results_get(study=study, user=request.user, **arguments)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    else:
        undecided = selectors.results_undecided_items(scope=results.scope)
        curve = saturation.saturation_curve(study=study, user=request.user, **arguments)
    draws, strata = selectors.results_scope_choices(study=study)
    return render(request, "taxonomy/results/results.html", {
        "access": access, "study": study, "results": results, "error": error, "undecided": undecided,
        "draws": draws, "strata": strata, "labelling": DrawStatus.LABELLING,
        "draw_arg": request.GET.get("draw", ""), "stratum_arg": request.GET.get("stratum", ""),
        "query": request.GET.urlencode(), "saturation": curve,
    })


@study_view()
def taxonomy_csv(request, slug, *, access):
    try:
        arguments = selectors.results_scope_arguments(request.GET)
        results = selectors.results_get(study=access.study, user=request.user, **arguments)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
    return csv_response(request, header=TAXONOMY_COLUMNS, rows=taxonomy_csv_rows(results=results),
                        filename=taxonomy_csv_filename(results=results))


# -- exports that run as jobs ------------------------------------------------------------


@study_view(methods=["POST"])
def export_start(request, slug, *, access):
    """Start an export job (``kind``: items_csv, archive, package), then show its progress."""
    try:
        arguments = selectors.results_scope_arguments(request.POST)
        job = services.export_start(study=access.study, user=request.user, kind=request.POST.get("kind", ""),
                                    excel=request.POST.get("excel") in ("1", "on", "true"), **arguments)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", None) or [str(exc)]))
        return redirect(reverse("results:home", args=[slug]))
    return redirect(reverse("results:export", args=[slug, job.pk]))


@study_view()
def export_detail(request, slug, job_id, *, access):
    """The export's progress (polled), then its download link."""
    job = services.export_job_get(study=access.study, user=request.user, job_id=job_id)
    if request.htmx:
        return job_progress_render(request, job)
    return render(request, "taxonomy/results/export.html", {"access": access, "study": access.study, "job": job,
                                                            "export": services.EXPORTS.get(job.params["export"])})


@study_view()
def export_download(request, slug, job_id, *, access):
    job, path, export = services.export_file_get(study=access.study, user=request.user, job_id=job_id)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type=export.content_type)


@study_view()
def report_page(request, slug, *, access):
    """The methods report: every number of a paper's method section, each with its source."""
    report = methods_report(study=access.study, user=request.user)
    return render(request, "taxonomy/results/report.html", {"access": access, "study": access.study, "report": report})


@study_view()
def report_markdown(request, slug, *, access):
    """The methods report as Markdown with LaTeX tables (links absolute to this site)."""
    report = methods_report(study=access.study, user=request.user)
    return methods_report_download(report=report, base_url=request.build_absolute_uri("/"))


# -- the taxonomy figure, the saturation curve and the codebook ----------------------------


def _bad_request(exc: ValidationError) -> HttpResponse:
    return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")


@study_view()
def codebook_qdc(request, slug, *, access):
    """The tree as a REFI-QDA codebook (400 with the reason when the tree is empty)."""
    try:
        content = codebook.codebook_qdc(study=access.study, user=request.user)
    except ValidationError as exc:
        return _bad_request(exc)
    return figure.download_response(content, content_type=codebook.CONTENT_TYPE,
                                    filename=codebook.codebook_filename(study=access.study))


@study_view()
def taxonomy_figure(request, slug, fmt, *, access):
    """The taxonomy figure (svg, pdf, png) of the scope asked for; ``?download=1`` as an attachment."""
    try:
        fmt = figure.figure_format(fmt)
        results = selectors.results_get(study=access.study, user=request.user,
                                        **selectors.results_scope_arguments(request.GET))
    except ValidationError as exc:
        return _bad_request(exc)
    return figure.download_response(figure.taxonomy_figure(results=results, fmt=fmt),
                                    content_type=figure.FIGURE_FORMATS[fmt], attachment="download" in request.GET,
                                    filename=figure.taxonomy_figure_filename(results=results, fmt=fmt))


def _saturation(request, access):
    return saturation.saturation_curve(study=access.study, user=request.user,
                                       **selectors.results_scope_arguments(request.GET))


@study_view()
def saturation_figure(request, slug, fmt, *, access):
    """The saturation curve (svg, png, pdf) of the scope asked for."""
    try:
        fmt = figure.figure_format(fmt, formats=saturation.SATURATION_FORMATS)
        curve = _saturation(request, access)
    except ValidationError as exc:
        return _bad_request(exc)
    return figure.download_response(saturation.saturation_figure(curve, fmt=fmt),
                                    content_type=figure.FIGURE_FORMATS[fmt], attachment="download" in request.GET,
                                    filename=saturation.saturation_figure_filename(study=curve.scope.study, fmt=fmt))


@study_view()
def saturation_csv(request, slug, *, access):
    """The saturation curve's data: one row per decided item in coding order."""
    try:
        curve = _saturation(request, access)
    except ValidationError as exc:
        return _bad_request(exc)
    return csv_response(request, header=saturation.SATURATION_COLUMNS, rows=saturation.saturation_rows(curve),
                        filename=saturation.saturation_csv_filename(study=curve.scope.study))
