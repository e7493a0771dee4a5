from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.urls import reverse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotator.corpus.models import Post, PostType
from annotator.studies.models import Role
from annotator.studies.selectors import study_get_for_user

from . import selectors, services
from .forms import ManualDecisionForm, QuestionSetForm
from .models import QuestionSet

HTMX_STOP_POLLING = 286


def _set_for(access, set_id: int) -> QuestionSet:
    question_set = QuestionSet.objects.filter(study=access.study, pk=set_id).first()
    if question_set is None:
        raise Http404("No such question set.")
    return question_set


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def set_list(request, slug):
    access = study_get_for_user(slug=slug, user=request.user)
    sets = selectors.question_set_list(study=access.study)
    return render(request, "selection/set_list.html", {"access": access, "study": access.study, "sets": sets})


@login_required
@require_http_methods(["GET", "POST"])
def set_edit(request, slug, set_id=None):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    question_set = _set_for(access, set_id) if set_id else None
    initial = QuestionSetForm.initial_for(question_set) if question_set else None
    form = QuestionSetForm(request.POST or None, study=access.study, exclude=question_set, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.question_set_save(
                study=access.study, rule=services.QuestionSetRule(**form.rule_fields()),
                question_set=question_set, user=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            job = services.question_set_evaluate_start(question_set=saved, user=request.user)
            messages.success(request, f"Set “{saved.name}” saved; evaluating it now.")
            return redirect(f"{saved_url(slug, saved)}?job={job.pk}")
    return render(request, "selection/set_form.html",
                  {"access": access, "study": access.study, "form": form, "question_set": question_set})


def saved_url(slug: str, question_set: QuestionSet) -> str:
    return reverse("selection:set", args=[slug, question_set.pk])


@login_required
def set_detail(request, slug, set_id):
    access = study_get_for_user(slug=slug, user=request.user)
    question_set = _set_for(access, set_id)
    job = selectors.question_set_job(question_set=question_set, job_id=request.GET.get("job"))
    if request.htmx and request.GET.get("job"):
        if job is None:
            raise Http404("No such job.")
        response = render(request, "jobs/_progress.html", {"job": job, "poll_url": request.get_full_path()})
        if job.is_finished:
            response.status_code = HTMX_STOP_POLLING
            response.headers["HX-Refresh"] = "true"  # show the new funnel and members
        return response
    page = Paginator(selectors.member_list(question_set=question_set), 25).get_page(request.GET.get("page"))
    context = {
        "access": access, "study": access.study, "question_set": question_set, "job": job,
        "poll_url": f"{request.path}?job={job.pk}" if job else "",
        "page": page, "rows": selectors.member_rows(question_set=question_set, members=page.object_list),
        "rule": selectors.question_set_rule_summary(question_set=question_set),
        "decisions": selectors.manual_decision_list(question_set=question_set),
        "decision_form": ManualDecisionForm(),
    }
    return render(request, "selection/set_detail.html", context)


@login_required
@require_POST
def set_evaluate(request, slug, set_id):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    question_set = _set_for(access, set_id)
    job = services.question_set_evaluate_start(question_set=question_set, user=request.user)
    return redirect(f"{saved_url(slug, question_set)}?job={job.pk}")


@login_required
@require_POST
def set_delete(request, slug, set_id):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    question_set = _set_for(access, set_id)
    try:
        services.question_set_delete(question_set=question_set)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("selection:set", slug=slug, set_id=set_id)
    messages.success(request, f"Set “{question_set.name}” deleted.")
    return redirect("selection:sets", slug=slug)


@login_required
@require_POST
def decision_add(request, slug, set_id):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    question_set = _set_for(access, set_id)
    form = ManualDecisionForm(request.POST)
    if form.is_valid():
        ref = form.cleaned_data["question"]
        posts = Post.objects.filter(study=access.study, post_type=PostType.QUESTION, so_id=ref["so_id"])
        if ref["site"]:
            posts = posts.filter(site=ref["site"])
        found = list(posts[:2])
        if len(found) != 1:
            messages.error(request, f"No single question {ref['so_id']} in this study"
                                    f"{' on ' + ref['site'] if ref['site'] else ''}: give its full link.")
        else:
            try:
                services.manual_decision_set(question_set=question_set, post=found[0],
                                             action=form.cleaned_data["action"],
                                             reason=form.cleaned_data["reason"], user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Question {ref['so_id']} will be {form.cleaned_data['action']}d; "
                                          "evaluate the set to apply it.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("selection:set", slug=slug, set_id=set_id)


@login_required
@require_POST
def decision_remove(request, slug, set_id, post_id):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    question_set = _set_for(access, set_id)
    post = Post.objects.filter(study=access.study, pk=post_id).first()
    if post is not None:
        services.manual_decision_remove(question_set=question_set, post=post)
    return redirect("selection:set", slug=slug, set_id=set_id)

