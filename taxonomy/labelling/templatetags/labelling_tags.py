"""The two long lists of the item panel, written in Python: the category checkboxes and
the parent options of the proposal form. Every item a rater opens renders both, and a
template loop (or ``format_html``, whose lazy-aware escaping dominates here) costs tens
of microseconds per category: 5 ms each for a 60-leaf tree, more than every query of
the page together. These escape with the standard library and take a tenth of that."""

from html import escape

from django import template
from django.utils.safestring import mark_safe

register = template.Library()

_PROPOSED = ' <span class="status proposed">proposed by you</span>'


def _path_html(path: str) -> str:
    """"Root › Inner › <b>Leaf</b>": the leaf's name stands out, the rest is where it is."""
    parents, _, leaf = path.rpartition(" › ")
    return f'<span class="opt-parents">{escape(parents)} › </span><b>{escape(leaf)}</b>' if parents else \
        f"<b>{escape(leaf)}</b>"


@register.simple_tag
def category_checkboxes(choices, chosen, hotkeys=()):
    """One ``<li>`` per category choice, ticked when its id is in ``chosen``; the rater's key
    beside a category that has one (``hotkeys``: as ``services.hotkeys_get_or_assign``)."""
    keys = {k.category.id: k.key for k in hotkeys if k.category is not None}
    return mark_safe("\n".join(
        f'<li data-path="{escape(c.path.lower())}"><label><input type="checkbox" name="categories" '
        f'value="{int(c.id)}"{" checked" if c.id in chosen else ""}> {_path_html(c.path)}'
        f'{_PROPOSED if c.status == "proposed" else ""}'
        f'{f" <kbd>{keys[c.id]}</kbd>" if c.id in keys else ""}'
        "</label></li>"
        for c in choices))


@register.simple_tag
def select_options(field):
    """The ``<option>`` elements of a bound choice field, its current value selected."""
    current = field.value()
    current = "" if current is None else str(current)
    return mark_safe("".join(
        f'<option value="{escape(str(value))}"{" selected" if str(value) == current else ""}>{escape(str(text))}</option>'
        for value, text in field.field.choices))
