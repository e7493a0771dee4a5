from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from annotator.studies.access import study_view
from annotator.jobs.models import JobKind
from annotator.jobs.progress import job_progress_render
from annotator.jobs.selectors import job_get_in_study, job_list
from annotator.studies.models import Role

from . import selectors, services
from .forms import ImportForm, PostFilterForm
from .models import PostType
from .upload_limits import upload_refusal


@study_view(write_role=Role.OWNER, methods=["GET", "POST"])
def import_list(request, slug, *, access):
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        refusal = upload_refusal(request)
        if refusal:
            form.add_error("files", refusal)
        elif form.is_valid():
            try:
                job = services.import_job_start(
                    study=access.study,
                    uploads=form.cleaned_data["files"],
                    only_tags=form.cleaned_data["only_tags"],
                    site=form.cleaned_data["site"],
                    user=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.info(request, "Import queued. This page follows its progress.")
                if request.htmx:  # the form was sent by htmx (with upload progress)
                    return HttpResponseClientRedirect(reverse("corpus:import", args=[slug, job.pk]))
                return redirect("corpus:import", slug=slug, job_id=job.pk)
    jobs = Paginator(job_list(study=access.study, kind=JobKind.IMPORT), 20).get_page(request.GET.get("page"))
    return render(
        request, "corpus/import_list.html", {"access": access, "study": access.study, "form": form, "jobs": jobs}
    )


@study_view()
def import_detail(request, slug, job_id, *, access):
    job = job_get_in_study(study=access.study, job_id=job_id, kind=JobKind.IMPORT, missing="No such import.")
    context = {"access": access, "study": access.study, "job": job}
    if request.htmx:
        return job_progress_render(request, job, context=context, refresh_when_done=False)
    return render(request, "corpus/import_detail.html", context)


@study_view()
def post_list(request, slug, *, access):
    form = PostFilterForm(request.GET or None, years=selectors.post_years(study=access.study))
    filters = selectors.PostFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.PostFilters(
            q=data["q"], tag=data["tag"], year=data["year"],
            post_type=PostType.QUESTION if data["type"] is None else (data["type"] or None),
        )
    page = Paginator(selectors.post_list(study=access.study, filters=filters), 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "access": access, "study": access.study, "form": form, "page": page, "query": query.urlencode(),
    }
    template = "corpus/post_list.html#results" if request.htmx and not request.htmx.boosted else "corpus/post_list.html"
    return render(request, template, context)


@study_view()
def post_detail(request, slug, post_id, *, access):
    post = selectors.post_get(study=access.study, post_id=post_id)
    thread = selectors.post_thread_display(post=post)
    return render(request, "corpus/post_detail.html", {"access": access, "study": access.study, "thread": thread})
