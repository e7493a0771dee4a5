"""The REFI-QDA codebook (.qdc): the live tree the reader sees, with definitions, valid
against the standard's schema, the same bytes at every export."""

import re
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from lxml import etree
from rest_framework.test import APIClient

from conftest import need
from sampling.draws.sight import sight_whole
from taxonomy.results.codebook import (
    CODEBOOK_NAMESPACE,
    QDC_NAMESPACE,
    code_guid,
    codebook_qdc,
)
from taxonomy.tree.services import category_add, category_rename, category_retire
from tests.factories import MembershipFactory, StudyFactory, UserFactory

SCHEMA = Path(__file__).resolve().parents[3].parent / "shared" / "refi-qda" / "Codebook.xsd"
Q = f"{{{QDC_NAMESPACE}}}"
GUID = r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$"


@pytest.fixture(scope="module")
def codebook_schema():
    need(SCHEMA.exists(), f"{SCHEMA} is not there (the REFI-QDA schema beside the repo)")
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


@pytest.fixture
def tree(db):
    """Server (defined, with notes) › {Export (hostile name), Serving › {REST, gRPC}}; Mobile (no
    children); a retired root; a rater's private proposal; names and notes that XML must escape."""
    study = StudyFactory(slug="qdc", name="Codebook study")
    owner, ana, bo = UserFactory(username="olga"), UserFactory(username="ana"), UserFactory(username="bo")
    MembershipFactory(study=study, user=owner, is_owner=True)
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    server = category_add(study=study, name="Server/Cloud", actor=owner, definition="Deploying to servers.",
                          inclusion="Cloud platforms, \"serving\" & <REST> APIs.", exclusion="Mobile devices.")
    export = category_add(study=study, name='Export <&> "ONNX" \'x\' שלום', parent=server, actor=owner,
                          definition="Converting a model\nto another format.\x0b(with a vertical tab)")
    serving = category_add(study=study, name="Serving", parent=server, actor=owner, exclusion="Training.")
    rest = category_add(study=study, name="REST", parent=serving, actor=owner)
    grpc = category_add(study=study, name="gRPC", parent=serving, actor=owner, inclusion="Protocol buffers.")
    mobile = category_add(study=study, name="Mobile", actor=owner)
    gone = category_add(study=study, name="Gone", actor=owner)
    category_retire(category=gone, actor=owner)
    private = category_add(study=study, name="Ana's idea", parent=server, actor=ana, proposed=True)
    return locals()


def codes(document) -> list:
    return list(document.iter(f"{Q}Code"))


def description(code) -> str | None:
    element = code.find(f"{Q}Description")
    return None if element is None else element.text


def test_the_structure_names_definitions_and_codability(tree):
    content = codebook_qdc(study=tree["study"], user=tree["bo"])
    assert content.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<CodeBook")
    document = etree.fromstring(content)
    assert document.tag == f"{Q}CodeBook" and document.get("origin") == "Taxonomist"
    [codes_element] = document
    assert codes_element.tag == f"{Q}Codes"
    roots = list(codes_element)
    assert [r.get("name") for r in roots] == ["Server/Cloud", "Mobile"]  # the retired root is left out
    server, mobile = roots
    assert [c.get("name") for c in server.findall(f"{Q}Code")] == ['Export <&> "ONNX" \'x\' שלום', "Serving"]
    serving = server.findall(f"{Q}Code")[1]
    assert [c.get("name") for c in serving.findall(f"{Q}Code")] == ["REST", "gRPC"]
    codable = {c.get("name"): c.get("isCodable") for c in codes(document)}
    assert codable == {"Server/Cloud": "false", 'Export <&> "ONNX" \'x\' שלום': "true", "Serving": "false",
                       "REST": "true", "gRPC": "true", "Mobile": "true"}  # a childless root is a leaf
    assert "Ana's idea" not in codable  # another rater's private proposal
    assert description(server) == ("Deploying to servers.\n\nInclusion: Cloud platforms, \"serving\" & <REST> "
                                   "APIs.\n\nExclusion: Mobile devices.")
    export = server.find(f"{Q}Code")
    assert description(export) == "Converting a model\nto another format.(with a vertical tab)"
    assert description(serving) == "Exclusion: Training."
    assert description(mobile) is None and server[0].tag == f"{Q}Description"  # Description comes first
    ids = {c.get("name"): c.get("guid") for c in codes(document)}
    assert ids["REST"] == str(uuid.uuid5(CODEBOOK_NAMESPACE, f"qdc/{tree['rest'].pk}")).upper()
    assert len(set(ids.values())) == len(ids)
    assert all(re.match(GUID, guid) for guid in ids.values())


