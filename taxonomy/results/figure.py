"""The taxonomy figure, in the style of the published ones: a column per root, its inner
categories as boxes nested below, its leaves as lines inside them, every label with its
share of the root's posts ("Data Processing (19.8 %)").

Layout, in points (1/72 inch), computed before anything is drawn (``taxonomy_layout``):

- The figure is ``PAGE_WIDTH`` wide (7 in: a paper's text width on A4 or letter, so
  that 7 pt text stays 7 pt when the figure is printed at full width); its height
  follows the tree.
- Roots are columns, at most ``MAX_COLUMNS`` side by side; more roots make several
  bands of columns, balanced (five roots: three, then two).
- A root's header gives its name and its posts; an inner category is a box, its title
  bold, its children inside; a leaf is a line (a wrapped leaf continues indented).
  Names wrap at word boundaries, and a word wider than its box is broken; the
  percentage never splits from itself.
- Under the columns, one line of grey text says what the numbers count: posts in the
  taxonomy, those not in it (False positive, Unclear, undecided) and what the
  percentage is of. A study with nothing to draw gives a small figure saying so.

Rendering (``taxonomy_figure``) is deterministic: the same results give the same bytes.
Text is measured and drawn in DejaVu Sans (shipped with matplotlib, so every machine
lays out the same lines), shaped by matplotlib (right-to-left scripts included). The
SVG keeps its text as text (searchable, editable; the viewer's font draws it), the PDF
embeds TrueType fonts (Type 42: what publishers' PDF checks accept), the PNG is 200 dpi.
SVG ids are salted with a fixed ``svg.hashsalt`` and no format carries a date.

Matplotlib is used without ``pyplot`` (a ``Figure`` on an Agg canvas); the few rc
settings that only exist globally (``svg.hashsalt``, font types) are applied around
the save under a lock, so two requests drawing at once cannot see each other's.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import matplotlib
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text
from matplotlib.transforms import Affine2D

from .codebook import xml_text
from .counting import NodeCount, TaxonomyCounts
from .taxonomy_csv import taxonomy_csv_filename

FIGURE_FORMATS = {"svg": "image/svg+xml", "pdf": "application/pdf", "png": "image/png"}
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # as the set charts' SVGs
PNG_DPI = 200
MAX_PNG_PIXELS = 30_000  # a side; Agg refuses more than 2**16, and a taller figure gets fewer dpi

POINTS = 72.0
PAGE_WIDTH = 7.0 * POINTS
MARGIN = 6.0
COLUMN_GAP = 8.0
BAND_GAP = 10.0
MAX_COLUMNS = 4
FONT_FAMILY = "DejaVu Sans"
ROOT_SIZE, INNER_SIZE, LEAF_SIZE, NOTE_SIZE, EMPTY_SIZE = 8.5, 7.5, 7.0, 6.0, 11.0
LINE_SPACING = 1.25  # line height / font size
BASELINE = 0.95  # from a line's top to its baseline, in font sizes
PAD = 3.5  # inside a box
INDENT = 3.0  # an inner box inside its parent's
CONTINUATION = 6.0  # a wrapped leaf's further lines
LEAF_GAP = 1.0
BOX_GAP = 3.0
MIN_NESTED_WIDTH = 48.0  # below this an inner box stops indenting its children
ROUNDING = 2.0
TEXT_COLOUR, NOTE_COLOUR = "#1d2330", "#5b6476"
# Okabe & Ito's colour-blind-safe palette (without its yellow, too light for a border).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
HEADER_TINT, INNER_TINT = 0.28, 0.09
DASH = "—"

SAVE_SETTINGS = {"svg.fonttype": "none", "svg.hashsalt": "taxonomist", "pdf.fonttype": 42, "ps.fonttype": 42}
METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {}}
_SAVE_LOCK = threading.Lock()
# Subsetting fonts into a PDF, fontTools logs every glyph at INFO (the level of the app's root logger).
logging.getLogger("fontTools").setLevel(logging.WARNING)

RIGHT_TO_LEFT = ("R", "AL")
FIRST_STRONG_ISOLATE, POP_ISOLATE = "\u2068", "\u2069"


# -- text -------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """One line of drawable text: without what XML cannot hold, control characters and
    runs of white space (newlines included) made one space."""
    text = xml_text("".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text or ""))
    return " ".join(text.split())


def percent_label(node: NodeCount) -> str:
    """``(19.8 %)`` for a category; a root says its posts instead (``(227 posts)``)."""
    if node.parent_id is None:
        return f"({node.posts} post{'s' * (node.posts != 1)})"
    if node.percent_of_root is None:
        return f"({DASH})"
    return f"({format_percent(node.percent_of_root)} %)"


def format_percent(value: Decimal) -> str:
    return f"{value:.1f}"


def isolate_name(lines: list[str], *, suffix: str) -> list[str]:
    """Lines of a label whose name holds right-to-left text, with the name's part of each
    line in a Unicode first-strong isolate (U+2068 … U+2069): the figure reads left to right,
    so the percentage stays after the name, whatever the name's script."""
    out = []
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        name = line.removesuffix(suffix).rstrip() if last else line
        if any(unicodedata.bidirectional(ch) in RIGHT_TO_LEFT for ch in name):
            line = f"{FIRST_STRONG_ISOLATE}{name}{POP_ISOLATE}" + line[len(name):]
        out.append(line)
    return out


