"""Arbitration pages: the queues, one item side by side, Pending → category, arbitrator roots,
and the pilot's decisions.

Owners start arbitration on a draw and restrict arbitrators to root
categories; arbitrators decide. Everyone else gets 404 (raters must not see the
queues: they show other raters' labels). The pilot is joint: every member sees its
decisions; owners and arbitrators take them.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from annotator.corpus.selectors import post_thread_display
from annotator.studies.models import Membership, Role
from annotator.studies.selectors import StudyAccess, study_get_for_user
from sampling.selectors import draw_get
from taxonomy.coding.selectors import pilot_item_get
from taxonomy.tree.models import Category, CategoryStatus
from annotator.form_utils import form_errors_add, query_id

from . import selectors, services
from .forms import DecideForm, PendingResolveForm, PilotDecisionForm, RootsForm, StartForm
from .models import FinalKind

PILOT_ITEMS_PER_PAGE = 50


def _access(request, slug) -> StudyAccess:
    access = study_get_for_user(slug=slug, user=request.user)
    if not (access.can(Role.OWNER) or access.can(Role.ARBITRATOR)):
        raise Http404("No such page.")
    return access


@login_required
def arbitration_home(request, slug):
    access = _access(request, slug)
    study = access.study
    mine = request.user if access.can(Role.ARBITRATOR) else None
    queue = Paginator(selectors.arbitration_queue(study=study, user=mine), 25).get_page(request.GET.get("page"))
    arbitrators = list(Membership.objects.filter(study=study, is_arbitrator=True).select_related("user"))
    roots = selectors.arbitrators_with_roots(study=study)
    per_arbitrator = [(m.user, roots.get(m.user_id, []),
                       selectors.arbitration_queue(study=study, user=m.user).count()) for m in arbitrators]
    root_choices = list(Category.objects.filter(study=study, parent__isnull=True)
                        .exclude(status=CategoryStatus.RETIRED).values_list("pk", "name"))
    context = {
        "access": access, "study": study, "page": queue, "counts": selectors.queue_counts(study=study, user=mine),
        "draws": selectors.draws_for_arbitration(study=study, user=request.user), "per_arbitrator": per_arbitrator,
        "pending": selectors.pending_queue(study=study).count(),
        "from_pending": selectors.pending_categories_count(study=study), "start_form": StartForm(),
        "roots_form": RootsForm(arbitrators=[(m.user_id, m.user.username) for m in arbitrators],
                                roots=root_choices),
    }
    return render(request, "taxonomy/arbitration/home.html", context)


@login_required
@require_POST
def arbitration_start(request, slug, version):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    draw = draw_get(study=access.study, version=version)
    form = StartForm(request.POST)
    form.is_valid()
    try:
        started = services.arbitration_start(draw=draw, user=request.user,
                                             allow_incomplete=form.cleaned_data.get("allow_incomplete", False))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Arbitration of version {version} started: {started.agreed} agreed, "
                                  f"{started.to_arbitrate} to arbitrate, {started.pending} Pending"
                                  + (f", {started.incomplete} with a missing label" if started.incomplete else "")
                                  + ".")
    return redirect("arbitration:home", slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def arbitration_item(request, slug, item_id):
    access = _access(request, slug)
    item = selectors.item_get_for_arbitration(study=access.study, item_id=item_id)
    choices = selectors.leaf_choices(study=access.study)
    form = DecideForm(request.POST or None, leaf_choices=choices)
    if request.method == "POST":
        if not access.can(Role.ARBITRATOR):
            raise Http404("No such page.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.arbitration_decide(item=item, arbitrator=request.user, kind=data["kind"],
                                            category_ids=data["categories"], reason=data["reason"])
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, f"Decided: “{item.post.title}”.")
                following = selectors.arbitration_queue(study=access.study, user=request.user).first()
                if following is None:
                    return redirect("arbitration:home", slug=slug)
                return redirect("arbitration:item", slug=slug, item_id=following.pk)
    context = {
        "access": access, "study": access.study, "item": item, "form": form,
        "thread": post_thread_display(post=item.post), "rater_labels": selectors.item_rater_labels(item=item),
        "final": selectors.final_label_for(item=item), "paths": selectors.category_paths(study=access.study),
        "may_decide": access.can(Role.ARBITRATOR),
    }
    return render(request, "taxonomy/arbitration/item.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def pending_list(request, slug):
    access = _access(request, slug)
    study = access.study
    items = list(selectors.pending_queue(study=study)[:200])
    paths = selectors.category_paths(study=study)
    live = set(Category.objects.filter(study=study).exclude(status=CategoryStatus.RETIRED)
               .values_list("pk", flat=True))
    parents = sorted(((pk, path) for pk, path in paths.items() if pk in live), key=lambda c: c[1].lower())
    form = PendingResolveForm(request.POST or None, item_choices=[(i.pk, i.post.title) for i in items],
                              leaf_choices=selectors.leaf_choices(study=study), parent_choices=parents)
    if request.method == "POST":
        if not access.can(Role.ARBITRATOR):
            raise Http404("No such page.")
        if form.is_valid():
            data = form.cleaned_data
            chosen = [i for i in items if i.pk in set(data["items"])]
            category = Category.objects.filter(study=study, pk=data["category"]).first() if data["category"] else None
            parent = Category.objects.filter(study=study, pk=data["new_parent"]).first() if data["new_parent"] else None
            target = {"items": chosen, "arbitrator": request.user, "category": category, "new_name": data["new_name"],
                      "new_parent": parent, "new_definition": data["new_definition"]}
            try:
                if request.POST.get("action") == "relabel":
                    category, made = services.pending_relabel(message=data["reason"], **target)
                    done = (f"The raters of {len(chosen)} item{'s' if len(chosen) != 1 else ''} are asked to label "
                            f"{'them' if len(chosen) != 1 else 'it'} again against “{category.name}” "
                            f"({made} request{'s' if made != 1 else ''}).")
                else:
                    category, finals = services.pending_resolve(reason=data["reason"], **target)
                    done = f"{len(finals)} Pending item{'s' if len(finals) != 1 else ''} labelled “{category.name}”."
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, done)
                return redirect("arbitration:pending", slug=slug)
    labels = {item.pk: selectors.item_rater_labels(item=item) for item in items}
    context = {"access": access, "study": study, "items": [(i, labels[i.pk]) for i in items], "form": form,
               "paths": paths, "from_pending": selectors.pending_categories_count(study=study),
               "may_decide": access.can(Role.ARBITRATOR),
               "checked": {int(v) for v in request.POST.getlist("items") if v.isdigit()}}
    return render(request, "taxonomy/arbitration/pending.html", context)


@login_required
@require_POST
def arbitrator_roots(request, slug):
    access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
    study = access.study
    arbitrators = list(Membership.objects.filter(study=study, is_arbitrator=True).values_list("user_id",
                                                                                              "user__username"))
    roots = list(Category.objects.filter(study=study, parent__isnull=True).values_list("pk", "name"))
    form = RootsForm(request.POST, arbitrators=arbitrators, roots=roots)
    if form.is_valid():
        member = Membership.objects.get(study=study, user_id=form.cleaned_data["user"])
        chosen = list(Category.objects.filter(study=study, pk__in=form.cleaned_data["roots"]))
        try:
            services.arbitrator_roots_set(study=study, user=member.user, roots=chosen)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            names = ", ".join(c.name for c in chosen) or "every item"
            messages.success(request, f"{member.user.username} now arbitrates {names}.")
    else:
        messages.error(request, "Choose an arbitrator and root categories.")
    return redirect("arbitration:home", slug=slug)


# -- the pilot's decisions ---------------------------------------------------------------------------


def _pilot_access(request, slug, *, write: bool = False) -> StudyAccess:
    """Every member reads the pilot's decisions; a write by anyone but an owner or arbitrator is 404."""
    access = study_get_for_user(slug=slug, user=request.user)
    if write and not _may_decide(access):
        raise Http404("No such page.")
    return access


