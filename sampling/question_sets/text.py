"""Pure text helpers for selection rules: post HTML without its code, and
vocabulary matching (case-insensitive, literal, whole words or substrings).

No Django here: these are the functions a rule's correctness rests on, tested
on real post bodies.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

# <pre> first (it usually wraps a <code>), then any inline <code>. Non-greedy
# and case-insensitive; an unclosed block runs to the end of the body, as a
# browser would show it.
_PRE_RE = re.compile(r"<pre\b[^>]*>.*?(?:</pre\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_CODE_RE = re.compile(r"<code\b[^>]*>.*?(?:</code\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")


def text_without_code(body_html: str) -> str:
    """The visible text of a post body with every ``<pre>`` and ``<code>`` removed."""
    if not body_html:
        return ""
    text = _PRE_RE.sub(" ", body_html)
    text = _CODE_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", html.unescape(text)).strip()


def normalise_words(words: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, lower-cased, de-duplicated, in order; empty entries dropped."""
    seen: dict[str, None] = {}
    for word in words:
        word = _SPACE_RE.sub(" ", (word or "").strip()).lower()
        if word:
            seen.setdefault(word, None)
    return tuple(seen)


@dataclass(frozen=True)
class Vocabulary:
    """Words matched case-insensitively and literally (a word such as ``c++``
    or ``.*`` is that text, never a pattern). ``whole_words``: a match must not
    have a letter, digit or underscore right before or after it, so ``ios``
    does not match inside ``studios``; otherwise any substring matches."""

    words: tuple[str, ...]
    whole_words: bool = True

    def __post_init__(self):
        object.__setattr__(self, "words", normalise_words(self.words))

    @property
    def pattern(self) -> re.Pattern[str] | None:
        if not self.words:
            return None
        # Longest first, so that "tf serving" wins over "tf" at the same place.
        alternatives = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        if self.whole_words:
            return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        return re.compile(rf"(?:{alternatives})", re.IGNORECASE)

    def matches(self, text: str) -> list[str]:
        """The vocabulary words found in ``text``, each once, in vocabulary order."""
        pattern = self.pattern
        if pattern is None or not text:
            return []
        found = {m.group(0).lower() for m in pattern.finditer(text)}
        return [w for w in self.words if w in found]


def snippets(text: str, vocabulary: Vocabulary, *, width: int = 60, limit: int = 3) -> list[tuple[str, str, str]]:
    """Up to ``limit`` (before, match, after) triples around matches, for highlighting in context."""
    pattern = vocabulary.pattern
    if pattern is None or not text:
        return []
    out = []
    for m in pattern.finditer(text):
        before = text[max(0, m.start() - width): m.start()]
        after = text[m.end(): m.end() + width]
        out.append((("…" if m.start() > width else "") + before, m.group(0), after + ("…" if m.end() + width < len(text) else "")))
        if len(out) >= limit:
            break
    return out
