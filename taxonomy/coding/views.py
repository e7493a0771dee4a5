"""Pages of the joint pilot: the pilot items, one item with its codes, the codes page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from annotator.studies.access import study_view
from annotator.form_utils import query_id

from . import selectors, services
from .forms import CodeFilterForm, CodesGroupForm, CodeTextForm

ITEMS_PER_PAGE = 50
CODES_PER_PAGE = 50
ITEMS_SHOWN_PER_CODE = 5


def _version(request) -> int | None:
    value = request.GET.get("draw") or None
    if value is None:
        return None
    if query_id(value) is None:
        raise Http404("No such drawn version.")
    return query_id(value)


@study_view(check=selectors.coding_access_get)
def pilot_item_list(request, slug, *, access):
    """The pilot items of one drawn version (the latest unless ``?draw=``), with their code counts."""
    study = access.study
    draw = selectors.pilot_draw_get(study=study, version=_version(request))
    context = {
        "access": access, "study": study, "draw": draw, "draws": selectors.pilot_draw_list(study=study),
        "page": None, "next_uncoded": None, "query": urlencode({"draw": draw.version}) if draw else "",
    }
    if draw is not None:
        context["page"] = Paginator(selectors.pilot_item_list(draw=draw), ITEMS_PER_PAGE).get_page(
            request.GET.get("page"))
        context["next_uncoded"] = selectors.pilot_item_next_uncoded(draw=draw)
    template = "taxonomy/coding/pilot_list.html#pilot-items" if request.htmx else "taxonomy/coding/pilot_list.html"
    return render(request, template, context)


def _item_context(request, access, item, *, error: str = "", text: str = "") -> dict:
    return {
        "access": access, "study": access.study, "item": item, "draw": item.draw,
        "can_write": selectors.coding_can_write(access=access),
        "is_owner": access.membership.is_owner,
        "uses": selectors.item_code_uses(item=item), "error": error, "text": text,
    }


@study_view(check=selectors.coding_access_get, check_writes=True, methods=["GET", "POST"])
def pilot_item(request, slug, item_id, *, access):
    """A pilot item: the post, the codes on it and (for writers) the form to add one.

    htmx asks for parts of it: the code suggestions as the code box changes
    (target ``code-suggestions``), and the code section after an add."""
    item = selectors.pilot_item_get(study=access.study, item_id=item_id)
    if request.htmx and request.htmx.target == "code-suggestions":
        q = request.GET.get("text", "")
        return render(request, "taxonomy/coding/item.html#suggestions", {
            "suggestions": selectors.code_suggestions(study=access.study, q=q), "q": q})
    error = text = ""
    if request.method == "POST":
        form = CodeTextForm(request.POST)
        form.is_valid()
        text = request.POST.get("pick") or form.cleaned_data.get("text", "")
        try:
            services.code_use_add(item=item, author=request.user, text=text)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            text = ""
            if not request.htmx:
                return redirect("coding:item", slug=slug, item_id=item.pk)
    context = _item_context(request, access, item, error=error, text=text)
    if request.htmx:
        return render(request, "taxonomy/coding/item.html#item-codes", context)
    context.update(thread=selectors.pilot_item_thread(item=item),
                   neighbours=selectors.pilot_item_neighbours(item=item))
    return render(request, "taxonomy/coding/item.html", context, status=400 if error else 200)


@study_view(check=selectors.coding_access_get, write=True, methods=["POST"])
def code_use_remove(request, slug, item_id, code_id, *, access):
    item = selectors.pilot_item_get(study=access.study, item_id=item_id)
    use = selectors.code_use_get(item=item, code_id=code_id)
    services.code_use_remove(use=use, actor=request.user)  # PermissionDenied → 403
    if request.htmx:
        return render(request, "taxonomy/coding/item.html#item-codes", _item_context(request, access, item))
    return redirect("coding:item", slug=slug, item_id=item.pk)


# -- the codes page ---------------------------------------------------------------------------


def _codes_url(slug: str, data) -> str:
    """The codes page with the filters and page the user came from (POSTed back as hidden fields)."""
    keep = {k: data.get(k) for k in ("q", "ungrouped", "page") if data.get(k)}
    url = reverse("coding:codes", args=[slug])
    return f"{url}?{urlencode(keep)}" if keep else url


@study_view(check=selectors.coding_access_get)
def code_list(request, slug, *, access):
    """Every code with its items and category; filter by text and "ungrouped"; select codes to group them."""
    study = access.study
    filters = CodeFilterForm(request.GET)
    filters.is_valid()
    q = filters.cleaned_data.get("q", "")
    ungrouped = filters.cleaned_data.get("ungrouped", False)
    page = Paginator(selectors.code_list(study=study, q=q, ungrouped=ungrouped), CODES_PER_PAGE).get_page(
        request.GET.get("page"))
    page.object_list = codes = list(page.object_list)
    items = selectors.code_items(codes=codes)
    for code in codes:
        code.shown_items = items.get(code.pk, [])[:ITEMS_SHOWN_PER_CODE]
        code.more_items = len(items.get(code.pk, [])) - len(code.shown_items)
    categories = selectors.category_choices(study=study, user=request.user)
    context = {
        "access": access, "study": study, "filters": filters, "q": q, "ungrouped": ungrouped, "page": page,
        "categories": categories, "can_write": selectors.coding_can_write(access=access),
        "query": urlencode({k: v for k, v in (("q", q), ("ungrouped", "on" if ungrouped else "")) if v}),
    }
    if request.htmx and request.htmx.target == "code-table":
        return render(request, "taxonomy/coding/code_list.html#code-table", context)
    return render(request, "taxonomy/coding/code_list.html", context)


def _report(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@study_view(check=selectors.coding_access_get, write=True, methods=["POST"])
def codes_group(request, slug, *, access):
    study = access.study
    form = CodesGroupForm(request.POST, categories=selectors.category_choices(study=study, user=request.user))
    back = _codes_url(slug, request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    codes = selectors.code_list_by_ids(study=study, code_ids=data["codes"])
    try:
        if data["action"] == "new":
            parent = (selectors.category_get_live(study=study, category_id=data["parent"])
                      if data["parent"] else None)
            category = services.codes_group_new_category(codes=codes, name=data["name"], parent=parent,
                                                         actor=request.user)
            messages.success(request, f"Category “{category.name}” created with {len(codes)} "
                                      f"code{'s' if len(codes) != 1 else ''}.")
        else:
            category = selectors.category_get_live(study=study, category_id=data["category"])
            moved = services.codes_group(codes=codes, category=category, actor=request.user)
            messages.success(request, f"{moved} code{'s' if moved != 1 else ''} added to “{category.name}”.")
    except ValidationError as exc:
        _report(request, exc)
    return redirect(back)


@study_view(check=selectors.coding_access_get, write=True, methods=["POST"])
def code_rename(request, slug, code_id, *, access):
    code = selectors.code_get(study=access.study, code_id=code_id)
    old = code.text
    form = CodeTextForm(request.POST)
    form.is_valid()
    try:
        survivor = services.code_rename(code=code, text=form.cleaned_data.get("text", ""), actor=request.user)
    except ValidationError as exc:
        _report(request, exc)
    else:
        if survivor.pk != code_id:
            messages.success(request, f"“{old}” merged into “{survivor.text}”: its items now carry that code.")
        else:
            messages.success(request, f"“{old}” renamed to “{survivor.text}”.")
    return redirect(_codes_url(slug, request.POST))


@study_view(check=selectors.coding_access_get, write=True, methods=["POST"])
def code_ungroup(request, slug, code_id, *, access):
    code = selectors.code_get(study=access.study, code_id=code_id)
    services.code_ungroup(code=code, actor=request.user)
    messages.success(request, f"“{code.text}” is in no category now.")
    return redirect(_codes_url(slug, request.POST))
