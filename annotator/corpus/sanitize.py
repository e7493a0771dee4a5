"""Post HTML as it is safe to show: nh3 (ammonia) keeps formatting, links and code
blocks, and drops scripts, event handlers, styles and ``javascript:`` URLs.

Two changes for the pages that show it (accessibility and a quiet console):

- a code block (``<pre>``) can be reached with the keyboard (``tabindex="0"``): a long
  line scrolls it sideways, and a keyboard user scrolls only what has the focus
  (WCAG 2.1.1; axe-core's scrollable-region-focusable);
- an image is shown as a link to it, named by its alternative text or title (or its file
  name): ``[image: a stack trace]``. Images in Stack Exchange dumps are hotlinks to a
  third-party host (i.stack.imgur.com) or paths relative to the site the dump came from.
  Loaded in the page, the first tell that host what every rater reads and when, and fail
  (a console error) where it is not reachable; the second are fetched from Taxonomist
  and answer 404. The text is what is coded; the image is one click away (an absolute
  http(s) one), or named only (a relative one: there is nothing here to link to).
"""

import html
import re
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strike", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "pre": {"class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
LINK_REL = "nofollow noopener noreferrer"

# A start tag of <a> or <img>, or an end tag of <a>, as nh3 writes them: attribute values
# always in double quotes, a quote in a value escaped (&quot;), so a value cannot end the tag.
_TAG = re.compile(r'<(?P<tag>a|img)(?P<attributes>(?:\s+[\w:-]+(?:="[^"]*")?)*)\s*/?>|(?P<end></a>)')
_ATTRIBUTE = re.compile(r'([\w:-]+)(?:="([^"]*)")?')


def _image_as_text(attributes: str, *, in_link: bool) -> str:
    values = {name: html.unescape(value or "") for name, value in _ATTRIBUTE.findall(attributes)}
    src = values.get("src", "").strip()
    parts = urlsplit(src)
    name = (values.get("alt", "").strip() or values.get("title", "").strip()
            or parts.path.rstrip("/").rsplit("/", 1)[-1])
    text = html.escape(f"[image: {name}]" if name else "[image]", quote=False)
    if parts.scheme in ("http", "https") and parts.netloc and not in_link:
        return f'<a href="{html.escape(src)}" class="post-image" rel="{LINK_REL}">{text}</a>'
    return f'<span class="post-image">{text}</span>'


def _images_as_links(cleaned: str) -> str:
    """Each image → a link to it, or its name alone inside a link (links do not nest)."""
    depth = 0

    def replace(match: re.Match) -> str:
        nonlocal depth
        if match["end"]:
            depth = max(depth - 1, 0)
        elif match["tag"] == "a":
            depth += 1
        else:
            return _image_as_text(match["attributes"], in_link=depth > 0)
        return match[0]

    return _TAG.sub(replace, cleaned)


def post_html_sanitize(html_text: str) -> str:
    cleaned = nh3.clean(
        html_text or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        set_tag_attribute_values={"pre": {"tabindex": "0"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return _images_as_links(cleaned)
