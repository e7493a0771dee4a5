"""The taxonomy figure: every category with its percentage of its root, laid out to fit a
paper's width, the same bytes for the same data in SVG, PDF and PNG, whatever the names."""

import re
import zlib
from itertools import pairwise

import pytest
from django.urls import reverse
from lxml import etree
from rest_framework.test import APIClient

from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.labelling.services import label_submit
from taxonomy.results import figure
from taxonomy.results.counting import Decision, taxonomy_counts
from taxonomy.results.figure import (
    LINE_SPACING,
    MARGIN,
    PAGE_WIDTH,
    bands,
    figure_bytes,
    layout_figure,
    taxonomy_layout,
    text_measure,
    wrap,
)
from taxonomy.results.selectors import results_get
from taxonomy.tree.paths import CategoryRow, TreeShape
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw
from tests.taxonomy.results.test_counting import reference_decisions, reference_shape

SVG = "{http://www.w3.org/2000/svg}"
ISOLATES = str.maketrans("", "", "\u2068\u2069")
PNG_MAGIC, PDF_MAGIC = b"\x89PNG\r\n\x1a\n", b"%PDF-"


def svg_texts(svg: bytes) -> list[str]:
    """Every text element's text, as a reader of the SVG gets it (isolate marks dropped)."""
    root = etree.fromstring(svg)
    return ["".join(element.itertext()).translate(ISOLATES) for element in root.iter(f"{SVG}text")]


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png.startswith(PNG_MAGIC)
    chunks, at = [], len(PNG_MAGIC)
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        chunks.append((png[at + 4:at + 8], png[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def node_texts(layout) -> dict[int, str]:
    """Each node's label as drawn (its lines joined), isolate marks dropped."""
    out: dict[int, list[str]] = {}
    for line in layout.lines:
        if line.node_id is not None:
            out.setdefault(line.node_id, []).append(line.text.translate(ISOLATES))
    return {node: " ".join(parts) for node, parts in out.items()}


def reference_counts():
    return taxonomy_counts(shape=reference_shape(), decisions=reference_decisions(), items=769, undecided=0)


# -- pure: layout and text ---------------------------------------------------------------------


def test_the_published_percentages_are_in_the_svg_under_their_roots():
    counts = reference_counts()
    layout = taxonomy_layout(counts)
    labels = node_texts(layout)
    assert labels[1] == "Server/Cloud (227 posts)" and labels[2] == "Mobile (231 posts)"
    assert labels[3] == "Browser (125 posts)"
    assert (labels[11], labels[21], labels[31]) == ("Data Processing (19.8 %)", "Data Processing (16.9 %)",
                                                    "Data Processing (18.4 %)")
    assert (labels[12], labels[32]) == ("Environment (19.4 %)", "Environment (19.2 %)")
    assert len(labels) == len(counts.nodes)  # every category drawn, once
    # the three roots side by side: one column each, in tree order
    root_x = [next(line.x for line in layout.lines if line.node_id == root) for root in (1, 2, 3)]
    assert root_x == sorted(root_x) and len(set(root_x)) == 3
    column_of = {node: max(x for x in root_x if x <= line.x) for line in layout.lines if line.node_id
                 for node in [line.node_id]}
    assert column_of[11] == root_x[0] and column_of[21] == root_x[1] and column_of[31] == root_x[2]
    svg = figure_bytes(layout_figure(layout), fmt="svg")
    texts = svg_texts(svg)
    for expected in labels.values():
        assert expected in texts
    assert "Data Processing (19.8 %)" in texts and any("58 False positive, 130 Unclear" in t for t in texts)
    assert any(t.startswith("581 posts in the taxonomy (2 with several categories)") for t in texts)


def test_same_data_same_bytes_in_every_format_and_no_dates():
    counts = reference_counts()
    first = {fmt: figure_bytes(layout_figure(taxonomy_layout(counts)), fmt=fmt) for fmt in figure.FIGURE_FORMATS}
    second = {fmt: figure_bytes(layout_figure(taxonomy_layout(counts)), fmt=fmt) for fmt in figure.FIGURE_FORMATS}
    assert first == second
    assert first["pdf"].startswith(PDF_MAGIC) and b"CreationDate" not in first["pdf"]
    assert b"ModDate" not in first["pdf"]
    assert first["png"].startswith(PNG_MAGIC)
    kinds = [kind for kind, _ in png_chunks(first["png"])]
    assert b"tIME" not in kinds
    texts = [data for kind, data in png_chunks(first["png"]) if kind in (b"tEXt", b"iTXt")]
    assert not any(re.search(rb"(?i)date|time", data) for data in texts)
    svg = first["svg"].decode()
    assert "<dc:date>" not in svg and svg.startswith("<?xml")
    # 7 in wide: a paper's text width
    assert re.search(r'<svg[^>]* width="504pt"', svg)


def test_the_png_is_200_dpi_at_paper_width():
    png = figure_bytes(layout_figure(taxonomy_layout(reference_counts())), fmt="png")
    header = dict(png_chunks(png))[b"IHDR"]
    assert int.from_bytes(header[:4], "big") == 7 * 200


def test_a_pdf_embeds_truetype_fonts_and_keeps_the_text():
    pdf = figure_bytes(layout_figure(taxonomy_layout(reference_counts())), fmt="pdf")
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # Type 42 (TrueType), what publishers accept
    streams = [zlib.decompress(m.group(1)) for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
               if m.group(1)[:1] == b"x"]
    assert any(b"Tj" in s or b"TJ" in s for s in streams)  # text drawn as text, not as paths


def test_hostile_names_neither_break_the_xml_nor_the_figure():
    names = ['<script>alert("x")</script>', "R&D ' \" &amp;", "שלום עולם", "مرحبا بالعالم", "$x^2$ cost $$",
             "tab\there\nnewline\x01control\x7f", "=SUM(A1)", "x" * 190]
    rows = [CategoryRow(1, None, "Root & <co>")] + [CategoryRow(10 + i, 1, name, "active", i)
                                                    for i, name in enumerate(names)]
    shape = TreeShape(rows)
    counts = taxonomy_counts(shape=shape, decisions=[Decision(i, "categories", frozenset({10 + i % len(names)}))
                                                     for i in range(16)], items=16, undecided=0)
    layout = taxonomy_layout(counts)
    labels = node_texts(layout)
    assert labels[10] == '<script>alert("x")</script> (12.5 %)'
    assert labels[11] == "R&D ' \" &amp; (12.5 %)"
    assert labels[12] == "שלום עולם (12.5 %)" and labels[13] == "مرحبا بالعالم (12.5 %)"
    assert labels[14] == "$x^2$ cost $$ (12.5 %)"  # not mathtext
    assert labels[15] == "tab here newline control (12.5 %)"
    # right-to-left names are isolated, so the percentage stays on their right
    assert any(line.text == "\u2068שלום עולם\u2069 (12.5 %)" for line in layout.lines)
    long_lines = [line for line in layout.lines if line.node_id == 17]
    assert len(long_lines) > 1 and labels[17].replace(" ", "") == "x" * 190 + "(12.5%)"
    svg = figure_bytes(layout_figure(layout), fmt="svg")
    texts = svg_texts(svg)  # parses: the markup is escaped
    assert '<script>alert("x")</script> (12.5 %)' in texts and "Root & <co> (16 posts)" in texts
    assert b"<script>" not in svg
    assert figure_bytes(layout_figure(layout), fmt="pdf").startswith(PDF_MAGIC)
    assert figure_bytes(layout_figure(layout), fmt="png").startswith(PNG_MAGIC)


def test_three_roots_of_forty_leaves_fit_the_width_and_never_overlap():
    rows, decisions = [], []
    for root in range(3):
        root_id = 1000 * (root + 1)
        rows.append(CategoryRow(root_id, None, f"Root {root}", "active", root))
        for inner in range(4):
            inner_id = root_id + 100 * (inner + 1)
            rows.append(CategoryRow(inner_id, root_id, f"Inner category number {inner}", "active", inner))
            for leaf in range(10):
                leaf_id = inner_id + leaf + 1
                name = (f"Leaf {leaf} about the deployment problems of kind {inner}" if leaf == 0
                        else f"Model issue {inner}.{leaf}")  # one long name per box, the others typical
                rows.append(CategoryRow(leaf_id, inner_id, name, "active", leaf))
                decisions.append(Decision(leaf_id, "categories", frozenset({leaf_id})))
    counts = taxonomy_counts(shape=TreeShape(rows), decisions=decisions, items=120, undecided=0)
    layout = taxonomy_layout(counts)
    assert len(node_texts(layout)) == 3 + 12 + 120
    assert layout.width == PAGE_WIDTH and layout.height < 11.69 * 72  # one A4 page
    measure = text_measure()
    for line in layout.lines:
        assert MARGIN <= line.x and line.x + measure(line.text, line.size, line.bold) <= PAGE_WIDTH - MARGIN + 0.01
        assert line.size >= 6  # readable when printed
    # lines of one column never overlap
    by_column: dict[float, list] = {}
    column_width = (PAGE_WIDTH - 2 * MARGIN - 2 * figure.COLUMN_GAP) / 3
    for line in layout.lines:
        if line.node_id is not None:
            by_column.setdefault(int((line.x - MARGIN) // (column_width + figure.COLUMN_GAP)), []).append(line)
    assert sorted(by_column) == [0, 1, 2]
    for lines in by_column.values():
        lines.sort(key=lambda line: line.y)
        for above, below in pairwise(lines):
            assert below.y - above.y >= above.size * LINE_SPACING - 0.01
    # each inner category's box holds its leaves' lines
    boxes = {box.node_id: box for box in layout.boxes if box.node_id is not None}
    for row in rows:
        if row.parent_id is not None and row.parent_id in boxes and row.id % 100:
            box = boxes[row.parent_id]
            for line in (line for line in layout.lines if line.node_id == row.id):
                assert box.x < line.x < box.x + box.width and box.y < line.y < box.y + box.height


def test_many_roots_make_balanced_bands():
    assert bands(3) == [3] and bands(4) == [4] and bands(5) == [3, 2] and bands(8) == [4, 4]
    assert bands(9) == [3, 3, 3] and bands(0) == []
    rows = [CategoryRow(i, None, f"Root {i}", "active", i) for i in range(1, 10)]
    layout = taxonomy_layout(taxonomy_counts(shape=TreeShape(rows), decisions=[], items=0, undecided=0))
    tops = sorted({line.y for line in layout.lines if line.node_id})
    assert len(tops) == 3  # three bands of three


def test_wrap_keeps_lines_within_the_width_and_the_percentage_whole():
    measure = text_measure()
    lines = wrap("Deployment of the model to the serving infrastructure", width=80, size=7, bold=False,
                 measure=measure, suffix="(19.8 %)", continuation=6)
    assert " ".join(lines) == "Deployment of the model to the serving infrastructure (19.8 %)"
    assert lines[-1].endswith("(19.8 %)") and len(lines) > 2
    assert measure(lines[0], 7, False) <= 80 and all(measure(line, 7, False) <= 74 for line in lines[1:])
    broken = wrap("a" * 60, width=50, size=7, bold=True, measure=measure)
    assert "".join(broken) == "a" * 60 and all(measure(line, 7, True) <= 50 for line in broken)
    assert wrap("", width=50, size=7, bold=False, measure=measure) == [""]


def test_an_empty_taxonomy_gives_a_figure_that_says_so():
    counts = taxonomy_counts(shape=TreeShape([]), decisions=[], items=0, undecided=0)
    svg = figure_bytes(layout_figure(taxonomy_layout(counts)), fmt="svg")
    assert svg_texts(svg) == ["Nothing to draw yet: the taxonomy has no categories."]


def test_a_tree_without_final_labels_is_drawn_with_dashes():
    shape = TreeShape([CategoryRow(1, None, "Server"), CategoryRow(2, 1, "Export")])
    layout = taxonomy_layout(taxonomy_counts(shape=shape, decisions=[], items=4, undecided=4))
    assert node_texts(layout) == {1: "Server (0 posts)", 2: "Export (—)"}
    assert any("4 not decided yet" in line.text for line in layout.lines)


# -- through the app ---------------------------------------------------------------------------


@pytest.fixture
def decided(db):
    """Server › {Export, Serving}, Mobile › Quantization; four reliability items decided:
    Export, Export, Export + Quantization, False positive."""
    study = StudyFactory(slug="fig", name="Figure study")
    owner, ana, bo, stranger = (UserFactory(username=n) for n in ("olga", "ana", "bo", "zed"))
    MembershipFactory(study=study, user=owner, is_owner=True)
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    server = category_add(study=study, name="Server", actor=owner)
    export = category_add(study=study, name="Export & <ONNX>", parent=server, actor=owner)
    category_add(study=study, name="Serving", parent=server, actor=owner)
    mobile = category_add(study=study, name="Mobile", actor=owner)
    quant = category_add(study=study, name="Quantization", parent=mobile, actor=owner)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=4, per_item=2)
    answers = [("categories", [export.pk]), ("categories", [export.pk]), ("categories", [export.pk, quant.pk]),
               ("false_positive", [])]
    for index, (kind, categories) in enumerate(answers):
        for rater in (ana, bo):
            assignment = rater.assignments.filter(draw=draw).order_by("item_id")[index]
            label_submit(assignment=assignment, rater=rater, kind=kind, category_ids=categories)
    arbitration_start(draw=draw, user=owner)
    return locals()


def test_the_page_shows_the_figure_and_links_every_format(client, decided):
    client.force_login(decided["ana"])
    page = client.get(reverse("results:home", args=["fig"])).content.decode()
    src = reverse("results:figure", args=["fig", "svg"])
    assert f'src="{src}"' in page
    for fmt in ("svg", "pdf", "png"):
        assert f'href="{reverse("results:figure", args=["fig", fmt])}?download=1"' in page
    response = client.get(src)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == 'inline; filename="fig-taxonomy.svg"'
    assert "default-src 'none'" in response["Content-Security-Policy"]
    texts = svg_texts(response.content)
    assert {"Server (3 posts)", "Export & <ONNX> (100.0 %)", "Serving (0.0 %)", "Mobile (1 post)",
            "Quantization (100.0 %)"} <= set(texts)
    download = client.get(reverse("results:figure", args=["fig", "pdf"]), {"download": "1", "draw": "1"})
    assert download["Content-Disposition"] == 'attachment; filename="fig-taxonomy-v1.pdf"'
    assert download.content.startswith(PDF_MAGIC)
    assert client.get(reverse("results:figure", args=["fig", "gif"])).status_code == 400
    assert client.get(reverse("results:figure", args=["fig", "svg"]), {"draw": "9"}).status_code == 400


def test_the_api_gives_the_figure_by_suffix_or_format_and_the_same_bytes_as_the_page(client, decided):
    api = APIClient()
    api.force_authenticate(decided["bo"])
    by_suffix = api.get("/api/studies/fig/results/figure.png")
    by_query = api.get("/api/studies/fig/results/figure", {"format": "png"})
    assert by_suffix.status_code == by_query.status_code == 200
    assert by_suffix["Content-Type"] == "image/png" and by_suffix.content.startswith(PNG_MAGIC)
    assert by_suffix.content == by_query.content
    client.force_login(decided["bo"])
    page = client.get(reverse("results:figure", args=["fig", "png"]))
    assert page.content == by_suffix.content
    svg = api.get("/api/studies/fig/results/figure")  # svg by default
    assert svg["Content-Type"] == "image/svg+xml" and "Export & <ONNX> (100.0 %)" in svg_texts(svg.content)
    results = results_get(study=decided["study"], user=decided["bo"])
    assert svg.content == figure.taxonomy_figure(results=results, fmt="svg")
    bad = api.get("/api/studies/fig/results/figure", {"format": "gif"})
    assert bad.status_code == 400 and "svg, pdf, png" in str(bad.json())
    assert api.get("/api/studies/fig/results/figure.svg", {"stratum": "Nope"}).status_code == 400
    stranger = APIClient()
    stranger.force_authenticate(decided["stranger"])
    assert stranger.get("/api/studies/fig/results/figure.svg").status_code == 404


def test_the_api_figure_of_an_empty_study_says_there_is_nothing_yet(db):
    study = StudyFactory(slug="empty")
    owner = UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    api = APIClient()
    api.force_authenticate(owner)
    response = api.get("/api/studies/empty/results/figure.svg")
    assert response.status_code == 200
    assert svg_texts(response.content) == ["Nothing to draw yet: the taxonomy has no categories."]
