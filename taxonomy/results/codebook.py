"""The study's taxonomy as a REFI-QDA codebook (``.qdc``, QDA-XML codebook 1.0), the file
ATLAS.ti, MAXQDA, NVivo, QualCoder and Taguette import.

What goes in:

- **Codes**: the live tree the reader sees (``category_visible_q``; retired categories
  and categories cut off below one are left out), nested as in the tree, siblings in
  tree order. ``name`` is the category's name.
- **isCodable**: ``true`` for a leaf (a category with no live child, a childless root
  included), ``false`` for a root or inner category with children. REFI-QDA's
  isCodable says whether segments may be coded with the code; in this method a label
  names leaves only, the categories above them group those leaves.
- **Description**: the definition, then ``Inclusion: …`` and ``Exclusion: …`` as
  paragraphs of their own (separated by a blank line), each only when written; a
  proposal still awaiting approval says so in a last paragraph. No Description when
  there is nothing to say.
- **guid**: ``uuid5(CODEBOOK_NAMESPACE, "<study slug>/<category id>")``, upper case: the
  same study gives the same GUIDs, so two exports are byte-identical, and a tool that
  imports a newer export recognises its codes.
- Text XML cannot hold (control characters other than tab, newline and carriage return)
  is dropped; everything else, markup characters and right-to-left text included, is
  escaped by the XML writer.

The schema demands at least one code: a study whose tree is empty (for the reader) has
no codebook, and asking for one is a ValidationError that says so.
"""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import ValidationError
from lxml import etree

from annotator.studies.models import Study
from sampling.draws.sight import Sight, sight_for
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.paths import tree_shape
from taxonomy.tree.selectors import category_visible_q

QDC_NAMESPACE = "urn:QDA-XML:codebook:1.0"
CODEBOOK_NAMESPACE = uuid.UUID("4f0c7c2e-6a53-5d1e-9c1b-7a8d3e2f1b60")  # fixed: GUIDs must never change
ORIGIN = "Taxonomist"
CONTENT_TYPE = "application/xml"
PARAGRAPH = "\n\n"
PROPOSED_NOTE = "Proposed: awaiting approval by an owner or arbitrator."
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (the codebook's and the SVG figure's)."""
    return NOT_XML.sub("", text or "")


def code_guid(*, study: Study, category_id: int) -> str:
    """The category's GUID in the study's codebooks (the same at every export)."""
    return str(uuid.uuid5(CODEBOOK_NAMESPACE, f"{study.slug}/{category_id}")).upper()


def code_description(*, definition: str, inclusion: str, exclusion: str, proposed: bool = False) -> str:
    """The Description text: the definition, then the notes (the parts written, in that order)."""
    parts = [definition.strip()]
    if inclusion.strip():
        parts.append(f"Inclusion: {inclusion.strip()}")
    if exclusion.strip():
        parts.append(f"Exclusion: {exclusion.strip()}")
    if proposed:
        parts.append(PROPOSED_NOTE)
    return PARAGRAPH.join(part for part in parts if part)


def codebook_tree(*, study: Study, sight: Sight):
    """The ``CodeBook`` element."""
    categories = Category.objects.filter(category_visible_q(sight), study=study)
    shape = tree_shape(study=study, categories=categories)
    live = shape.live_order()
    if not live:
        raise ValidationError("The taxonomy has no categories yet: a REFI-QDA codebook needs at least one code.")
    texts = {row[0]: row[1:] for row in categories.filter(pk__in=live).values_list(
        "pk", "definition", "inclusion", "exclusion", "status")}
    book = etree.Element(f"{{{QDC_NAMESPACE}}}CodeBook", nsmap={None: QDC_NAMESPACE})
    book.set("origin", ORIGIN)
    codes = etree.SubElement(book, f"{{{QDC_NAMESPACE}}}Codes")
    elements = {None: codes}
    for category_id in live:  # parents before children
        row = shape.rows[category_id]
        definition, inclusion, exclusion, status = texts[category_id]
        code = etree.SubElement(elements[row.parent_id], f"{{{QDC_NAMESPACE}}}Code")
        code.set("guid", code_guid(study=study, category_id=category_id))
        code.set("name", xml_text(row.name))
        code.set("isCodable", "true" if shape.is_leaf(category_id) else "false")
        description = code_description(definition=xml_text(definition), inclusion=xml_text(inclusion),
                                       exclusion=xml_text(exclusion), proposed=status == CategoryStatus.PROPOSED)
        if description:
            etree.SubElement(code, f"{{{QDC_NAMESPACE}}}Description").text = description
        elements[category_id] = code
    return book


def codebook_qdc(*, study: Study, user=None, sight: Sight | None = None) -> bytes:
    """The codebook as ``user`` (or ``sight``) sees the tree: UTF-8 XML with a declaration."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    return etree.tostring(codebook_tree(study=study, sight=sight), xml_declaration=True, encoding="utf-8",
                          pretty_print=True)


def codebook_filename(*, study: Study) -> str:
    return f"{study.slug}-codebook.qdc"