def _may_decide(access: StudyAccess) -> bool:
    return access.can(Role.OWNER) or access.can(Role.ARBITRATOR)


def _draw_version(value) -> int | None:
    if not value:
        return None
    if query_id(value) is None:
        raise Http404("No such drawn version.")
    return query_id(value)


@login_required
def pilot_list(request, slug):
    """The pilot items of the drawn versions (or of ``?draw=``), each with what its codes propose
    and its decision; ``?show=undecided`` keeps those without one."""
    access = _pilot_access(request, slug)
    study = access.study
    version = _draw_version(request.GET.get("draw"))
    undecided = request.GET.get("show") == "undecided"
    items = selectors.pilot_item_list(study=study, version=version, undecided=undecided)
    page = Paginator(items, PILOT_ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = rows = selectors.pilot_rows(study=study, items=page.object_list)
    query = {k: v for k, v in (("draw", version), ("show", "undecided" if undecided else "")) if v}
    context = {
        "access": access, "study": study, "page": page, "rows": rows, "version": version, "undecided": undecided,
        "draws": selectors.pilot_draws(study=study), "counts": selectors.pilot_counts(study=study, version=version),
        "may_decide": _may_decide(access), "query": urlencode(query),
        "here": request.get_full_path(),
    }
    if request.htmx:
        return render(request, "taxonomy/arbitration/_pilot_rows.html", context)
    return render(request, "taxonomy/arbitration/pilot.html", context)


@login_required
@require_POST
def pilot_confirm(request, slug):
    """Confirm every complete proposal of the undecided pilot items (of ``draw``, or of every drawn version)."""
    access = _pilot_access(request, slug, write=True)
    version = _draw_version(request.POST.get("draw"))
    done = services.pilot_proposals_confirm(study=access.study, actor=request.user, version=version)
    n, left = len(done.confirmed), len(done.skipped)
    messages.success(request, f"{n} pilot item{'s' if n != 1 else ''} decided as {'their' if n != 1 else 'its'} "
                              f"codes propose." + (f" {left} left undecided: some code gives no leaf (see below)."
                                                   if left else ""))
    url = reverse("arbitration:pilot", kwargs={"slug": slug})
    return redirect(f"{url}?{urlencode({'draw': version})}" if version else url)


def _pilot_form_initial(row: selectors.PilotRow) -> dict:
    if row.final is None:
        return {"kind": FinalKind.CATEGORIES, "categories": row.proposal}
    return {"kind": row.final.kind, "categories": row.final_category_ids,
            "reason": services.pilot_note(row.final.reason), "replaces": row.final.decided_at.isoformat()}


@login_required
@require_http_methods(["GET", "POST"])
def pilot_item(request, slug, item_id):
    """One pilot item's proposal and decision. The page shows the edit form to owners and
    arbitrators; htmx gets the decision card alone (``?edit=1``: with the form open), which the
    pilot list and the coding app's item page load by URL."""
    access = _pilot_access(request, slug, write=request.method == "POST")
    study = access.study
    item = pilot_item_get(study=study, item_id=item_id)
    may_decide = _may_decide(access)
    editing = may_decide and (not request.htmx or request.GET.get("edit") == "1")
    form, conflict, status = None, [], 200
    if request.method == "POST":
        form = PilotDecisionForm(request.POST, leaf_choices=selectors.leaf_choices(study=study),
                                 auto_id=f"id_pilot{item.pk}_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.pilot_decision_set(item=item, actor=request.user, kind=data["kind"],
                                            category_ids=data["categories"], reason=data["reason"],
                                            replaces=data["replaces"])
            except services.DecisionConflict as exc:
                # Someone decided first: theirs is shown, with a fresh form on it.
                form, conflict, status = None, exc.messages, 409
            except ValidationError as exc:
                form_errors_add(form, exc)
                status, editing = 400, True
            else:
                if not request.htmx:
                    messages.success(request, f"Pilot decision saved: “{item.post.title or item.post.so_id}”.")
                    following = request.POST.get("next", "")
                    if url_has_allowed_host_and_scheme(following, allowed_hosts={request.get_host()},
                                                       require_https=request.is_secure()):
                        return redirect(following)
                    return redirect("arbitration:pilot_item", slug=slug, item_id=item.pk)
                form, editing = None, False
        else:
            status, editing = 400, True
    row = selectors.pilot_row(item=item)
    if editing and form is None:
        form = PilotDecisionForm(initial=_pilot_form_initial(row), leaf_choices=selectors.leaf_choices(study=study),
                                 auto_id=f"id_pilot{item.pk}_%s")
    context = {"access": access, "study": study, "item": item, "row": row, "may_decide": may_decide,
               "editing": editing, "form": form, "conflict": conflict,
               "next": request.POST.get("next") or request.GET.get("next", "")}
    if request.htmx:  # htmx swaps 2xx answers only: the card carries its own message
        return render(request, "taxonomy/arbitration/_pilot_decision.html", context)
    return render(request, "taxonomy/arbitration/pilot_item.html",
                  {**context, "thread": post_thread_display(post=item.post)}, status=status)
