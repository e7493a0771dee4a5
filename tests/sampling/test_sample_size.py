"""The sample-size calculator against the published numbers and hand-computed cases."""

import json
import math

import pytest
from django.core.management import CommandError, call_command
from scipy.stats import norm

from sampling.sample_size import sample_size
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
    assert sample_size(population=500, proportion=0).n == 0  # no variance: nothing to estimate


def test_an_exact_integer_is_not_rounded_up_by_floating_point_noise(monkeypatch):
    # exact = 116.00000000000001 must give 116 with ceil
    monkeypatch.setattr("sampling.sample_size.NormalDist.inv_cdf", lambda self, q: math.sqrt(116 * 4 * 0.05**2))
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
def test_the_api(client):
    assert client.get("/api/sample-size/", {"population": 1325}).status_code in (401, 403)
    client.force_login(UserFactory())
    data = client.get("/api/sample-size/", {"population": 1533}).json()
    assert data["n"] == 308 and data["exact"] == pytest.approx(307.33, abs=0.005)
    bad = client.get("/api/sample-size/", {"population": 0})
    assert bad.status_code == 400 and "at least 1" in bad.json()["detail"]
    assert client.get("/api/sample-size/", {"population": "x"}).status_code == 400
