"""The sample-size calculator against the published numbers and hand-computed cases."""

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from scipy.stats import norm

from sampling.draws.sample_size import sample_size
from tests.factories import UserFactory

N0_95_5 = 1.959963984540054**2 * 0.25 / 0.05**2  # 384.1458820694124


@pytest.mark.parametrize(
    "population, exact, ceil, floor, nearest",
    [
        (1325, 297.98, 298, 297, 298),  # published: 297.98
        (1533, 307.33, 308, 307, 307),  # published: 307.33
        (165, 115.63, 116, 115, 116),  # the study's 165 browser questions
        (39628, 380.47, 381, 380, 380),
        (1, 1.0, 1, 1, 1),
    ],
)
def test_published_and_hand_computed_cases_in_every_rounding_mode(population, exact, ceil, floor, nearest):
    # Hand: n = n0 / (1 + (n0 - 1)/N) with n0 = 1.96^2 * 0.25 / 0.0025
    assert N0_95_5 / (1 + (N0_95_5 - 1) / population) == pytest.approx(exact, abs=0.005)
    for rounding, expected in (("ceil", ceil), ("floor", floor), ("nearest", nearest)):
        result = sample_size(population=population, rounding=rounding)
        assert result.exact == pytest.approx(exact, abs=0.005)
        assert result.n == expected, rounding
    assert sample_size(population=population).n0 == pytest.approx(384.1459, abs=1e-4)


def test_a_large_population_tends_to_n0():
    result = sample_size(population=10**12)
    assert result.exact == pytest.approx(384.1459, abs=1e-3) and result.n == 385


def test_z_is_the_exact_normal_quantile():
    assert sample_size(population=1000, confidence=0.99).z == pytest.approx(norm.ppf(0.995))
    assert sample_size(population=1000).z == pytest.approx(1.959964, abs=1e-6)


def test_other_margins_and_proportions():
    result = sample_size(population=10_000, confidence=0.9, margin=0.03, proportion=0.3)
    n0 = norm.ppf(0.95) ** 2 * 0.3 * 0.7 / 0.03**2
    assert result.n0 == pytest.approx(n0)
    assert result.n == math.ceil(n0 / (1 + (n0 - 1) / 10_000))


@pytest.mark.parametrize("population", [1, 2, 500, 10**40])
@pytest.mark.parametrize("proportion", [0, 1, 0.0, 1.0])
@pytest.mark.parametrize("rounding", ["ceil", "floor", "nearest"])
def test_p_0_or_1_needs_no_variance_but_one_post_to_estimate_anything(population, proportion, rounding):
    # n0 = 0: the variance bound holds for every sample (exact 0, also for N = 1 where the
    # written formula is 0/0), but p-hat = x/n needs n >= 1
    result = sample_size(population=population, proportion=proportion, rounding=rounding)
    assert (result.n0, result.exact, result.n) == (0, 0, 1)
    assert "n₀ = 0" in result.note and "at least one post" in result.note


@pytest.mark.parametrize("proportion", [0.5, 0.01, 1e-12, 0.999])
@pytest.mark.parametrize("rounding", ["ceil", "floor", "nearest"])
def test_a_population_of_one_is_a_census_of_one(proportion, rounding):
    result = sample_size(population=1, proportion=proportion, rounding=rounding)
    assert result.exact == 1 and result.n == 1


def test_a_bound_below_one_post_gives_one_post_and_says_so():
    result = sample_size(population=1000, proportion=1e-6, rounding="floor")
    assert 0 < result.exact < 0.01 and result.n == 1 and "no post at all" in result.note
    assert sample_size(population=1000, proportion=1e-6).n == 1  # ceil already gives one post
    low = sample_size(population=100, confidence=1e-20)  # 1 - (1 - c)/2 rounds to 0.5: z = 0
    assert low.z == 0 and low.n0 == 0 and low.n == 1 and "confidence level this low" in low.note
    assert sample_size(population=1325).note == ""


def _smallest_n_by_search(population, n0):
    """Independently: the smallest n in 1..N whose finite-population variance
    p(1-p)/n * (N-n)/(N-1) is within (e/z)^2, i.e. n*(N - 1 + n0) >= n0*N, in exact arithmetic."""
    n0 = Fraction(n0)
    return next(n for n in range(1, population + 1) if n * (population - 1 + n0) >= n0 * population)


