from django import template

from taxonomy.tree.dependents import moved_text
from taxonomy.tree.selectors import change_moved_shown

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
