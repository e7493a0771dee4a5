from django import template

from taxonomy.tree.dependents import moved_text
from taxonomy.tree.selectors import NO_ANNOUNCEMENTS, categories_announced, change_moved_shown

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (the diffs of a change, by change id)."""
    return mapping.get(key, ()) if mapping else ()


@register.filter
def moved_shown(change) -> str:
    """What a tree change moved, in words, as the reader may be told ("" when nothing)."""
    moved = change_moved_shown(change)
    return moved_text(moved) if moved else ""


@register.inclusion_tag("taxonomy/tree/_announced.html", takes_context=True)
def announced_categories(context, study):
    """The new categories announced to the reader, with a Dismiss button (nothing when there are
    none): ``{% load tree_tags %}{% announced_categories study %}`` on the labelling pages."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"study": study, "request": request, "csrf_token": context.get("csrf_token"),
            "announced": categories_announced(study=study, user=user) if user else NO_ANNOUNCEMENTS}
