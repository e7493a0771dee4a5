"""Reads of the joint pilot: which draw, its pilot items, the codes on them.

The pilot is collaborative: every member of the study sees every code, with
its author. (Blindness applies to the reliability round only, and is decided
in ``taxonomy.labelling.selectors``.)
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import Http404

from annotator.corpus.selectors import ThreadDisplay, post_thread_display
from annotator.studies.models import Role, Study
from annotator.studies.selectors import StudyAccess, study_get_for_user
from sampling.draws.models import DrawStatus, ItemPart, SampleDraw, SampleItem
from taxonomy.tree.models import PUBLIC, Category
from taxonomy.tree.selectors import CategoryHit, category_search

from .models import Code, CodeUse

PILOT_DRAW_STATUSES = (DrawStatus.READY, DrawStatus.LABELLING)
WRITER_ROLES = (Role.OWNER, Role.RATER, Role.ARBITRATOR)
SUGGESTION_LIMIT = 10


# -- access ------------------------------------------------------------------------------


def coding_can_write(*, access: StudyAccess) -> bool:
    """Raters, owners and arbitrators write codes; viewers read."""
    return any(access.can(role) for role in WRITER_ROLES)


def coding_access_get(*, slug: str, user, write: bool = False) -> StudyAccess:
    """The study and membership, or 404: for strangers, and (like every other
    write in the project) for a viewer who tries to write."""
    access = study_get_for_user(slug=slug, user=user)
    if write and not coding_can_write(access=access):
        raise Http404("No such study.")
    return access


# -- draws and pilot items ---------------------------------------------------------------


def pilot_draw_list(*, study: Study) -> QuerySet[SampleDraw]:
    """Draws whose pilot can be coded (drawn; labelling or not), newest first."""
    return SampleDraw.objects.filter(study=study, status__in=PILOT_DRAW_STATUSES).order_by("-version")


def pilot_draw_get(*, study: Study, version: int | None = None) -> SampleDraw | None:
    """The draw the pilot pages show: ``version`` if given (404 when it is not a
    drawn version of this study), else the latest drawn one (None when there is none)."""
    draws = pilot_draw_list(study=study)
    if version is None:
        return draws.first()
    draw = draws.filter(version=version).first()
    if draw is None:
        raise Http404("No such drawn version.")
    return draw


def pilot_item_list(*, draw: SampleDraw) -> QuerySet[SampleItem]:
    """The draw's pilot items in a stable order, each with ``code_count`` (codes on it)."""
    return (
        draw.items.filter(part=ItemPart.PILOT)
        .select_related("post", "stratum")
        .annotate(code_count=Count("code_uses__code", distinct=True))
        .order_by("stratum__position", "post__so_id", "id")
    )


def pilot_item_next_uncoded(*, draw: SampleDraw) -> SampleItem | None:
    """The first pilot item that nobody has coded yet."""
    return pilot_item_list(draw=draw).filter(code_count=0).first()


def pilot_item_get(*, study: Study, item_id: int) -> SampleItem:
    """A pilot item of a drawn version of this study, or 404 (missing, another
    study's, a reliability item, or a draw that is not drawn)."""
    item = (
        SampleItem.objects.filter(
            pk=item_id, draw__study=study, part=ItemPart.PILOT, draw__status__in=PILOT_DRAW_STATUSES
        )
        .select_related("post", "stratum", "draw")
        .first()
    )
    if item is None:
        raise Http404("No such pilot item in this study.")
    return item


@dataclass(frozen=True)
class Neighbours:
    previous: int | None
    next: int | None
    position: int  # 1-based
    total: int


def pilot_item_neighbours(*, item: SampleItem) -> Neighbours:
    """The previous and next pilot items of the same draw (ids only: a pilot is a few hundred items)."""
    ids = list(
        SampleItem.objects.filter(draw_id=item.draw_id, part=ItemPart.PILOT)
        .order_by("stratum__position", "post__so_id", "id")
        .values_list("id", flat=True)
    )
    index = ids.index(item.pk)
    return Neighbours(
        previous=ids[index - 1] if index > 0 else None,
        next=ids[index + 1] if index + 1 < len(ids) else None,
        position=index + 1,
        total=len(ids),
    )


