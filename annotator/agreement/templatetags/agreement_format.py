import math

from django import template

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