@pytest.mark.parametrize("population", [1, 2, 3, 7, 50, 165, 1325])
@pytest.mark.parametrize("confidence, margin, proportion", [
    (0.95, 0.05, 0.5), (0.99, 0.01, 0.5), (0.9, 0.3, 0.1), (0.95, 0.05, 0), (0.95, 0.05, 1), (0.95, 0.5, 1e-4),
    (0.999, 0.001, 0.3),
])
def test_ceil_is_the_smallest_sample_meeting_the_variance_bound(population, confidence, margin, proportion):
    z = norm.ppf(1 - (1 - confidence) / 2)
    n0 = z * z * proportion * (1 - proportion) / margin**2
    result = sample_size(population=population, confidence=confidence, margin=margin, proportion=proportion)
    assert result.n0 == pytest.approx(n0, rel=1e-12, abs=1e-12)
    assert result.n == _smallest_n_by_search(population, result.n0)


def test_extreme_but_valid_inputs_give_a_number():
    huge = sample_size(population=10**400)  # beyond a float: the correction is exact rational arithmetic
    assert huge.exact == pytest.approx(N0_95_5, rel=1e-12) and huge.n == 385
    near_one = sample_size(population=10**6, confidence=0.9999999999999999)  # 1 - (1 - c)/2 would round to 1
    assert near_one.z == pytest.approx(norm.isf((1 - 0.9999999999999999) / 2)) and near_one.n > 6000
    tiny_margin = sample_size(population=1000, margin=1e-150)  # n0 ~ 1e300: a census
    assert tiny_margin.n == 1000 and tiny_margin.exact == pytest.approx(1000)
    wide = sample_size(population=1000, margin=0.999999)
    assert wide.n == 1 and wide.exact == pytest.approx(0.96 / 0.999999**2, abs=0.01)


def test_an_exact_integer_is_not_rounded_up_by_floating_point_noise(monkeypatch):
    # exact = 116.00000000000001 must give 116 with ceil
    monkeypatch.setattr("sampling.draws.sample_size.NormalDist.inv_cdf", lambda self, q: math.sqrt(116 * 4 * 0.05**2))
    assert sample_size(population=10**15).n == 116


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"population": 0}, "at least 1"),
        ({"population": 10, "confidence": 1}, "confidence"),
        ({"population": 10, "confidence": 0}, "confidence"),
        ({"population": 10, "margin": 0}, "margin"),
        ({"population": 10, "margin": 1}, "margin"),
        ({"population": 10, "proportion": 1.2}, "proportion"),
        ({"population": 10, "proportion": -0.1}, "proportion"),
        ({"population": 10, "rounding": "up"}, "Rounding"),
        ({"population": 10.5}, "whole number"),
        ({"population": -5}, "at least 1"),
        ({"population": float("inf")}, "whole number"),
        ({"population": float("nan")}, "whole number"),
        ({"population": "10"}, "whole number"),
        ({"population": 10, "confidence": float("nan")}, "confidence must be a finite number"),
        ({"population": 10, "margin": float("inf")}, "margin must be a finite number"),
        ({"population": 10, "proportion": float("nan")}, "proportion must be a finite number"),
        ({"population": 10, "margin": 1e-200}, "too small"),  # e² underflows to 0: n0 would be infinite
    ],
)
def test_bad_input_says_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size(**kwargs)


def test_the_command(capsys):
    call_command("samplesize", "--population", "1325", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 298 and out["population"] == 1325
    assert out["exact"] == pytest.approx(297.98, abs=0.005) and out["n0"] == pytest.approx(384.1459, abs=1e-4)
    assert set(out) == {"population", "n0", "exact", "n"}
    call_command("samplesize", "--population", "1533", "--rounding", "floor")
    assert capsys.readouterr().out.strip() == "307"
    with pytest.raises(CommandError, match="margin"):
        call_command("samplesize", "--population", "100", "--margin", "0")


def test_the_command_on_degenerate_input(capsys):
    call_command("samplesize", "--population", "1", "--proportion", "0", "--json")
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"population": 1, "n0": 0.0, "exact": 0.0, "n": 1}
    assert "at least one post" in captured.err  # the reason, outside the JSON
    call_command("samplesize", "--population", "1", "--proportion", "1")
    assert capsys.readouterr().out.strip() == "1"
    for args, message in ((["--margin", "1e-200"], "too small"), (["--confidence", "nan"], "confidence"),
                          (["--population", "-1"], "at least 1"), (["--proportion", "inf"], "proportion")):
        with pytest.raises(CommandError, match=message):
            call_command("samplesize", *(["--population", "10"] + args))


