"""The taxonomy pages: the tree, one category, the study's change history.

Every member reads; owners and arbitrators edit (anyone else's POST is a 404,
as for the other refused writes). Each edit form works without JavaScript (a
POST, then a redirect to the tree) and with htmx: the edit panel of a
category loads inside the tree, an edit that succeeds swaps the whole tree
(counts and paths change), one that fails swaps the panel with its errors.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import reswap, retarget

from annotator.studies.access import study_view
from annotator.form_utils import form_errors_add, query_id

from . import dependents, selectors, services
from .forms import (
    CategoryAddForm,
    CategoryDescribeForm,
    CategoryMoveForm,
    CategoryRenameForm,
    CategorySplitForm,
    CategoryTargetForm,
)
from .models import CategoryStatus

HISTORY_PAGE_SIZE = 50


def _tree_context(request, access, *, add_form=None, notice: str = "") -> dict:
    tree = selectors.taxonomy_tree(study=access.study, user=request.user, with_final=True)
    can_edit = selectors.taxonomy_can_edit(access=access)
    return {
        "access": access, "study": access.study, "tree": tree, "can_edit": can_edit, "notice": notice,
        "add_form": add_form or CategoryAddForm(parents=tree.live, auto_id="id_add_%s"),
        "proposed_count": sum(1 for n in tree.live if n.category.status == CategoryStatus.PROPOSED),
    }


def _tree_response(request, access, *, notice: str, anchor: int | None = None):
    """After a successful edit: the new tree (htmx) or a redirect to it."""
    if request.htmx:
        response = render(request, "taxonomy/tree/taxonomy.html#tree", _tree_context(request, access, notice=notice))
        return reswap(retarget(response, "#taxonomy-tree"), "outerHTML")
    messages.success(request, notice)
    url = reverse("tree:index", args=[access.study.slug])
    return redirect(f"{url}#cat-{anchor}" if anchor else url)


@study_view()
def taxonomy_page(request, slug, *, access):
    template = "taxonomy/tree/taxonomy.html#tree" if request.htmx else "taxonomy/tree/taxonomy.html"
    return render(request, template, _tree_context(request, access))


@study_view(check=selectors.taxonomy_editor_access, methods=["POST"])
def category_add(request, slug, *, access):
    tree = selectors.taxonomy_tree(study=access.study, user=request.user)
    form = CategoryAddForm(request.POST, parents=tree.live, auto_id="id_add_%s")
    if form.is_valid():
        data = form.cleaned_data
        parent = (selectors.category_get(study=access.study, category_id=data["parent"], user=request.user)
                  if data["parent"] else None)
        try:
            category = services.category_add(study=access.study, name=data["name"], parent=parent,
                                              definition=data["definition"], actor=request.user)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            return _tree_response(request, access, notice=f"Added “{category.name}”.", anchor=category.pk)
    template = "taxonomy/tree/taxonomy.html#tree" if request.htmx else "taxonomy/tree/taxonomy.html"
    return render(request, template, _tree_context(request, access, add_form=form))


# -- one category: its edit panel and the edits ---------------------------------------------


def _descendant_ids(node) -> set[int]:
    ids, stack = set(), list(node.children) if node else []
    while stack:
        child = stack.pop()
        ids.add(child.id)
        stack.extend(child.children)
    return ids


def _panel_forms(request, access, category, tree, *, data=None, action: str | None = None) -> dict:
    """Every edit form of a category; the one named ``action`` bound to ``data``."""
    node = tree.by_id.get(category.pk)
    below = _descendant_ids(node) | {category.pk}
    live = tree.live
    parents = [n for n in live if n.id not in below]
    targets = [n for n in live if n.id not in below and n.category.status == CategoryStatus.ACTIVE]
    leaves = [n for n in targets if n.is_leaf]
    split_choices = dependents.split_choices(category=category, user=request.user)
    # Labels and final labels stay on leaves: a category holding some merges into a leaf.
    holds_leaf_rows = any(dependent.leaf_only and rows for dependent, rows in split_choices)

    def bound(name):
        return data if action == name else None

    auto_id = f"id_c{category.pk}_%s"  # several panels may be open in the tree at once

    return {
        "rename": CategoryRenameForm(bound("rename"), initial={"name": category.name}, prefix="rename",
                                     auto_id=auto_id),
        "describe": CategoryDescribeForm(bound("describe"), prefix="describe", auto_id=auto_id, initial={
            "definition": category.definition, "inclusion": category.inclusion, "exclusion": category.exclusion,
            "examples": ", ".join(str(pk) for pk in selectors.category_example_ids(category=category)),
        }),
        "move": CategoryMoveForm(bound("move"), parents=parents, prefix="move", auto_id=auto_id,
                                 initial={"parent": str(category.parent_id or ""), "position": category.position}),
        "merge": CategoryTargetForm(bound("merge"), targets=leaves if holds_leaf_rows else targets, prefix="merge",
                                    auto_id=auto_id),
        "split": CategorySplitForm(bound("split"), choices=split_choices, prefix="split", auto_id=auto_id),
        "reject": CategoryTargetForm(bound("reject"), targets=leaves, prefix="reject", auto_id=auto_id),
        "child": CategoryAddForm(bound("child"), parents=live, prefix="child", auto_id=auto_id,
                                 initial={"parent": category.pk}),
    }


def _panel_context(request, access, category, *, data=None, action=None) -> dict:
    tree = selectors.taxonomy_tree(study=access.study, user=request.user)
    return {
        "access": access, "study": access.study, "category": category, "node": tree.by_id.get(category.pk),
        "forms": _panel_forms(request, access, category, tree, data=data, action=action), "action": action,
    }


@study_view(check=selectors.taxonomy_editor_access)
def category_edit(request, slug, category_id, *, access):
    category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
    template = "taxonomy/tree/category_edit.html#edit-panel" if request.htmx else "taxonomy/tree/category_edit.html"
    return render(request, template, _panel_context(request, access, category))


def _perform(action: str, form, *, access, category, user) -> str:
    """Call the one service of ``action``; the message to show when it succeeded."""
    data = form.cleaned_data
    study = access.study
    if action == "rename":
        old = category.name
        category = services.category_rename(category=category, name=data["name"], actor=user)
        return f"Renamed “{old}” to “{category.name}”."
    if action == "describe":
        services.category_describe(category=category, actor=user, definition=data["definition"],
                                   inclusion=data["inclusion"], exclusion=data["exclusion"],
                                   examples=data["examples"])
        return f"Described “{category.name}”."
    if action == "move":
        parent = selectors.category_get(study=study, category_id=data["parent"]) if data["parent"] else None
        services.category_move(category=category, parent=parent, position=data["position"], actor=user)
        return f"Moved “{category.name}” under {f'“{parent.name}”' if parent else 'the roots'}."
    if action in ("merge", "reject"):
        target = selectors.category_get(study=study, category_id=data["target"], user=user)
        if action == "merge":
            result = services.category_merge(source=category, target=target, actor=user)
        else:
            result = services.category_reject(category=category, target=target, actor=user)
        verb = "Merged" if action == "merge" else "Rejected"
        return f"{verb} “{category.name}” into “{target.name}”: {dependents.moved_text(result.moved)} moved."
    if action == "split":
        result = services.category_split(source=category, name=data["name"], actor=user,
                                         label_ids=[int(i) for i in data.get("labels", ())],
                                         code_ids=[int(i) for i in data.get("codes", ())],
                                         final_label_ids=[int(i) for i in data.get("final_labels", ())])
        return f"Split “{category.name}”: “{result.new.name}” took {dependents.moved_text(result.moved)}."
    if action == "child":
        child = services.category_add(study=study, name=data["name"], parent=category,
                                      definition=data["definition"], actor=user)
        return f"Added “{child.name}” under “{category.name}”."
    simple = {"retire": (services.category_retire, "Retired"), "restore": (services.category_restore, "Restored"),
              "approve": (services.category_approve, "Approved")}
    service, verb = simple[action]
    service(category=category, actor=user)
    return f"{verb} “{category.name}”."


class _NoFields:
    """The form of the actions without input (retire, restore, approve)."""

    fields: dict = {}

    def __init__(self):
        self.cleaned_data = {}
        self.errors = []

    def is_valid(self) -> bool:
        return True

    def add_error(self, field, errors):
        self.errors.extend(errors if isinstance(errors, list) else [errors])


@study_view(check=selectors.taxonomy_editor_access, methods=["POST"])
def category_action(request, slug, category_id, action, *, access):
    category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
    context = _panel_context(request, access, category, data=request.POST, action=action)
    form = context["forms"].get(action) or _NoFields()
    if form.is_valid():
        try:
            notice = _perform(action, form, access=access, category=category, user=request.user)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            anchor = category.pk
            return _tree_response(request, access, notice=notice, anchor=anchor)
    if isinstance(form, _NoFields):
        context["action_errors"] = form.errors
    template = "taxonomy/tree/category_edit.html#edit-panel" if request.htmx else "taxonomy/tree/category_edit.html"
    return render(request, template, context)


# -- reading: one category, the history ------------------------------------------------------


@study_view()
def category_detail(request, slug, category_id, *, access):
    category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
    tree = selectors.taxonomy_tree(study=access.study, user=request.user)
    changes = Paginator(selectors.category_change_list(study=access.study, user=request.user, category=category),
                        HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "taxonomy/tree/category_detail.html", {
        "access": access, "study": access.study, "category": category, "node": tree.by_id.get(category.pk),
        "path": selectors.category_path(category=category), "can_edit": selectors.taxonomy_can_edit(access=access),
        "labels": selectors.category_uses(category=category, user=request.user, name="labels"),
        "codes": selectors.category_uses(category=category, user=request.user, name="codes"),
        "examples": selectors.category_examples(category=category),
        "page": changes, "diffs": selectors.change_field_diffs(changes=changes.object_list),
    })


@study_view()
def taxonomy_history(request, slug, *, access):
    changes = Paginator(selectors.category_change_list(study=access.study, user=request.user),
                        HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "taxonomy/tree/history.html", {
        "access": access, "study": access.study, "page": changes,
        "diffs": selectors.change_field_diffs(changes=changes.object_list),
    })


# -- new categories announced while labelling (the box: taxonomy/tree/_announced.html) ----------


@study_view(methods=["POST"])
def announcements_dismiss(request, slug, *, access):
    """A member has read the new categories announced to them (``up_to``: the last change the
    box covered). htmx: the box again (empty, or what was added meanwhile); else back to the
    page it was on."""
    services.categories_announced_dismiss(study=access.study, user=request.user,
                                          up_to=query_id(request.POST.get("up_to")))
    if request.htmx:
        return render(request, "taxonomy/tree/_announced.html", {
            "study": access.study, "announced": selectors.categories_announced(study=access.study,
                                                                               user=request.user)})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("tree:index", args=[slug])
    return redirect(back)
