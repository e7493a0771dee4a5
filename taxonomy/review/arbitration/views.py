"""Arbitration pages: the queues, one item side by side, Pending → category, arbitrator roots,
and the pilot's decisions.

Owners start arbitration on a draw and restrict arbitrators to root
categories; arbitrators decide. Everyone else gets 404 (raters must not see the
queues: they show other raters' labels). The pilot is joint: every member sees its
decisions; owners and arbitrators take them.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_htmx.http import HttpResponseClientRedirect, push_url

from annotator.studies.access import REVIEWERS, study_view
from annotator.corpus.selectors import post_thread_display
from annotator.studies.models import Role
from annotator.studies.selectors import StudyAccess
from sampling.draws.selectors import draw_get
from taxonomy.coding.selectors import pilot_item_get
from annotator.form_utils import form_errors_add, query_id

from . import selectors, services
from .forms import DecideForm, PendingResolveForm, PilotDecisionForm, RootsForm, StartForm
from .models import FinalKind

PILOT_ITEMS_PER_PAGE = 50


def _fragment(request) -> bool:
    """An htmx swap of part of the page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@study_view(REVIEWERS)
def arbitration_home(request, slug, *, access):
    study = access.study
    mine = request.user if access.can(Role.ARBITRATOR) else None
    queue = Paginator(selectors.arbitration_queue(study=study, user=mine), 25).get_page(request.GET.get("page"))
    arbitrators = selectors.arbitrator_memberships(study=study)
    roots = selectors.arbitrators_with_roots(study=study)
    per_arbitrator = [(m.user, roots.get(m.user_id, []),
                       selectors.arbitration_queue_count(study=study, user=m.user)) for m in arbitrators]
    context = {
        "access": access, "study": study, "page": queue, "counts": selectors.queue_counts(study=study, user=mine),
        "draws": selectors.draws_for_arbitration(study=study, user=request.user), "per_arbitrator": per_arbitrator,
        "pending": selectors.pending_count(study=study),
        "from_pending": selectors.pending_categories_count(study=study), "start_form": StartForm(),
        "roots_form": RootsForm(arbitrators=[(m.user_id, m.user.username) for m in arbitrators],
                                roots=selectors.root_choices(study=study)),
    }
    return render(request, "taxonomy/arbitration/home.html", context)


@study_view(Role.OWNER, methods=["POST"])
def arbitration_start(request, slug, version, *, access):
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


# The keys that take a rater's label as the final one (Shift+1–9 in static/js/keymap.js), by
# the raters' order on the item (by name).
RATER_KEYS = "123456789"


def _took_reason(rater: str) -> str:
    return f"Took {rater}’s label."


def _take_initial(rater: selectors.RaterLabel) -> dict:
    """The form filled with ``rater``'s label and the default reason naming it."""
    return {"kind": rater.kind, "categories": rater.category_ids if rater.kind == FinalKind.CATEGORIES else [],
            "reason": _took_reason(rater.rater)}


def _item_panel(request, access, item, *, form=None, status=200, decided=None, conflict=(), take=""):
    """The item page: the post and the panel (the raters' labels, the decision, the queue's
    previous / next), whole or, for htmx, the panel alone. ``take``: a rater's key, to fill the
    form with their label (the keys do it in the page; this is the same without script)."""
    study = access.study
    may_decide = access.can(Role.ARBITRATOR)
    mine = request.user if may_decide else None
    rater_labels = selectors.item_rater_labels(item=item)
    raters = [(RATER_KEYS[i] if i < len(RATER_KEYS) else "", r) for i, r in enumerate(rater_labels)]
    choices = selectors.leaf_choices(study=study)
    if form is None:
        taken = next((r for key, r in raters if key and key == take and r.takeable), None)
        form = DecideForm(initial=_take_initial(taken) if taken else None, leaf_choices=choices)
    previous_id, next_id = selectors.arbitration_neighbours(study=study, item=item, user=mine)
    chosen = {int(v) for v in (form["categories"].value() or []) if str(v).isdigit()}
    context = {
        "access": access, "study": study, "item": item, "form": form, "raters": raters,
        "rater_labels": rater_labels, "choices": choices, "chosen": chosen,
        "kind": form["kind"].value() or FinalKind.CATEGORIES, "kinds": FinalKind.choices,
        "final": selectors.final_label_for(item=item), "paths": selectors.category_paths(study=study),
        "may_decide": may_decide, "previous_id": previous_id, "next_id": next_id,
        "left": selectors.arbitration_queue_count(study=study, user=mine), "decided": decided,
        "conflict": conflict, "took_reasons": {r.rater: _took_reason(r.rater) for r in rater_labels},
        "thread": post_thread_display(post=item.post),
    }
    if _fragment(request):
        # htmx swaps the panel whatever happened, so it gets 200: Chromium logs every 4xx answer
        # as a console error, and a forgotten reason is no error of the page.
        return render(request, "taxonomy/arbitration/item.html#panel", {**context, "fragment": True})
    return render(request, "taxonomy/arbitration/item.html", context, status=status)


