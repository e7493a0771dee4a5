from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from annotator.studies.access import study_view
from annotator.csv_output import csv_response
from annotator.jobs.selectors import job_get_in_study
from sampling.question_sets.selectors import question_set_list
from annotator.studies.models import Role
from annotator.form_utils import form_errors_add, query_id
from annotator.jobs.progress import job_progress_render

from . import selectors, services
from .design import study_raters
from .forms import DEFAULTS, DrawDesignForm, RedistributeForm, SampleSizeForm
from .models import ItemPart
from .sample_size import sample_size


@login_required
def sample_size_calculator(request):
    """The whole page, or (for htmx, as the inputs change) just the result."""
    form = SampleSizeForm(request.GET or None, initial=DEFAULTS)
    result = error = None
    if form.is_bound and form.is_valid():
        try:
            result = sample_size(**form.cleaned_data)
        except ValueError as exc:
            error = str(exc)
    context = {"form": form, "result": result, "error": error}
    template = "sampling/sample_size.html#result" if request.htmx else "sampling/sample_size.html"
    return render(request, template, context)


# -- draws -----------------------------------------------------------------------------


@study_view()
def draw_list(request, slug, *, access):
    draws = Paginator(selectors.draw_list(study=access.study), 25).get_page(request.GET.get("page"))
    return render(request, "sampling/draw_list.html", {"access": access, "study": access.study, "page": draws})


@study_view(Role.OWNER, methods=["GET", "POST"])
def draw_new(request, slug, *, access):
    """The design form; as its inputs change (htmx) the design table preview;
    on submit, the draw starts as a background job."""
    study = access.study
    sets = [qs for qs in question_set_list(study=study) if qs.member_count is not None]
    raters = study_raters(study=study)
    latest = selectors.draw_latest_version(study=study)
    initial = {"expected_version": latest}
    if request.GET.get("from"):
        try:
            source = selectors.draw_get(study=study, version=int(request.GET["from"]))
        except ValueError:
            raise Http404("No such draw.") from None
        initial.update(DrawDesignForm.initial_from(selectors.design_from_draw(draw=source)))
    preview = request.htmx and request.GET.get("preview")
    data = request.POST if request.method == "POST" else (request.GET if preview else None)
    form = DrawDesignForm(data, sets=sets, raters=raters, initial=initial)
    context = {"access": access, "study": study, "form": form, "sets": sets, "raters": raters, "latest": latest}
    if preview:
        context["preview"] = None
        if form.is_valid() and form.to_design().strata:  # nothing ticked yet: a hint, not an error
            try:
                _, context["preview"] = selectors.draw_design_check(study=study, design=form.to_design())
            except ValidationError as exc:
                form_errors_add(form, exc)
        return render(request, "sampling/draw_form.html#design_preview", context)
    if request.method == "POST" and form.is_valid():
        try:
            draw = services.sample_draw_start(study=study, design=form.to_design(), user=request.user,
                                              expected_version=form.cleaned_data.get("expected_version"))
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"Drawing version {draw.version} (seed {draw.seed}).")
            return redirect(f"{reverse('sampling:draw', args=[slug, draw.version])}?job={draw.job_id}")
    # A refused start shows the form again with the reasons, as a 400 (nothing was drawn).
    return render(request, "sampling/draw_form.html", context, status=400 if request.method == "POST" else 200)


@study_view()
def draw_detail(request, slug, version, *, access):
    draw = selectors.draw_get(study=access.study, version=version)
    if request.htmx and request.GET.get("job"):
        job = job_get_in_study(study=access.study, job_id=query_id(request.GET["job"]))
        return job_progress_render(request, job)
    if request.htmx and request.GET.get("check") == "reproduce":
        return render(request, "sampling/draw_detail.html#reproduce", {"reproduces": selectors.draw_reproduces(draw=draw)})
    strata = selectors.draw_strata(draw=draw)
    stratum_id = query_id(request.GET.get("stratum"))
    part = request.GET.get("part") or None
    items = Paginator(selectors.draw_items(draw=draw, stratum_id=stratum_id, part=part), 50).get_page(
        request.GET.get("page"))
    raters = study_raters(study=access.study)
    context = {
        "access": access, "study": access.study, "draw": draw, "strata": strata,
        "job": draw.job if draw.job and not draw.job.is_finished else None,
        "poll_url": f"{request.path}?job={draw.job_id}",
        "failed_job": draw.job if draw.job and draw.job.status == "failed" else None,
        "drift": selectors.draw_drift(draw=draw, strata=strata),
        "workload": selectors.draw_rater_workload(draw=draw, membership=access.membership),
        "draw_raters": selectors.draw_rater_names(draw=draw),
        "page": items, "assignees": selectors.draw_item_assignees(items=items.object_list),
        "stratum_id": stratum_id, "part": part, "parts": ItemPart.choices,
        "query": urlencode({k: v for k, v in (("stratum", stratum_id), ("part", part)) if v}),
        "redistribute_form": RedistributeForm(raters=raters, initial={
            "pilot_share": draw.pilot_share, "raters_per_item": draw.raters_per_item,
            "raters": [str(pk) for pk in draw.rater_ids]}),
        "totals": {name: sum(getattr(s, name) or 0 for s in strata)
                   for name in ("set_size", "overlap_removed", "population", "n", "drawn", "pilot", "reliability")},
    }
    if request.htmx and request.GET.get("fragment") == "items":
        return render(request, "sampling/draw_detail.html#items", context)
    return render(request, "sampling/draw_detail.html", context)


@study_view(Role.OWNER, methods=["POST"])
def draw_redistribute(request, slug, version, *, access):
    draw = selectors.draw_get(study=access.study, version=version)
    form = RedistributeForm(request.POST, raters=study_raters(study=access.study))
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("sampling:draw", slug=slug, version=version)
    try:
        draw = services.sample_draw_redistribute_start(
            draw=draw, pilot_share=form.cleaned_data["pilot_share"],
            raters_per_item=form.cleaned_data["raters_per_item"],
            rater_ids=[int(pk) for pk in form.cleaned_data["raters"]], user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("sampling:draw", slug=slug, version=version)
    return redirect(f"{reverse('sampling:draw', args=[slug, version])}?job={draw.job_id}")


@study_view(Role.OWNER, methods=["POST"])
def draw_labelling_start(request, slug, version, *, access):
    draw = selectors.draw_get(study=access.study, version=version)
    try:
        services.sample_draw_labelling_start(draw=draw, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Labelling started: version {version} is frozen.")
    return redirect("sampling:draw", slug=slug, version=version)


@study_view()
def draw_items_csv(request, slug, version, *, access):
    """Every sampled post with its stratum, part and raters: the sample as published."""
    draw = selectors.draw_get(study=access.study, version=version)
    return csv_response(request, header=selectors.DRAW_ITEM_HEADER, rows=selectors.draw_item_rows(draw=draw),
                        filename=f"{access.study.slug}-draw-v{version}-items.csv")


@study_view()
def draw_population_csv(request, slug, version, *, access):
    """Every stratum's population when drawn, (site, id) in key order: with the seed,
    what the sample is drawn again from (README, "Drawing the sample")."""
    draw = selectors.draw_get(study=access.study, version=version)
    return csv_response(request, header=selectors.DRAW_POPULATION_HEADER,
                        rows=selectors.draw_population_rows(draw=draw),
                        filename=f"{access.study.slug}-draw-v{version}-population.csv")
