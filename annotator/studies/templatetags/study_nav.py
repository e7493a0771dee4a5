"""Which entry of the study navigation (templates/base.html) the current page belongs to."""

from django import template

register = template.Library()

# "namespace:url_name" first, then "namespace": the entry the page belongs to.
SECTIONS = {
    "studies:detail": "home",
    "studies:members": "members",
    "studies:member": "members",
    "corpus:imports": "imports",
    "corpus:import": "imports",
    "corpus": "posts",
    "selection": "sets",
    "sampling": "draws",
    "coding": "pilot",  # the pilot's codes too (linked from the pilot page)
    "tree": "taxonomy",
    "labelling": "labelling",
    "agreement": "agreement",
    "arbitration": "arbitration",
    "results": "results",
    "classifier": "classifier",
}


@register.simple_tag(takes_context=True)
def study_nav_section(context) -> str:
    """The navigation entry of the page being shown ("" for a page outside the study's entries)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return SECTIONS.get(f"{match.namespace}:{match.url_name}") or SECTIONS.get(match.namespace, "")
