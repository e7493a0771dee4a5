import math

from django import template
from django.utils.html import format_html

from taxonomy.review.agreement.figures import coefficient_reading

register = template.Library()


@register.filter
def coefficient(value, share=False):
    """0.816 for a coefficient, 83.3 % for a share; "n/a" when undefined (never NaN)."""
    if value is None or isinstance(value, str):
        return "n/a"
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    # "+ 0.0" turns the -0.0 of a tiny negative value into 0.0
    return f"{round(100 * value, 1) + 0.0:.1f} %" if share else f"{round(value, 3) + 0.0:.3f}"


@register.filter
def percent(value):
    """A level such as 0.95 as "95 %"."""
    try:
        return f"{float(value) * 100:g} %"
    except (TypeError, ValueError):
        return "—"


@register.filter
def reading(value, name):
    """Where a coefficient's value falls on its published scale (κ: Landis & Koch; α: Krippendorff); "" for a share."""
    return coefficient_reading(name, value if isinstance(value, int | float) else None)


@register.simple_tag
def footnote(reason, reasons):
    """A numbered link to ``reason`` in the list of ``reasons`` below a table."""
    number = reasons.index(reason) + 1
    return format_html('<sup class="footnote"><a href="#reason-{0}" aria-label="reason {0}">{0}</a></sup>', number)
