"""The results step over a small study coded through the services: labels, arbitration,
final labels; the page, the API, the taxonomy CSV and ``manage.py export_taxonomy``."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.results.selectors import results_get
from taxonomy.results.taxonomy_csv import TAXONOMY_COLUMNS
from tests.factories import StudyFactory, UserFactory


def test_results_before_arbitration_count_nothing_and_say_so(coded):
    results = results_get(study=coded["study"], user=coded["owner"])
    assert results.counts.items == 6 and results.counts.undecided == 6 and results.counts.decided == 0
    assert all(node.posts == 0 for node in results.counts.nodes)


def test_final_counts_percentages_and_specials(coded):
    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    results = results_get(study=coded["study"], user=coded["viewer"])
    c = results.counts
    assert (c.items, c.decided, c.false_positive, c.unclear, c.undecided, c.covered, c.multi_category) == \
        (6, 5, 1, 1, 1, 3, 1)
    posts = {node.path(): (node.posts, node.root_posts, node.percent_of_root) for node in c.nodes}
    assert posts == {
        "Server": (3, 3, Decimal("100.0")), 'Server > Export, "ONNX"': (3, 3, Decimal("100.0")),
        "Server > Serving": (0, 3, Decimal("0.0")), "Mobile": (1, 1, Decimal("100.0")),
        "Mobile > Quantization": (1, 1, Decimal("100.0"))}


def test_taxonomy_csv_page_api_and_command_give_the_same_file(coded, tmp_path):
    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    client = APIClient()
    client.force_authenticate(coded["ana"])
    api = b"".join(client.get("/api/studies/res/results/taxonomy.csv").streaming_content)
    client.force_login(coded["ana"])
    page = client.get(reverse("results:taxonomy_csv", args=["res"]))
    assert page["Content-Disposition"] == 'attachment; filename="res-taxonomy.csv"'
    page = b"".join(page.streaming_content)
    call_command("export_taxonomy", "--study", "res", "--out", str(tmp_path / "t.csv"))
    assert api == page == (tmp_path / "t.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(api.decode("utf-8"))))
    assert tuple(rows[0]) == TAXONOMY_COLUMNS
    export = next(r for r in rows if r["name"] == 'Export, "ONNX"')
    server = next(r for r in rows if r["name"] == "Server")
    assert export["parent_id"] == server["id"] and export["level"] == "leaf" and export["depth"] == "1"
    assert export["path"] == 'Server > Export, "ONNX"' and export["definition"] == "'=HYPERLINK(\"x\")"
    assert (export["posts"], export["root_posts"], export["percent_of_root"]) == ("3", "3", "100.0")
    assert server["level"] == "root" and server["parent_id"] == ""
    specials = {r["name"]: (r["level"], r["posts"], r["root_posts"], r["percent_of_root"]) for r in rows[-3:]}
    assert specials == {"False positive": ("special", "1", "6", "16.7"), "Unclear": ("special", "1", "6", "16.7"),
                        "Pending": ("special", "0", "6", "0.0")}
    excel = tmp_path / "x.csv"
    call_command("export_taxonomy", "--study", "res", "--out", str(excel), "--excel")
    assert excel.read_bytes() == b"\xef\xbb\xbf" + api


def test_scope_filters_and_bad_scopes(coded):
    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    client = APIClient()
    client.force_authenticate(coded["owner"])
    one = client.get("/api/studies/res/results/", {"draw": 1, "stratum": "Stratum"}).json()
    assert one["draws"] == [1] and one["stratum"] == "Stratum" and one["items"] == 6 and one["covered"] == 3
    assert client.get("/api/studies/res/results/", {"draw": 7}).status_code == 400
    bad = client.get("/api/studies/res/results/", {"stratum": "Nope"})
    assert bad.status_code == 400 and "Stratum" in str(bad.json())
    assert client.get("/api/studies/res/results/", {"draw": "x"}).status_code == 400
    with pytest.raises(CommandError, match="No study"):
        call_command("export_taxonomy", "--study", "missing")
    with pytest.raises(CommandError, match="no drawn version v9"):
        call_command("export_taxonomy", "--study", "res", "--draw", "9")
    stranger = APIClient()
    stranger.force_authenticate(UserFactory(username="stranger"))
    assert stranger.get("/api/studies/res/results/").status_code == 404


def test_results_page_shows_counts_and_names_the_undecided(client, coded):
    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    client.force_login(coded["bo"])
    html = client.get(reverse("results:home", args=["res"])).content.decode()
    assert '<dd id="false-positive">1</dd>' in html and '<dd id="multi-category">1</dd>' in html
    assert "1 item is not decided yet" in html
    export = FinalLabel.objects.filter(categories__category=coded["export"]).count()
    assert export == 3 and '<td class="num posts">3</td>' in html and "100.0 %" in html
    # the taxonomy page shows the same final counts
    tree = client.get(reverse("tree:index", args=["res"])).content.decode()
    assert 'title="posts with a final label in it or below it (the results)">3 posts' in tree
    bad = client.get(reverse("results:home", args=["res"]), {"draw": "8"}).content.decode()
    assert "no drawn version v8" in bad


def test_an_empty_study_has_valid_empty_results(db, tmp_path):
    study = StudyFactory(slug="empty")
    call_command("export_taxonomy", "--study", "empty", "--out", str(tmp_path / "e.csv"))
    rows = list(csv.reader(io.StringIO((tmp_path / "e.csv").read_text())))
    assert tuple(rows[0]) == TAXONOMY_COLUMNS and [r[5] for r in rows[1:]] == ["False positive", "Unclear", "Pending"]
    assert results_get(study=study, user=None).counts.items == 0