@pytest.mark.parametrize("args, code, message", [
    (["--population", "1", "--proportion", "0"], 0, ""),
    (["--population", "10", "--margin", "1e-300"], 1, "too small"),
    (["--population", "0"], 1, "at least 1"),
    (["--population", "ten"], 2, "invalid int value"),
])
def test_the_command_exit_status_and_no_traceback(args, code, message):
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    done = subprocess.run([sys.executable, str(manage), "samplesize", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and message in done.stderr
    if code == 0:
        assert done.stdout.strip() == "1"


@pytest.mark.django_db
def test_the_page_and_its_htmx_fragment(client):
    client.force_login(UserFactory())
    page = client.get("/tools/sample-size/", {"population": 1325})
    assert page.status_code == 200 and b'class="sample-n">298<' in page.content and b"<html" in page.content
    fragment = client.get("/tools/sample-size/", {"population": 165, "rounding": "floor"},
                          headers={"HX-Request": "true"})
    assert b'class="sample-n">115<' in fragment.content and b"<html" not in fragment.content
    bad = client.get("/tools/sample-size/", {"population": 100, "confidence": 1.5}, headers={"HX-Request": "true"})
    assert b"confidence level must be between 0 and 1" in bad.content
    assert client.get("/tools/sample-size/").status_code == 200  # empty form


@pytest.mark.django_db
def test_the_page_on_degenerate_input(client):
    client.force_login(UserFactory())
    hx = {"HX-Request": "true"}
    for proportion in ("0", "1"):
        page = client.get("/tools/sample-size/", {"population": 1, "proportion": proportion}, headers=hx)
        assert page.status_code == 200 and b'class="sample-n">1<' in page.content
        assert "n₀ = 0" in page.content.decode() and "at least one post" in page.content.decode()
    for value in ("nan", "inf", "-Infinity"):
        bad = client.get("/tools/sample-size/", {"population": 10, "margin": value}, headers=hx)
        assert bad.status_code == 200 and b"Margin of error: Enter a number." in bad.content
        assert b"sample-n" not in bad.content
    bad = client.get("/tools/sample-size/", {"population": 10, "margin": "1e-200"}, headers=hx)
    assert b"too small" in bad.content and b"sample-n" not in bad.content
    assert b"Population N: Enter a whole number." in client.get("/tools/sample-size/", {"population": "1.5"},
                                                                  headers=hx).content


@pytest.mark.django_db
def test_the_api(client):
    assert client.get("/api/sample-size/", {"population": 1325}).status_code in (401, 403)
    client.force_login(UserFactory())
    data = client.get("/api/sample-size/", {"population": 1533}).json()
    assert data["n"] == 308 and data["exact"] == pytest.approx(307.33, abs=0.005)
    bad = client.get("/api/sample-size/", {"population": 0})
    assert bad.status_code == 400 and "at least 1" in bad.json()["detail"][0]
    assert client.get("/api/sample-size/", {"population": "x"}).status_code == 400


@pytest.mark.django_db
def test_the_api_on_degenerate_input(client):
    client.force_login(UserFactory())
    for proportion in (0, 1):
        data = client.get("/api/sample-size/", {"population": 1, "proportion": proportion}).json()
        assert (data["n0"], data["exact"], data["n"]) == (0, 0, 1) and "at least one post" in data["note"]
    assert client.get("/api/sample-size/", {"population": 1325}).json()["note"] == ""
    assert client.get("/api/sample-size/", {"population": "1" + "0" * 400}).json()["n"] == 385
    for params, field, message in (
        ({"population": 10, "margin": "nan"}, "margin", "valid number"),
        ({"population": 10, "confidence": "inf"}, "confidence", "valid number"),
        ({"population": 10, "proportion": "-inf"}, "proportion", "valid number"),
        ({"population": 10, "margin": "1e-200"}, "detail", "too small"),
        ({"population": -1}, "detail", "at least 1"),
        ({"population": 10, "confidence": 0}, "detail", "confidence"),
        ({"population": 10, "rounding": "up"}, "rounding", "not a valid choice"),
    ):
        bad = client.get("/api/sample-size/", params)
        assert bad.status_code == 400, params
        assert message in str(bad.json()[field]), bad.json()
