"""The ratings CSV reader and ``manage.py agreement`` (no database involved)."""

import json

import pytest
from django.core.management import CommandError, call_command

from taxonomy.review.agreement.csv_input import RatingsCsvError, parse_ratings_csv

SMALL = """item,rater,label
p1,alice,Model export
p1,bob,Model export
p2,alice,Model export
p2,alice,Quantization
p2,bob,Quantization
p3,alice,False positive
p3,bob,False positive
p4,alice,Unclear
p4,bob,Pending
p5,alice,Quantization
p5,bob,Quantization
p6,alice,Model export
"""


def test_parse_tolerates_bom_whitespace_blank_lines_and_repeated_rows():
    data = "\ufeff item , rater , label \r\n p1 , alice , Model export \r\n\r\np1,alice,Model export\np1,bob,Ünïcode\n"
    assert parse_ratings_csv(data=data.encode()) == [("p1", "alice", "Model export"), ("p1", "bob", "Ünïcode")]


def test_parse_keeps_every_label_of_a_multi_label_answer():
    triples = parse_ratings_csv(data=SMALL.encode())
    assert len(triples) == 12 and ("p2", "alice", "Quantization") in triples


def test_a_file_with_only_the_header_has_no_ratings():
    assert parse_ratings_csv(data=b"item,rater,label\n") == []


@pytest.mark.parametrize("data, line, words", [
    (b"", 1, "empty"),
    (b"\xef\xbb\xbf\n", 1, "empty"),
    (b"post,rater,label\np1,a,x\n", 1, "header"),
    (b"p1,a,x\n", 1, "header"),
    (b"item,rater,label\np1,a,x\np2,a\n", 3, "3 fields"),
    (b"item,rater,label\np1,a,x,y\n", 2, "3 fields"),
    (b"item,rater,label\np1,a,x\n\np2, ,x\n", 4, "rater is empty"),
    (b"item,rater,label\np1,a,x\np2,a,\xe9t\xe9\n", 3, "UTF-8"),
    (b'item,rater,label\np1,a,"x\n', 2, "malformed"),
])
def test_malformed_input_names_the_line(data, line, words):
    with pytest.raises(RatingsCsvError) as caught:
        parse_ratings_csv(data=data)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ") and words in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(SMALL, encoding="utf-8")
    return path


def run_json(path, *args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("agreement", str(path), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_command_json_keys_and_values(small_csv):
    data = run_json(small_csv, "--resamples", "200", "--seed", "5")
    for key in ("items", "raters", "percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha",
                "per_category"):
        assert key in data
    assert (data["items"], data["raters"], data["rater_names"]) == (6, 2, ["alice", "bob"])
    # p1..p5 both rated; the sets agree on p1, p3, p5; p6 has one rating and is left out
    assert data["percent_agreement"] == pytest.approx(3 / 5)
    # A: {ME}, {ME,Q}, {FP}, {U}, {Q};  B: {ME}, {Q}, {FP}, {P}, {Q};  p_e = .04 + .08 + .04
    assert data["cohen_kappa"] == pytest.approx((0.6 - 0.16) / 0.84)
    assert data["fleiss_kappa"] is not None and data["krippendorff_alpha"] is not None
    assert data["krippendorff_alpha_masi"] > data["krippendorff_alpha"]  # {ME,Q} vs {Q} is a partial match
    categories = {c["label"]: c for c in data["per_category"]}
    assert set(categories) == {"Model export", "Quantization", "False positive", "Unclear", "Pending"}
    assert categories["False positive"]["cohen_kappa"] == 1.0
    assert categories["Unclear"]["confused_with"] == [{"label": "Pending", "count": 1}]
    assert categories["Model export"]["items"] == 3
    low, high = data["confidence_intervals"]["cohen_kappa"]
    assert low <= data["cohen_kappa"] <= high
    assert run_json(small_csv, "--resamples", "200", "--seed", "5") == data


def test_command_json_three_raters_has_no_cohen_kappa(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("item,rater,label\n" + "".join(f"p{i},{r},{'a' if (i + (r == 'z')) % 3 else 'b'}\n"
                                                   for i in range(9) for r in "xyz"))
    data = run_json(path, "--resamples", "0")
    assert data["raters"] == 3 and data["cohen_kappa"] is None and "two raters" in data["reasons"]["cohen_kappa"]
    assert data["fleiss_kappa"] is not None
    assert data["confidence_intervals"]["fleiss_kappa"] is None


def test_command_a_rater_with_one_label_only_gives_null_and_the_reason(tmp_path, capsys):
    path = tmp_path / "constant.csv"
    path.write_text("item,rater,label\n" + "".join(f"p{i},x,Export\np{i},y,{'Export' if i % 3 else 'Serving'}\n"
                                                   for i in range(9)))
    data = run_json(path, "--resamples", "100")
    assert {"items", "raters", "percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha",
            "per_category"} <= set(data)
    assert data["cohen_kappa"] is None and data["confidence_intervals"]["cohen_kappa"] is None
    assert "one rater gave every item the same label set" in data["reasons"]["cohen_kappa"]
    assert "0 by construction" in data["reasons"]["cohen_kappa"]
    assert data["percent_agreement"] == pytest.approx(6 / 9) and data["krippendorff_alpha"] is not None
    categories = {c["label"]: c for c in data["per_category"]}
    assert categories["Serving"]["cohen_kappa"] is None
    assert categories["Serving"]["reasons"]["cohen_kappa"].startswith("one rater used it on no item")
    assert categories["Export"]["reasons"]["cohen_kappa"].startswith("one rater used it on every item")
    call_command("agreement", str(path), "--resamples", "0")
    out = capsys.readouterr().out
    assert "n/a" in out and "κ is 0 by construction" in out
    assert "Cohen κ n/a: one rater used it on no item" in out and "nan" not in out.lower()


def test_command_json_with_no_ratings(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("item,rater,label\n")
    data = run_json(path)
    assert data["items"] == 0 and data["percent_agreement"] is None and data["per_category"] == []


def test_command_prints_a_readable_report(small_csv, capsys):
    call_command("agreement", str(small_csv), "--resamples", "100")
    out = capsys.readouterr().out
    assert "6 items, 2 raters (alice, bob), 5 labels" in out
    assert "Percent agreement" in out and "60.0 %" in out
    assert "Cohen's κ" in out and "0.524" in out
    assert "Per category" in out and "Unclear" in out and "nan" not in out.lower()
    # bob never said Unclear: its present/absent κ comes with the reason, not a bare n/a
    assert "Cohen κ n/a: one rater used it on no item" in out


def test_command_malformed_csv_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("item,rater,label\np1,a,x\np2,a\n")
    with pytest.raises(CommandError, match="line 3: expected 3 fields"):
        call_command("agreement", str(path), "--json")


def test_command_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("agreement", str(tmp_path / "nope.csv"))


def test_manage_py_exits_non_zero_with_the_line_on_stderr(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "bad.csv"
    path.write_bytes(b"item,rater,label\np1,a,\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "manage.py", "agreement", str(path)], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "line 2: the label is empty" in done.stderr and done.stdout == ""
