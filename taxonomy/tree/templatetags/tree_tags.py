from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (the diffs of a change, by change id)."""
    return mapping.get(key, ()) if mapping else ()