Measure = Callable[[str, float, bool], float]


def text_measure() -> Measure:
    """The width in points of a line of text, as the figure will draw it."""
    renderer = RendererAgg(1, 1, POINTS)
    fonts = {bold: FontProperties(family=FONT_FAMILY, weight="bold" if bold else "normal") for bold in (False, True)}
    cache: dict[tuple[str, float, bool], float] = {}

    def measure(text: str, size: float, bold: bool) -> float:
        key = (text, size, bold)
        if key not in cache:
            prop = fonts[bold].copy()
            prop.set_size(size)
            cache[key] = renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
        return cache[key]

    return measure


def _break_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    """A word too wide for one line, in pieces that fit (one character at least each)."""
    pieces, current = [], ""
    for ch in word:
        if current and not fits(current + ch):
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap(text: str, *, width: float, size: float, bold: bool, measure: Measure, suffix: str = "",
         continuation: float = 0.0) -> list[str]:
    """``text`` then ``suffix`` (kept whole) in lines no wider than ``width`` (the lines after
    the first: ``width - continuation``), greedily at spaces; a word wider than a line is broken."""

    def limit(line_count: int) -> float:
        return width - (continuation if line_count else 0.0)

    lines: list[str] = []
    current = ""
    words = text.split()
    tokens = [(word, False) for word in words] + ([(suffix, True)] if suffix else [])
    for token, atomic in tokens:
        candidate = f"{current} {token}" if current else token
        if measure(candidate, size, bold) <= limit(len(lines)):
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if atomic or measure(token, size, bold) <= limit(len(lines)):
            current = token
            continue
        pieces = _break_word(token, lambda piece: measure(piece, size, bold) <= limit(len(lines) + 1))
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current or not lines:
        lines.append(current)
    return lines


# -- layout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float  # top, from the top of the figure
    width: float
    height: float
    face: str
    edge: str
    linewidth: float = 0.6
    node_id: int | None = None  # the category it frames (a root: its column)


@dataclass(frozen=True)
class Line:
    x: float
    y: float  # top of the line, from the top of the figure
    text: str
    size: float
    bold: bool = False
    colour: str = TEXT_COLOUR
    node_id: int | None = None
    centre: bool = False  # x is the centre

    @property
    def baseline(self) -> float:
        return self.y + BASELINE * self.size


@dataclass
class FigureLayout:
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


def tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white: ``amount`` 0 is white, 1 the colour itself."""
    return to_hex(tuple(1 - amount * (1 - c) for c in to_rgb(colour)))


def bands(count: int, most: int = MAX_COLUMNS) -> list[int]:
    """How many columns each band holds: ``count`` roots in as few bands as ``most`` per
    band allows, as even as possible, fuller bands first (5 → [3, 2]; 8 → [4, 4])."""
    if count <= 0:
        return []
    band_count = math.ceil(count / most)
    base, extra = divmod(count, band_count)
    return [base + 1] * extra + [base] * (band_count - extra)


class _Column:
    """Lays out one root's column, top-down, appending to a layout."""

    def __init__(self, *, layout: FigureLayout, children: dict[int | None, list[NodeCount]], measure: Measure,
                 colour: str):
        self.layout, self.children, self.measure, self.colour = layout, children, measure, colour

    def text_lines(self, node: NodeCount, *, x: float, y: float, width: float, size: float, bold: bool,
                   continuation: float = 0.0) -> float:
        """The node's label from ``y``; returns the y under it."""
        suffix = percent_label(node)
        wrapped = wrap(clean_text(node.name), width=width, size=size, bold=bold, measure=self.measure,
                       suffix=suffix, continuation=continuation)
        for index, text in enumerate(isolate_name(wrapped, suffix=suffix)):
            self.layout.lines.append(Line(x=x + (continuation if index else 0.0), y=y, text=text, size=size,
                                          bold=bold, node_id=node.id))
            y += size * LINE_SPACING
        return y

    def root(self, node: NodeCount, *, x: float, y: float, width: float) -> float:
        """The root's column from ``y``; returns its bottom."""
        boxes, frame = self.layout.boxes, len(self.layout.boxes)
        boxes.extend([None, None])  # type: ignore[list-item]  # the frame, then the header: under the rest
        header_top = y
        y = self.text_lines(node, x=x + PAD, y=y + PAD, width=width - 2 * PAD, size=ROOT_SIZE, bold=True) + PAD
        header_bottom = y
        y += PAD
        for child in self.children.get(node.id, []):
            y = self.place(child, x=x + PAD, y=y, width=width - 2 * PAD)
        bottom = max(y + PAD - BOX_GAP, header_bottom)
        boxes[frame] = Box(x=x, y=header_top, width=width, height=bottom - header_top, face="#ffffff",
                           edge=self.colour, linewidth=0.8, node_id=node.id)
        boxes[frame + 1] = Box(x=x, y=header_top, width=width, height=header_bottom - header_top,
                               face=tint(self.colour, HEADER_TINT), edge=self.colour, linewidth=0.8)
        return bottom

    def place(self, node: NodeCount, *, x: float, y: float, width: float) -> float:
        """A leaf's lines or an inner category's box from ``y``; returns the y for what follows."""
        kids = self.children.get(node.id, [])
        if not kids:
            return self.text_lines(node, x=x, y=y, width=width, size=LEAF_SIZE, bold=False,
                                   continuation=CONTINUATION) + LEAF_GAP
        box = len(self.layout.boxes)
        self.layout.boxes.append(None)  # type: ignore[arg-type]  # drawn under its contents: set below
        top = y
        y = self.text_lines(node, x=x + PAD, y=y + PAD, width=width - 2 * PAD, size=INNER_SIZE, bold=True)
        inset = INDENT + PAD if width - 2 * (INDENT + PAD) >= MIN_NESTED_WIDTH else 0.0
        y += 1.0
        for child in kids:
            y = self.place(child, x=x + inset, y=y, width=width - 2 * inset)
        bottom = y + PAD - LEAF_GAP
        self.layout.boxes[box] = Box(x=x, y=top, width=width, height=bottom - top,
                                     face=tint(self.colour, INNER_TINT), edge=tint(self.colour, 0.55),
                                     node_id=node.id)
        return bottom + BOX_GAP


def summary_note(counts: TaxonomyCounts) -> str:
    several = f" ({counts.multi_category} with several categories)" if counts.multi_category else ""
    apart = [f"{counts.false_positive} False positive", f"{counts.unclear} Unclear"]
    if counts.undecided:
        apart.append(f"{counts.undecided} not decided yet")
    return (f"{counts.covered} post{'s' * (counts.covered != 1)} in the taxonomy{several}; not in it: "
            f"{', '.join(apart)}. A percentage is of the posts under the category's root; "
            "a post counts once in each category it is in.")


def empty_message(counts: TaxonomyCounts) -> str | None:
    """What an empty figure says, or None when there is a tree to draw."""
    if not counts.nodes:
        return "Nothing to draw yet: the taxonomy has no categories."
    return None