@study_view(REVIEWERS, write_role=Role.ARBITRATOR, methods=["GET", "POST"])
def arbitration_item(request, slug, item_id, *, access):
    """One item: the post beside each rater's label; an arbitrator decides its final label, and
    the next item of their queue follows (swapped in by htmx, its URL pushed). A refused decision
    comes back with the form as it was sent and the reason for it: 400, or 409 when someone
    decided first (theirs is shown); to htmx, the same panel with 200."""
    study = access.study
    item = selectors.item_get_for_arbitration(study=study, item_id=item_id)
    if request.method == "GET":
        return _item_panel(request, access, item, take=request.GET.get("take", ""))
    form = DecideForm(request.POST, leaf_choices=selectors.leaf_choices(study=study))
    if not form.is_valid():
        return _item_panel(request, access, item, form=form, status=400)
    data = form.cleaned_data
    try:
        services.arbitration_decide(item=item, arbitrator=request.user, kind=data["kind"],
                                    category_ids=data["categories"], reason=data["reason"])
    except services.DecisionConflict as exc:
        return _item_panel(request, access, item, status=409, conflict=exc.messages)
    except ValidationError as exc:
        form_errors_add(form, exc)
        return _item_panel(request, access, item, form=form, status=400)
    following = selectors.arbitration_next(study=study, item=item, user=request.user)
    done = f"Decided: “{item.post.title or item.post.so_id}”."
    if following is None:
        messages.success(request, f"{done} Nothing is left in your queue.")
        home = reverse("arbitration:home", kwargs={"slug": slug})
        return HttpResponseClientRedirect(home) if _fragment(request) else redirect(home)
    url = reverse("arbitration:item", kwargs={"slug": slug, "item_id": following.pk})
    if not _fragment(request):
        messages.success(request, done)
        return redirect(url)
    return push_url(_item_panel(request, access, following, decided=done), url)


@study_view(REVIEWERS, write_role=Role.ARBITRATOR, methods=["GET", "POST"])
def pending_list(request, slug, *, access):
    """The Pending queue: choose items, then give them an existing leaf or a new one (as their
    final label, or by asking their raters to label them again against it). A refused request
    comes back with the form as it was sent and why (400)."""
    study = access.study
    items, pending_total = selectors.pending_page(study=study)
    choices = selectors.leaf_choices(study=study)
    form = PendingResolveForm(request.POST or None, item_choices=[(i.pk, i.post.title) for i in items],
                              leaf_choices=choices, parent_choices=selectors.parent_choices(study=study))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            chosen_items = [i for i in items if i.pk in set(data["items"])]
            n, relabel = len(chosen_items), request.POST.get("action") == "relabel"
            try:
                settled = services.pending_settle(
                    study=study, items=chosen_items, arbitrator=request.user, relabel=relabel, reason=data["reason"],
                    category_id=data["category"], new_name=data["new_name"], new_parent_id=data["new_parent"],
                    new_definition=data["new_definition"])
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                name, made, decided = settled.category.name, settled.relabel_requests, len(settled.finals)
                messages.success(request, (f"The raters of {n} item{pluralize(n)} are asked to label "
                                           f"{pluralize(n, 'it,them')} again against “{name}” "
                                           f"({made} request{pluralize(made)}).") if relabel
                                 else f"{decided} Pending item{pluralize(decided)} labelled “{name}”.")
                return redirect("arbitration:pending", slug=slug)
    chosen = form["category"].value()
    context = {"access": access, "study": study, "form": form, "choices": choices,
               "items": [(i, selectors.item_rater_labels(item=i)) for i in items],
               "paths": selectors.category_paths(study=study), "chosen": {int(chosen)} if str(chosen).isdigit() else set(),
               "from_pending": selectors.pending_categories_count(study=study), "pending_total": pending_total,
               "may_decide": access.can(Role.ARBITRATOR),
               "checked": {int(v) for v in request.POST.getlist("items") if v.isdigit()}}
    return render(request, "taxonomy/arbitration/pending.html", context, status=status)


@study_view(Role.OWNER, methods=["POST"])
def arbitrator_roots(request, slug, *, access):
    study = access.study
    arbitrators = selectors.arbitrator_memberships(study=study)
    form = RootsForm(request.POST, arbitrators=[(m.user_id, m.user.username) for m in arbitrators],
                     roots=selectors.root_choices(study=study))
    if form.is_valid():
        member = selectors.arbitrator_membership_get(study=study, user_id=form.cleaned_data["user"])
        chosen = selectors.roots_get(study=study, ids=form.cleaned_data["roots"])
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


def _may_decide(access: StudyAccess) -> bool:
    return access.can(Role.OWNER) or access.can(Role.ARBITRATOR)


def _draw_version(value) -> int | None:
    if not value:
        return None
    if query_id(value) is None:
        raise Http404("No such drawn version.")
    return query_id(value)


@study_view()
def pilot_list(request, slug, *, access):
    """The pilot items of the drawn versions (or of ``?draw=``), each with what its codes propose
    and its decision; ``?show=undecided`` keeps those without one."""
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
    if _fragment(request):
        return render(request, "taxonomy/arbitration/pilot.html#rows", context)
    return render(request, "taxonomy/arbitration/pilot.html", context)


@study_view(REVIEWERS, methods=["POST"])
def pilot_confirm(request, slug, *, access):
    """Confirm every complete proposal of the undecided pilot items (of ``draw``, or of every drawn version)."""
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


@study_view(write_role=REVIEWERS, methods=["GET", "POST"])
def pilot_item(request, slug, item_id, *, access):
    """One pilot item's proposal and decision. The page shows the edit form to owners and
    arbitrators; htmx gets the decision card alone (``?edit=1``: with the form open), which the
    pilot list and the coding app's item page load by URL."""
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
        return render(request, "taxonomy/arbitration/pilot_item.html#decision", context)
    return render(request, "taxonomy/arbitration/pilot_item.html",
                  {**context, "thread": post_thread_display(post=item.post)}, status=status)
