"""The rater's pages: the queue (one item at a time, the next one swapped in by
htmx), one item with the rater's own label, their keys 1–9, their submitted
items, and the progress counts. The item page is one template
(taxonomy/labelling/item.html): the whole page, or one of its partials for htmx
(``#panel``, the item swapped in; ``#category-notes``, a category's definition)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import push_url

from annotator.corpus.selectors import post_thread_display
from annotator.form_utils import form_errors_add
from annotator.studies.access import study_view
from annotator.studies.models import Role
from sampling.draws.sight import sight_for

from . import selectors, services
from .forms import HotkeysForm, LabelForm, ProposeForm
from .models import LabelKind


def _fragment(request) -> bool:
    """An htmx swap of the panel (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _proposal_parents(choices):
    """A proposal is a new leaf beside the others: under an inner category. Subdividing a leaf
    is left to those who see every label on it (labels stay on leaves)."""
    return [c for c in choices if not c.is_leaf]


def _panel(request, access, assignment, *, form=None, propose_form=None, proposed=None, status=200, draws=None):
    """Render the item panel (the whole page, or the fragment for htmx). ``draws``: the
    draws in labelling, where the view has read them already."""
    study, user = access.study, request.user
    if draws is None:
        draws = selectors.labelling_draws(study=study)
    labelled, assigned = selectors.labelling_progress_mine(study=study, user=user, draws=draws)
    context = {"access": access, "study": study, "assignment": assignment,
               "progress": {"labelled": labelled, "assigned": assigned},
               "is_rater": access.membership.is_rater, "open": True}
    if assignment is not None:
        # A label is written with the assignment's submission: an item not yet submitted has none.
        label = selectors.assignment_label(assignment=assignment) if assignment.submitted_at else None
        if form is None:
            initial = {"kind": label.kind, "note": label.note,
                       "categories": [lc.category_id for lc in label.categories.all()]} if label else {}
            form = LabelForm(initial=initial)
        parents = selectors.category_choices(study=study, user=user, leaves_only=False)
        choices = [c for c in parents if c.is_leaf]
        thread = post_thread_display(post=assignment.item.post)
        previous_id, next_id = selectors.assignment_neighbours(assignment=assignment)
        chosen = _chosen(form)
        context.update({
            "label": label, "form": form, "editable": selectors.label_editable(assignment),
            # an arbitrator's re-label request exists only once arbitration has started
            "relabel": (selectors.relabel_request_open(assignment=assignment)
                        if assignment.draw.arbitration_started_at else None),
            "choices": choices, "chosen": chosen, "kind": _bound(form, "kind") or LabelKind.CATEGORIES,
            "hotkeys": services.hotkeys_get_or_assign(study=study, user=user, choices=choices),
            "propose_form": propose_form or ProposeForm(parents=_proposal_parents(parents)), "proposed": proposed,
            "thread": thread,
            "previous_id": previous_id, "next_id": next_id, "kinds": LabelKind.choices,
        })
    else:
        context["open"] = bool(draws.ids)
    template = "taxonomy/labelling/item.html#panel" if _fragment(request) else "taxonomy/labelling/item.html"
    return render(request, template, context, status=status)


def _bound(form, name):
    return form[name].value() if form is not None else None


def _chosen(form) -> set[int]:
    value = form["categories"].value() or []
    if isinstance(value, str):
        value = [value]
    out = set()
    for v in value:
        try:
            out.add(int(v))
        except (TypeError, ValueError):
            continue
    return out


@study_view()
def queue(request, slug, *, access):
    """The rater's next unlabelled item, or why there is none."""
    draws = selectors.labelling_draws(study=access.study)
    assignment = None
    if access.membership.is_rater:
        assignment = selectors.assignment_next(study=access.study, user=request.user, draws=draws)
    return _panel(request, access, assignment, draws=draws)


@study_view(Role.RATER, methods=["GET", "POST"])
def item(request, slug, item_id, *, access):
    """One of the rater's items with their own label; POST submits it and moves on."""
    if request.method == "GET":
        return _panel(request, access, selectors.assignment_get_for_rater(
            study=access.study, user=request.user, item_id=item_id))
    form = LabelForm(request.POST)
    if form.is_valid():
        # The service finds the rater's assignment on the item as it locks it: once the label
        # is saved, the panel shows another item, and nothing of this one is read.
        try:
            services.label_submit_on_item(study=access.study, rater=request.user, item_id=item_id,
                                          kind=form.cleaned_data["kind"], category_ids=form.cleaned_data["categories"],
                                          note=form.cleaned_data["note"])
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            draws = selectors.labelling_draws(study=access.study)
            following = selectors.assignment_next(study=access.study, user=request.user, draws=draws)
            url = (reverse("labelling:item", args=[slug, following.item_id]) if following
                   else reverse("labelling:queue", args=[slug]))
            if not _fragment(request):
                messages.success(request, "Label saved.")
                return redirect(url)
            return push_url(_panel(request, access, following, draws=draws), url)
    # The form comes back with its errors, over this item's post.
    assignment = selectors.assignment_get_for_rater(study=access.study, user=request.user, item_id=item_id)
    return _panel(request, access, assignment, form=form)


@study_view(Role.RATER, methods=["POST"])
def propose(request, slug, item_id, *, access):
    """A rater proposes a new leaf while labelling; the panel comes back with it chosen
    and with everything the rater had chosen and written so far."""
    assignment = selectors.assignment_get_for_rater(study=access.study, user=request.user, item_id=item_id)
    parents = selectors.category_choices(study=access.study, user=request.user, leaves_only=False)
    propose_form = ProposeForm(request.POST, parents=_proposal_parents(parents))
    data = request.POST.copy()
    category = None
    if propose_form.is_valid():
        try:
            category = services.label_category_propose(
                study=access.study, rater=request.user, name=propose_form.cleaned_data["name"],
                parent_id=propose_form.cleaned_data["parent"], definition=propose_form.cleaned_data["definition"])
        except ValidationError as exc:
            form_errors_add(propose_form, exc)
        else:
            data.setlist("categories", [*data.getlist("categories"), str(category.pk)])
            data["kind"] = LabelKind.CATEGORIES
            propose_form = None
    form = LabelForm({"kind": data.get("kind") or LabelKind.CATEGORIES, "note": data.get("note", ""),
                      "categories": data.getlist("categories")})
    form.is_valid()
    return _panel(request, access, assignment, form=form, propose_form=propose_form, proposed=category)


@study_view(Role.RATER)
def category_notes(request, slug, category_id, *, access):
    """What the labelling panel shows of the highlighted category: its definition, what it
    includes and excludes, its example posts (one of the rater's categories, or 404)."""
    choice = next((c for c in selectors.category_choices(study=access.study, user=request.user, leaves_only=False)
                   if c.id == category_id), None)
    if choice is None:
        raise Http404("No such category.")
    return render(request, "taxonomy/labelling/item.html#category-notes", {
        "access": access, "study": access.study, "choice": choice,
        "notes": selectors.category_notes(study=access.study, category_id=category_id)})


@study_view(Role.RATER, methods=["GET", "POST"])
def hotkeys(request, slug, *, access):
    """The rater's keys 1–9: which category each ticks while labelling."""
    choices = selectors.category_choices(study=access.study, user=request.user)
    keys = services.hotkeys_get_or_assign(study=access.study, user=request.user, choices=choices)
    back = request.POST.get("next") or request.GET.get("next") or ""  # the item the rater came from
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    form = HotkeysForm(request.POST or None, leaves=choices, initial={
        f"key_{k.key}": k.category.id if k.category else "" for k in keys})
    if request.method == "POST" and form.is_valid():
        try:
            services.hotkeys_set(study=access.study, user=request.user, keys=form.keys(), choices=choices)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, "Your keys are saved.")
            return redirect(back or reverse("labelling:hotkeys", args=[slug]))
    return render(request, "taxonomy/labelling/hotkeys.html", {
        "access": access, "study": access.study, "form": form, "keys": keys, "back": back})


@study_view(Role.RATER)
def mine(request, slug, *, access):
    """The rater's submitted items, to go back and change a label."""
    page = Paginator(selectors.label_list_mine(study=access.study, user=request.user), 25).get_page(
        request.GET.get("page"))
    return render(request, "taxonomy/labelling/mine.html", {"access": access, "study": access.study, "page": page})


@study_view()
def progress(request, slug, *, access):
    """Labelled / assigned per rater and stratum: one's own, and every rater's for owners
    and arbitrators who do not rate on the draw (the blindness rule)."""
    sight = sight_for(study=access.study, user=request.user, membership=access.membership)
    data = selectors.labelling_progress(study=access.study, user=request.user, sight=sight)
    return render(request, "taxonomy/labelling/progress.html",
                  {"access": access, "study": access.study, "progress": data,
                   "everyone": sight.approver and not sight.rates_blind,
                   "partly": sight.approver and sight.rates_blind})