def test_two_exports_are_byte_identical_and_guids_depend_only_on_slug_and_id(tree):
    first = codebook_qdc(study=tree["study"], user=tree["bo"])
    assert codebook_qdc(study=tree["study"], user=tree["bo"]) == first
    guid = code_guid(study=tree["study"], category_id=tree["rest"].pk)
    category_rename(category=tree["rest"], name="REST APIs", actor=tree["owner"])
    renamed = etree.fromstring(codebook_qdc(study=tree["study"], user=tree["bo"]))
    assert {c.get("name"): c.get("guid") for c in codes(renamed)}["REST APIs"] == guid
    other = StudyFactory(slug="other")
    assert code_guid(study=other, category_id=tree["rest"].pk) != guid


def test_the_proposer_and_approvers_see_the_proposal_marked_as_such(tree):
    for reader in ({"user": tree["ana"]}, {"sight": sight_whole(study=tree["study"])}):
        document = etree.fromstring(codebook_qdc(study=tree["study"], **reader))
        idea = next(c for c in codes(document) if c.get("name") == "Ana's idea")
        assert idea.get("isCodable") == "true"
        assert description(idea) == "Proposed: awaiting approval by an owner or arbitrator."


def test_it_validates_against_the_refi_qda_schema(tree, codebook_schema):
    for reader in ({"user": tree["bo"]}, {"user": tree["ana"]}, {"sight": sight_whole(study=tree["study"])}):
        codebook_schema.assertValid(etree.fromstring(codebook_qdc(study=tree["study"], **reader)))
    # the schema is really checked: a code without its guid is refused
    broken = etree.fromstring(codebook_qdc(study=tree["study"], user=tree["bo"]))
    del broken.find(f"{Q}Codes/{Q}Code").attrib["guid"]
    assert not codebook_schema.validate(broken)


def test_an_empty_tree_has_no_codebook_and_says_why(db, codebook_schema):
    study = StudyFactory(slug="bare")
    owner = UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    with pytest.raises(ValidationError, match="no categories yet"):
        codebook_qdc(study=study, user=owner)
    api = APIClient()
    api.force_authenticate(owner)
    response = api.get("/api/studies/bare/results/codebook.qdc")
    assert response.status_code == 400 and "at least one code" in str(response.json())
    only = category_add(study=study, name="Only", actor=owner)
    codebook_schema.assertValid(etree.fromstring(codebook_qdc(study=study, user=owner)))
    assert etree.fromstring(codebook_qdc(study=study, user=owner)).find(f"{Q}Codes/{Q}Code").get("guid") == \
        code_guid(study=study, category_id=only.pk)


def test_page_and_api_download_the_same_file(client, tree):
    client.force_login(tree["bo"])
    page = client.get(reverse("results:codebook", args=["qdc"]))
    assert page.status_code == 200 and page["Content-Type"] == "application/xml"
    assert page["Content-Disposition"] == 'attachment; filename="qdc-codebook.qdc"'
    api = APIClient()
    api.force_authenticate(tree["bo"])
    response = api.get("/api/studies/qdc/results/codebook.qdc")
    assert response.status_code == 200 and response.content == page.content
    assert response.content == codebook_qdc(study=tree["study"], user=tree["bo"])
    results_page = client.get(reverse("results:home", args=["qdc"])).content.decode()
    assert f'href="{reverse("results:codebook", args=["qdc"])}"' in results_page
    stranger = APIClient()
    stranger.force_authenticate(UserFactory())
    assert stranger.get("/api/studies/qdc/results/codebook.qdc").status_code == 404
