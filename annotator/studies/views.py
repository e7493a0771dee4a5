from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRefresh

from annotator.form_utils import form_errors_add

from .access import study_view
from . import selectors, services
from .forms import MemberAddForm, MemberRolesForm, StudyForm
from .models import Role
from .stages import stage_now, stages_for


@login_required
def study_list(request):
    studies = selectors.study_list_for_user(user=request.user)
    return render(request, "studies/study_list.html", {"studies": studies})


@login_required
@require_http_methods(["GET", "POST"])
def study_create(request):
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"Study “{study.name}” created. Import a dump to start.")
            return redirect("studies:detail", slug=study.slug)
    return render(request, "studies/study_form.html", {"form": form})


@study_view()
def study_detail(request, slug, *, access):
    """The study as the method's stages, each with its state, numbers and the viewer's next step
    (each app describes its own stage: ``.stages``). A stage with a job under way polls itself
    (htmx, ``?stage=<key>``) and reloads the page when the job has ended, since later stages
    follow from it."""
    stages = stages_for(access, request.user)
    context = {"access": access, "study": access.study, "stages": stages, "now": stage_now(stages)}
    if request.htmx and "stage" in request.GET:
        stage = next((s for s in stages if s.key == request.GET["stage"]), None)
        if stage is None:
            raise Http404("No such stage.")
        if not stage.running:
            return HttpResponseClientRefresh()
        return render(request, "studies/study_detail.html#stage", {**context, "stage": stage})
    context["member_count"] = selectors.membership_count(study=access.study)
    return render(request, "studies/study_detail.html", context)


@study_view(write_role=Role.OWNER, methods=["GET", "POST"])
def member_list(request, slug, *, access):
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                membership = services.membership_add(
                    study=access.study, user_identifier=form.cleaned_data["user"], roles=form.cleaned_data["roles"]
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, f"{membership.user.username} added as {', '.join(membership.roles)}.")
                return redirect("studies:members", slug=slug)
    return render(
        request,
        "studies/members.html",
        {
            "access": access,
            "study": access.study,
            "form": form,
            "members": selectors.membership_list(study=access.study),
            "role_choices": MemberRolesForm.base_fields["roles"].choices,
        },
    )


@study_view(Role.OWNER, methods=["POST"])
def member_update(request, slug, membership_id, *, access):
    membership = selectors.membership_get(study=access.study, membership_id=membership_id)
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(membership=membership)
            messages.success(request, f"{membership.user.username} removed from the study.")
        else:
            form = MemberRolesForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors.as_text())
            membership = services.membership_set_roles(membership=membership, roles=form.cleaned_data["roles"])
            messages.success(request, f"{membership.user.username} is now {', '.join(membership.roles)}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("studies:members", slug=slug)
