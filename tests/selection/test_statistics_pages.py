"""Statistics pages of question sets: the figures of a hand-made set, the CSV,
SVG and PNG downloads, the comparison of two sets with its χ² test, empty
sets (never NaN), and who may see any of it."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from scipy.stats import chi2_contingency

from annotator.corpus.models import Post
from sampling.question_sets.models import QuestionSet, QuestionSetMember
from sampling.question_sets.reports import p_value_text, statistic_text
from sampling.question_sets.statistics import two_proportion_test
from tests.factories import AnswerFactory, MembershipFactory, PostFactory, QuestionSetFactory, StudyFactory

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def evaluated_set(study, questions, name) -> QuestionSet:
    """A set with these members, as an evaluation would leave it (the rule is not under test)."""
    question_set = QuestionSetFactory(study=study, name=name, evaluated_at=timezone.now(),
                                      member_count=len(questions), funnel=[])
    QuestionSetMember.objects.bulk_create(QuestionSetMember(question_set=question_set, post=q) for q in questions)
    return question_set


def question(study, *, created, owner, answered_after=None, **fields):
    """A question; with ``answered_after`` (a timedelta) its accepted answer, created that long after it."""
    q = PostFactory(study=study, creation_date=created, owner_user_id=owner, **fields)
    if answered_after is not None:
        answer = AnswerFactory(question=q, creation_date=created + answered_after)
        q.accepted_answer_so_id = answer.so_id
        q.save(update_fields=["accepted_answer_so_id"])
    return q


@pytest.fixture
def study():
    return StudyFactory(slug="stats-study")


@pytest.fixture
def four(study):
    """3 of 4 questions without an accepted answer; one answered in 2 hours;
    one question without a date and without an owner."""
    return evaluated_set(study, [
        question(study, created=at(2020, 1, 1, 10), owner=1, answered_after=timedelta(hours=2)),
        question(study, created=at(2020, 6, 1), owner=1),
        question(study, created=at(2022, 3, 1), owner=2),
        question(study, created=None, owner=None),
    ], name="C (cloud)")


@pytest.fixture
def empty(study):
    return evaluated_set(study, [], name="Empty")


def login(client, study, **roles):
    member = MembershipFactory(study=study, **roles)
    client.force_login(member.user)
    return member.user


def base(study) -> str:
    return f"/studies/{study.slug}/sets/"


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))


def no_nan(text: str) -> bool:
    return re.search(r"\bnan\b|\binf\b", text, re.IGNORECASE) is None


def attachment_name(response) -> str:
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    return re.search(r'filename="([^"]+)"', disposition).group(1)


# -- one set --------------------------------------------------------------------


def test_statistics_page_shows_the_sets_figures(client, study, four):
    login(client, study)
    page = client.get(f"{base(study)}{four.pk}/statistics/").content.decode()
    assert "3 of 4 questions, 75.0 %" in page
    rows = re.findall(r"<tr><td>(\d{4})</td><td>(\d+)</td><td>(\d+)</td></tr>", page)
    assert rows == [("2020", "2", "1"), ("2021", "0", "0"), ("2022", "1", "1")]
    assert "<tfoot><tr><th>All</th><th>4</th><th>2</th></tr></tfoot>" in page
    assert 'Without a creation date: <span class="without-date">1</span>' in page
    assert 'without an owner: <span class="without-owner">1</span>' in page
    # Response times: one measured, 2 hours; the others have no accepted answer.
    assert "Median <strong>2.0 h</strong>" in page and "n = 1." in page
    assert "<th>Median</th><td>2.00 h</td>" in page
    assert "<th>Without an accepted answer</th><td>3</td>" in page
    assert "<th>Skipped: answer not in the study</th><td>0</td>" in page
    assert "<th>Skipped: answer created before the question</th><td>0</td>" in page
    # Charts served by our own views (CSP img-src 'self'), each downloadable in two formats.
    charts = f"{base(study)}{four.pk}/statistics/"
    for chart, query in (("years", "?period=year&amp;"), ("response-times", "?")):
        assert f'src="{charts}{chart}.svg{query[:-5] if query != "?" else ""}"' in page
        assert f'href="{charts}{chart}.svg{query}download=1"' in page
        assert f'href="{charts}{chart}.png{query}download=1"' in page
    assert f'href="{charts}years.csv?period=year"' in page and f'href="{charts}response-times.csv"' in page
    assert '<option value="year" selected>year</option>' in page  # the period choice, year by default
    assert ' style="' not in page and "<script>" not in page  # the CSP allows neither
    assert no_nan(page)


def test_set_page_loads_the_statistics_section_after_the_page(client, study, four):
    login(client, study)
    url = f"{base(study)}{four.pk}/statistics/"
    page = client.get(f"{base(study)}{four.pk}/").content.decode()
    assert f'hx-get="{url}" hx-trigger="load"' in page and f'href="{url}"' in page  # a real link too
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith("<section id=\"set-statistics\"") and "<html" not in fragment
    assert "3 of 4 questions, 75.0 %" in fragment


def test_csv_downloads_have_the_tables_header_and_rows(client, study, four):
    login(client, study)
    years = client.get(f"{base(study)}{four.pk}/statistics/years.csv")
    assert years["Content-Type"] == "text/csv; charset=utf-8"
    assert attachment_name(years) == "c-cloud-questions-per-year.csv"
    assert read_csv(years) == [["year", "questions", "askers"], ["2020", "2", "1"], ["2021", "0", "0"],
                               ["2022", "1", "1"]]

    times = client.get(f"{base(study)}{four.pk}/statistics/response-times.csv")
    assert attachment_name(times) == "c-cloud-response-times.csv"
    rows = read_csv(times)
    assert rows[0] == ["measure", "value", "unit"]
    by_measure = {measure: (value, unit) for measure, value, unit in rows[1:]}
    assert by_measure["questions with a response time"] == ("1", "questions")
    assert by_measure["median"] == ("2.0", "hours")
    assert by_measure["first quartile"] == ("2.0", "hours") and by_measure["third quartile"] == ("2.0", "hours")
    assert by_measure["without an accepted answer"] == ("3", "questions")
    assert by_measure["skipped: answer not in the study"] == ("0", "questions")
    assert len(rows) == 1 + 10 + 4  # the summary, then the four reasons for skipping


@pytest.mark.parametrize("chart", ["years", "response-times"])
def test_chart_downloads_have_their_content_types_and_filenames(client, study, four, chart):
    login(client, study)
    url = f"{base(study)}{four.pk}/statistics/{chart}"
    svg = client.get(f"{url}.svg?download=1")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
    assert attachment_name(svg) == f"c-cloud-{'questions-per-year' if chart == 'years' else 'response-times'}.svg"
    # The SVG's own policy: its style attributes, nothing that runs or loads.
    assert svg["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    png = client.get(f"{url}.png?download=1")
    assert png["Content-Type"] == "image/png" and png.content.startswith(PNG_MAGIC)
    assert attachment_name(png).endswith(".png")
    inline = client.get(f"{url}.svg")  # as the page's <img> loads it
    assert inline["Content-Disposition"].startswith("inline;")
    assert "no-cache" in inline["Cache-Control"]  # the figures change with the members and posts
    assert client.get(f"{url}.pdf").status_code == 404


def test_an_empty_set_says_no_questions_and_never_nan(client, study, empty):
    login(client, study)
    page = client.get(f"{base(study)}{empty.pk}/statistics/").content.decode()
    assert page.count("no questions") >= 3  # share, years, response times
    assert no_nan(page)
    url = f"{base(study)}{empty.pk}/statistics/"
    for path in ("years.svg", "response-times.svg", "years.png", "response-times.png"):
        assert client.get(url + path).status_code == 200
    assert read_csv(client.get(url + "years.csv")) == [["year", "questions", "askers"]]
    rows = read_csv(client.get(url + "response-times.csv"))
    assert ["median", "", "hours"] in rows and no_nan(str(rows))


def test_an_unevaluated_set_has_no_figures_yet(client, study):
    login(client, study)
    fresh = QuestionSetFactory(study=study, name="Fresh")
    page = client.get(f"{base(study)}{fresh.pk}/statistics/").content.decode()
    assert "Evaluate the set to see its statistics." in page
    assert "Evaluate the set to see its statistics." in client.get(f"{base(study)}{fresh.pk}/").content.decode()
    for path in ("years.svg", "response-times.png", "years.csv", "response-times.csv"):
        assert client.get(f"{base(study)}{fresh.pk}/statistics/{path}").status_code == 404


# -- two sets --------------------------------------------------------------------


@pytest.fixture
def baseline(study):
    """10 questions, 2 without an accepted answer, answered after 1 to 8 days."""
    return evaluated_set(study, [
        question(study, created=at(2021, 1, i + 1), owner=10 + i,
                 answered_after=timedelta(days=i + 1) if i >= 2 else None)
        for i in range(10)
    ], name="baseline")


def test_compare_page_shows_both_shares_both_chi2_and_the_medians(client, study, four, baseline):
    login(client, study)
    response = client.get(f"{base(study)}compare/?first={four.pk}&second={baseline.pk}")
    page = response.content.decode()
    test = two_proportion_test(x1=3, n1=4, x2=2, n2=10)
    assert test.chi2 is not None and test.chi2 != test.chi2_corrected
    assert "3 of 4, 75.0 %" in page and "2 of 10, 20.0 %" in page
    assert f'<strong class="chi2">{statistic_text(test.chi2)}</strong>' in page
    assert f'<strong class="p-value">{p_value_text(test.p_value)}</strong>' in page
    assert f'<span class="chi2-corrected">{statistic_text(test.chi2_corrected)}</span>' in page
    assert f'<span class="p-value-corrected">{p_value_text(test.p_value_corrected)}</span>' in page
    assert "uncorrected Pearson χ²; with Yates' correction:" in page
    assert "df = 1" in page
    # Medians side by side: 2 hours; days 3..10 → median 6.5 days = 156 hours.
    assert '<tr class="median"><th>Median time to the accepted answer</th><td>2.00 h</td>' \
           '<td>156.00 h (6.5 days)</td></tr>' in page
    query = f"first={four.pk}&amp;second={baseline.pk}"
    assert f'src="{base(study)}compare/response-times.svg?{query}"' in page
    assert f'href="{base(study)}compare/response-times.png?{query}&amp;download=1"' in page
    assert f'href="{base(study)}compare/comparison.csv?{query}"' in page
    assert no_nan(page)


def test_comparison_csv_and_chart_downloads(client, study, four, baseline):
    login(client, study)
    query = f"?first={four.pk}&second={baseline.pk}"
    response = client.get(f"{base(study)}compare/comparison.csv{query}")
    assert attachment_name(response) == "c-cloud-vs-baseline-comparison.csv"
    rows = read_csv(response)
    test = two_proportion_test(x1=3, n1=4, x2=2, n2=10)
    assert rows[0] == ["measure", "C (cloud)", "baseline"]
    assert rows[1:4] == [["questions", "4", "10"], ["without accepted answer", "3", "2"],
                         ["share without accepted answer", "0.75", "0.2"]]
    figures = {row[0]: row[1] for row in rows}
    assert float(figures["chi2"]) == test.chi2 and float(figures["p"]) == test.p_value
    assert float(figures["chi2 (Yates)"]) == test.chi2_corrected
    assert float(figures["p (Yates)"]) == test.p_value_corrected
    svg = client.get(f"{base(study)}compare/response-times.svg{query}&download=1")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert attachment_name(svg) == "c-cloud-vs-baseline-response-times.svg"
    png = client.get(f"{base(study)}compare/response-times.png{query}&download=1")
    assert png["Content-Type"] == "image/png" and png.content.startswith(PNG_MAGIC)


def test_compare_with_an_empty_set_gives_the_reason_not_nan(client, study, four, empty):
    login(client, study)
    page = client.get(f"{base(study)}compare/?first={empty.pk}&second={four.pk}").content.decode()
    assert "No test:</strong> one of the sets has no questions." in page
    assert "no questions" in page and no_nan(page)
    rows = read_csv(client.get(f"{base(study)}compare/comparison.csv?first={empty.pk}&second={four.pk}"))
    assert ["chi2", "", ""] in rows and no_nan(str(rows))
    assert client.get(f"{base(study)}compare/response-times.svg?first={empty.pk}&second={four.pk}").status_code == 200


def test_equal_shares_give_the_undefined_reason(client, study):
    login(client, study)
    all_answered = [evaluated_set(study, [question(study, created=at(2021, 1, 1), owner=1,
                                                   answered_after=timedelta(hours=1))], name=name)
                    for name in ("X", "Y")]
    page = client.get(f"{base(study)}compare/?first={all_answered[0].pk}&second={all_answered[1].pk}")
    text = page.content.decode()
    assert "No test:</strong> no question in either set has the property" in text and no_nan(text)


def test_overlapping_sets_say_how_many_questions_both_hold_and_what_the_test_assumes(client, study, four, baseline):
    login(client, study)
    shared = [m.post for m in QuestionSetMember.objects.filter(question_set=four).order_by("post_id")[:2]]
    mixed = evaluated_set(study, shared + [m.post for m in QuestionSetMember.objects.filter(question_set=baseline)],
                          name="mixed")
    ids = {qs: set(qs.members.values_list("post_id", flat=True)) for qs in (four, mixed)}
    assert len(ids[four] & ids[mixed]) == 2
    response = client.get(f"{base(study)}compare/?first={four.pk}&second={mixed.pk}")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<tr class="overlap"><th>In both sets</th><td colspan="2">2</td></tr>' in page
    assert ("The sets overlap: 2 questions are in both sets (2 of 4 in “C (cloud)”, 2 of 12 in “mixed”). "
            "The χ² test assumes two independent samples: no question in both sets.") in page
    assert "the p-value is not valid as it stands" in page
    # the figures are still those of the 2×2 table, computed as if independent: SciPy agrees
    without = set(Post.objects.filter(study=study, accepted_answer_so_id__isnull=True).values_list("pk", flat=True))
    (x1, n1), (x2, n2) = ((len(ids[qs] & without), len(ids[qs])) for qs in (four, mixed))
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    plain, yates = chi2_contingency(table, correction=False), chi2_contingency(table, correction=True)
    assert f'<strong class="chi2">{statistic_text(plain[0])}</strong>' in page
    assert f'<span class="chi2-corrected">{statistic_text(yates[0])}</span>' in page
    rows = read_csv(client.get(f"{base(study)}compare/comparison.csv?first={four.pk}&second={mixed.pk}"))
    assert ["questions in both sets", "2", ""] in rows
    figures = {row[0]: row[1] for row in rows}
    assert float(figures["chi2"]) == pytest.approx(plain[0]) and float(figures["p"]) == pytest.approx(plain[1])
    assert float(figures["p (Yates)"]) == pytest.approx(yates[1])


def test_a_set_inside_the_other_names_the_disjoint_comparison(client, study, four, baseline):
    login(client, study)
    part = evaluated_set(study, [m.post for m in QuestionSetMember.objects.filter(question_set=baseline)[:3]],
                         name="part")
    page = client.get(f"{base(study)}compare/?first={baseline.pk}&second={part.pk}").content.decode()
    assert "3 questions are in both sets (every question of “part” is also in “baseline”)" in page
    assert "e.g. “part” with “baseline” minus “part”" in page


def test_disjoint_sets_state_the_assumption_only(client, study, four, baseline):
    login(client, study)
    page = client.get(f"{base(study)}compare/?first={four.pk}&second={baseline.pk}").content.decode()
    assert '<td colspan="2">0</td>' in page and "overlap-note" not in page
    assert "The χ² test assumes two independent samples: no question in both sets. These two sets share none." in page


def test_two_sets_of_the_same_questions_are_one_sample_and_refused(client, study, four):
    login(client, study)
    twin = evaluated_set(study, [m.post for m in QuestionSetMember.objects.filter(question_set=four)], name="twin")
    response = client.get(f"{base(study)}compare/?first={four.pk}&second={twin.pk}")
    assert response.status_code == 400
    assert "“C (cloud)” and “twin” hold the same 4 questions" in response.content.decode()
    assert "χ²(1)" not in response.content.decode()
    assert client.get(f"{base(study)}compare/comparison.csv?first={twin.pk}&second={four.pk}").status_code == 400


def test_the_set_list_offers_the_comparison_form(client, study, four, baseline):
    login(client, study)
    page = client.get(base(study)).content.decode()
    assert f'action="{base(study)}compare/"' in page and 'method="get"' in page
    assert '<select name="first"' in page and '<select name="second"' in page
    assert f'<option value="{four.pk}">C (cloud)</option>' in page


def test_compare_asks_for_two_different_evaluated_sets(client, study, four):
    login(client, study)
    fresh = QuestionSetFactory(study=study, name="Fresh")
    assert "Choose two evaluated sets" in client.get(f"{base(study)}compare/").content.decode()
    half = client.get(f"{base(study)}compare/?first={four.pk}").content.decode()  # "Compare with…" on a set
    assert f'<option value="{four.pk}" selected>C (cloud)</option>' in half and "χ²(1)" not in half
    same = client.get(f"{base(study)}compare/?first={four.pk}&second={four.pk}")
    assert same.status_code == 400
    reason = "“C (cloud)” cannot be compared with itself: the χ² test needs two independent samples"
    assert reason in same.content.decode() and "χ²(1)" not in same.content.decode()
    assert f'<option value="{four.pk}" selected>' in same.content.decode()  # the form keeps the choice
    unevaluated = client.get(f"{base(study)}compare/?first={four.pk}&second={fresh.pk}").content.decode()
    assert "“Fresh” not evaluated yet" in unevaluated
    for path in ("comparison.csv", "response-times.svg"):
        refused = client.get(f"{base(study)}compare/{path}?first={four.pk}&second={four.pk}")
        assert refused.status_code == 400 and reason in refused.content.decode()
        assert client.get(f"{base(study)}compare/{path}?first={four.pk}").status_code == 404
    assert client.get(f"{base(study)}compare/?first=x&second={four.pk}").status_code == 404


# -- who may see it ------------------------------------------------------------


def new_urls(study, one, other) -> list[str]:
    b = base(study)
    query = f"?first={one.pk}&second={other.pk}"
    return [
        f"{b}{one.pk}/statistics/", f"{b}{one.pk}/statistics/years.csv", f"{b}{one.pk}/statistics/response-times.csv",
        f"{b}{one.pk}/statistics/years.svg", f"{b}{one.pk}/statistics/years.png",
        f"{b}{one.pk}/statistics/response-times.svg", f"{b}{one.pk}/statistics/response-times.png",
        f"{b}compare/{query}", f"{b}compare/comparison.csv{query}",
        f"{b}compare/response-times.svg{query}", f"{b}compare/response-times.png{query}",
    ]


@pytest.mark.parametrize("roles", [{}, {"is_rater": True}, {"is_owner": True}])
def test_every_member_reads_all_of_it(client, study, four, baseline, roles):
    login(client, study, **roles)
    for url in new_urls(study, four, baseline):
        assert client.get(url).status_code == 200, url


def test_non_members_get_404_on_every_new_url(client, study, four, baseline):
    login(client, StudyFactory(), is_owner=True)  # an owner elsewhere
    for url in new_urls(study, four, baseline) + [f"{base(study)}compare/"]:
        assert client.get(url).status_code == 404, url


def test_anonymous_visitors_are_sent_to_sign_in(client, study, four, baseline):
    for url in new_urls(study, four, baseline):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url


def test_a_set_of_another_study_is_404_through_this_study(client, study, four):
    other = StudyFactory()
    foreign = evaluated_set(other, [question(other, created=at(2021, 1, 1), owner=1)], name="Foreign")
    login(client, study, is_owner=True)
    for url in new_urls(study, foreign, four) + new_urls(study, four, foreign):
        if f"/{four.pk}/statistics/" in url:
            continue  # the set of this study itself
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize(("period", "expected"), [
    ("month", [("2020-01", "1", "1"), ("2020-02", "0", "0"), ("2020-03", "0", "0"), ("2020-04", "0", "0"),
               ("2020-05", "0", "0"), ("2020-06", "1", "1")]),
    ("quarter", [("2020-Q1", "1", "1"), ("2020-Q2", "1", "1"), ("2020-Q3", "0", "0"), ("2020-Q4", "0", "0"),
                 ("2021-Q1", "0", "0")]),
])
def test_the_period_choice_counts_per_month_or_quarter_on_the_page_csv_and_chart(client, study, four, period,
                                                                                  expected):
    login(client, study)
    url = f"{base(study)}{four.pk}/statistics/"
    fragment = client.get(url, {"period": period}, headers={"HX-Request": "true"}).content.decode()
    rows = re.findall(r"<tr><td>(\d{4}-(?:\d\d|Q\d))</td><td>(\d+)</td><td>(\d+)</td></tr>", fragment)
    assert rows[:len(expected)] == expected
    assert rows[-1] == ("2022-03" if period == "month" else "2022-Q1", "1", "1")
    assert sum(int(n) for _label, n, _a in rows) == 3  # the dated questions; the undated one is in none
    assert f'<option value="{period}" selected>' in fragment and f"per {period}" in fragment
    assert f'src="{url}years.svg?period={period}"' in fragment

    csv_rows = read_csv(client.get(f"{url}years.csv", {"period": period}))
    assert csv_rows[0] == [period, "questions", "askers"] and [tuple(r) for r in csv_rows[1:]] == rows
    chart = client.get(f"{url}years.svg", {"period": period, "download": "1"})
    assert chart.status_code == 200 and attachment_name(chart) == f"c-cloud-questions-per-{period}.svg"


def test_a_bad_period_is_a_400_with_the_reason(client, study, four):
    login(client, study)
    url = f"{base(study)}{four.pk}/statistics/"
    page = client.get(url, {"period": "week"})
    assert page.status_code == 400 and "“week” is not a period: choose month, quarter or year." in page.content.decode()
    for path in ("years.csv", "years.svg", "years.png"):
        response = client.get(url + path, {"period": "fortnight"})
        assert response.status_code == 400 and "choose month, quarter or year" in response.content.decode()