def pilot_item_thread(*, item: SampleItem) -> ThreadDisplay:
    """The item's post as every page shows a post (rendered with ``corpus/_thread.html``)."""
    return post_thread_display(post=item.post)


def item_code_uses(*, item: SampleItem) -> QuerySet[CodeUse]:
    """Every code on the item, with its author (everyone sees them in the pilot)."""
    return CodeUse.objects.filter(item=item).select_related("code", "code__category", "author")


def code_use_get(*, item: SampleItem, code_id: int) -> CodeUse:
    use = CodeUse.objects.filter(item=item, code_id=code_id).select_related("code", "author").first()
    if use is None:
        raise Http404("That code is not on this item.")
    return use


# -- codes ---------------------------------------------------------------------------------


def code_list(*, study: Study, q: str = "", ungrouped: bool = False) -> QuerySet[Code]:
    """The study's codes, each with ``item_count`` (pilot items it is on), filtered
    by a case-insensitive substring and/or to those in no category."""
    codes = Code.objects.filter(study=study).select_related("category").annotate(
        item_count=Count("uses__item", distinct=True)
    )
    q = " ".join((q or "").split())
    if q:
        codes = codes.filter(text__icontains=q)
    if ungrouped:
        codes = codes.filter(category__isnull=True)
    return codes.order_by("text", "id")


def code_items(*, codes) -> dict[int, list[SampleItem]]:
    """Code id → the pilot items it is on (for one page of codes)."""
    out: dict[int, list[SampleItem]] = {}
    uses = (
        CodeUse.objects.filter(code__in=[c.pk for c in codes])
        .select_related("item__post", "item__draw")
        .order_by("item__draw__version", "item__post__so_id", "id")
    )
    for use in uses:
        out.setdefault(use.code_id, []).append(use.item)
    return out


def code_suggestions(*, study: Study, q: str, limit: int = SUGGESTION_LIMIT) -> list[Code]:
    """Codes containing ``q`` (case-insensitive), those that start with it first,
    then the most used; each with ``item_count``."""
    q = " ".join((q or "").split())
    if not q:
        return []
    return list(
        code_list(study=study, q=q)
        .annotate(
            prefix=Case(When(text__istartswith=q, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("prefix", "-item_count", "text")[:limit]
    )


def code_get(*, study: Study, code_id: int) -> Code:
    code = Code.objects.filter(study=study, pk=code_id).select_related("category").first()
    if code is None:
        raise Http404("No such code in this study.")
    return code


def code_list_by_ids(*, study: Study, code_ids) -> list[Code]:
    """The study's codes with these ids; 404 if any is missing (or another study's)."""
    ids = {int(pk) for pk in code_ids}
    codes = list(Code.objects.filter(study=study, pk__in=ids))
    if len(codes) != len(ids):
        raise Http404("No such code in this study.")
    return codes


# -- categories to group into ------------------------------------------------------------


def category_choices(*, study: Study, user) -> list[CategoryHit]:
    """Every live category ``user`` may group codes into (leaves and inner ones), with its path."""
    return category_search(study=study, user=user, q="", leaves_only=False, limit=100_000)


def category_get_live(*, study: Study, category_id: int) -> Category:
    """A category every member sees (active, or a joint proposal), or 404: the pilot is joint, so a
    rater's private proposal neither holds its codes nor parents its categories (and another
    rater's is as unknown as a missing one)."""
    category = Category.objects.filter(PUBLIC, study=study, pk=category_id).first()
    if category is None:
        raise Http404("No such category in this study.")
    return category


def category_codes(*, category):
    """The pilot's codes grouped into ``category``, by text."""
    return Code.objects.filter(category=category).order_by("text")


def pilot_item_list_with_draw(*, draw: SampleDraw) -> QuerySet[SampleItem]:
    """``pilot_item_list`` with each item's draw read alongside (the API names its version)."""
    return pilot_item_list(draw=draw).select_related("draw")


def item_code_use_ids(*, item: SampleItem) -> set[int]:
    return set(CodeUse.objects.filter(item=item).values_list("id", flat=True))