def taxonomy_layout(counts: TaxonomyCounts, *, measure: Measure | None = None) -> FigureLayout:
    """Where every box and line of the figure goes (points, from the top left)."""
    measure = measure or text_measure()
    message = empty_message(counts)
    if message is not None:
        layout = FigureLayout(width=PAGE_WIDTH, height=1.0 * POINTS)
        layout.lines.append(Line(x=PAGE_WIDTH / 2, y=POINTS / 2 - EMPTY_SIZE * LINE_SPACING / 2, text=message,
                                 size=EMPTY_SIZE, colour=NOTE_COLOUR, centre=True))
        return layout
    children: dict[int | None, list[NodeCount]] = {}
    for node in counts.nodes:  # tree order: siblings stay in order
        children.setdefault(node.parent_id, []).append(node)
    roots = children.get(None, [])
    layout = FigureLayout(width=PAGE_WIDTH, height=0.0)
    per_band = bands(len(roots))
    columns = max(per_band)
    column_width = (PAGE_WIDTH - 2 * MARGIN - (columns - 1) * COLUMN_GAP) / columns
    y, index = MARGIN, 0
    for count in per_band:
        bottom = y
        for position in range(count):
            column = _Column(layout=layout, children=children, measure=measure,
                             colour=PALETTE[index % len(PALETTE)])
            x = MARGIN + position * (column_width + COLUMN_GAP)
            bottom = max(bottom, column.root(roots[index], x=x, y=y, width=column_width))
            index += 1
        y = bottom + BAND_GAP
    note_width = PAGE_WIDTH - 2 * MARGIN
    for text in wrap(summary_note(counts), width=note_width, size=NOTE_SIZE, bold=False, measure=measure):
        layout.lines.append(Line(x=MARGIN, y=y, text=text, size=NOTE_SIZE, colour=NOTE_COLOUR))
        y += NOTE_SIZE * LINE_SPACING
    layout.height = y + MARGIN
    return layout


# -- drawing ----------------------------------------------------------------------------------


def layout_figure(layout: FigureLayout) -> Figure:
    """The layout drawn on a matplotlib Figure (no pyplot)."""
    fig = Figure(figsize=(layout.width / POINTS, layout.height / POINTS), dpi=POINTS)
    FigureCanvasAgg(fig)
    # Points from the top left → the figure's display coordinates.
    points = Affine2D().scale(1, -1).translate(0, layout.height).scale(1 / POINTS) + fig.dpi_scale_trans
    for box in layout.boxes:
        fig.add_artist(FancyBboxPatch((box.x, box.y), box.width, box.height,
                                      boxstyle=f"round,pad=0,rounding_size={ROUNDING}", facecolor=box.face,
                                      edgecolor=box.edge, linewidth=box.linewidth, transform=points))
    fonts = {bold: FontProperties(family=FONT_FAMILY, weight="bold" if bold else "normal") for bold in (False, True)}
    for line in layout.lines:
        prop = fonts[line.bold].copy()
        prop.set_size(line.size)
        fig.add_artist(Text(line.x, line.baseline, line.text, fontproperties=prop, color=line.colour,
                            ha="center" if line.centre else "left", va="baseline", transform=points,
                            parse_math=False, usetex=False))
    return fig


def figure_bytes(fig: Figure, *, fmt: str) -> bytes:
    """``fig`` as SVG, PDF or PNG, the same bytes for the same figure."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} ({', '.join(FIGURE_FORMATS)})")
    options = {"format": fmt, "metadata": METADATA[fmt]}
    if fmt == "png":
        width, height = fig.get_size_inches()
        options["dpi"] = min(PNG_DPI, MAX_PNG_PIXELS / max(width, height))
    buffer = io.BytesIO()
    with _SAVE_LOCK, matplotlib.rc_context(SAVE_SETTINGS):
        fig.savefig(buffer, **options)
    return buffer.getvalue()


def taxonomy_figure(*, results, fmt: str) -> bytes:
    """The taxonomy figure of ``results`` (``selectors.results_get``) as ``fmt`` (svg, pdf, png)."""
    return figure_bytes(layout_figure(taxonomy_layout(results.counts)), fmt=fmt)


def taxonomy_figure_filename(*, results, fmt: str) -> str:
    """``<study>-taxonomy[-v<draw>][-<stratum>].<fmt>``, named as the taxonomy CSV is."""
    return taxonomy_csv_filename(results=results).removesuffix(".csv") + f".{fmt}"


def download_response(content: bytes, *, content_type: str, filename: str, attachment: bool = True) -> HttpResponse:
    """A file of the results (figure, curve, codebook) as a response: named, never cached (it
    follows data that changes under the same URL); an SVG gets a policy of its own that
    allows matplotlib's style attributes and runs or loads nothing."""
    response = HttpResponse(content, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition_header(attachment, filename)
    patch_cache_control(response, private=True, no_cache=True)
    if content_type == FIGURE_FORMATS["svg"]:
        response.headers["Content-Security-Policy"] = SVG_POLICY
    return response


def figure_format(value: str | None, *, default: str = "svg", formats: Sequence[str] = tuple(FIGURE_FORMATS)) -> str:
    """A requested format checked against ``formats``, or a ValidationError naming them."""
    fmt = (value or default).strip().lower()
    if fmt not in formats:
        raise ValidationError({"format": f"Unknown figure format “{value}”: use {', '.join(formats)}."})
    return fmt
