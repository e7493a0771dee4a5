"""The methods report (DESIGN.md step 10): every number a paper's method section
needs, each with the page of the app it comes from.

``methods_report`` reads; it computes nothing that another module already does:
the corpus totals (``annotator.corpus.services.study_totals``), the distinct askers
(``sampling.question_sets.selectors.questions_per_year``), each question set's funnel
(stored by its evaluation), the draws' design as recorded, the agreement runs the
reader may see (``taxonomy.review.agreement.selectors.agreement_run_list``, which applies
the blindness rule) and the final counts (``selectors.results_get``, through
``final_label_visible_q``). ``methods_report_markdown`` writes the report as
Markdown with booktabs LaTeX tables; the same data gives the same bytes (the only
times in it are on one header line that says they are volatile).

Blindness: a draw whose reliability round runs and whose raters' labels the reader
may not see contributes no agreement figure (the report says why); the counts of
final labels go through the one rule, so nothing there is derived from labels the
reader may not see.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import quote

from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.urls import reverse

from annotator.corpus.models import Post
from annotator.corpus.services import study_totals
from annotator.studies.models import Study
from sampling.draws.models import (
    Assignment,
    DrawStatus,
    SampleDraw,
    SampleStratum,
    StratumMode,
)
from sampling.draws.sight import Sight, final_label_visible_q, sight_for
from sampling.question_sets.selectors import question_set_list, questions_per_year
from taxonomy.review.agreement.models import AgreementScope, RunStatus
from taxonomy.review.agreement.selectors import (
    agreement_run_coefficients,
    agreement_run_list,
    agreement_taxonomy_changed,
)
from taxonomy.review.arbitration.models import FinalLabel, FinalMethod, PendingCategory
from taxonomy.tree.models import Category
from taxonomy.tree.selectors import category_visible_q

from . import selectors

# The coefficient a paper leads with: Cohen's κ for two raters, else Fleiss' κ and Krippendorff's α.
HEADLINE_TWO_RATERS = ("cohen_kappa",)
HEADLINE_MORE_RATERS = ("fleiss_kappa", "krippendorff_alpha")


def _when(moment) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


# -- the report: plain values, each with its source ---------------------------------------


@dataclass(frozen=True)
class CorpusSize:
    questions: int
    answers: int
    comments: int
    askers: int  # distinct owners of the questions (questions without an owner count in none)
    questions_without_owner: int
    url: str


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    before: int
    dropped: int
    added: int
    after: int
    without_date: int | None = None


@dataclass(frozen=True)
class QuestionSetFunnel:
    id: int
    name: str
    rule: str
    members: int | None  # None until evaluated
    evaluated_at: str | None  # volatile
    steps: tuple[FunnelStep, ...]
    url: str


@dataclass(frozen=True)
class StratumDesign:
    position: int
    name: str
    mode: str  # calculated, census, override
    census: bool
    set_size: int
    overlap_removed: int
    population: int  # N
    n_exact: float | None
    n: int | None
    drawn: int
    pilot: int
    reliability: int
    override_reason: str
    population_digest: str
    set_url: str | None  # None when the set was deleted since


@dataclass(frozen=True)
class DrawDesignFigures:
    version: int
    status: str
    status_label: str
    counted: bool  # in labelling: its final labels count in the results
    confidence: float
    margin: float
    proportion: float
    rounding: str
    seed: int
    algorithm: int
    pilot_share: float
    sample_size: int
    pilot_size: int
    reliability_size: int
    raters: int  # raters holding items of it
    raters_per_item: int
    drawn_at: str | None  # volatile
    arbitration_started: bool
    strata: tuple[StratumDesign, ...]
    url: str
    population_csv_url: str


@dataclass(frozen=True)
class CoefficientFigure:
    name: str
    title: str
    headline: bool
    share: bool  # a proportion (percent agreement), not a chance-corrected coefficient
    value: float | None
    low: float | None
    high: float | None
    items: int
    excluded: int
    undefined_resamples: int
    reason: str  # why value is None
    note: str


@dataclass(frozen=True)
class AgreementFigures:
    subject: str  # "draw v1", "every draw in labelling"
    draw_version: int | None
    shown: bool  # False: no run, or hidden by the blindness rule (``message`` says which)
    message: str
    run_id: int | None = None
    run_url: str | None = None
    draw_url: str | None = None
    resamples: int | None = None
    seed: int | None = None
    confidence: float | None = None
    taxonomy_version: int | None = None
    taxonomy_changed_to: int | None = None  # the tree changed since the run
    raters: int | None = None
    items: int | None = None
    items_in_scope: int | None = None
    items_unlabelled: int | None = None
    finished_at: str | None = None  # volatile
    coefficients: tuple[CoefficientFigure, ...] = ()


@dataclass(frozen=True)
class MethodCount:
    method: str
    label: str
    items: int


@dataclass(frozen=True)
class StratumOutcome:
    draw_version: int
    stratum: str
    items: int
    decided: int
    false_positive: int
    unclear: int
    covered: int
    multi_category: int
    undecided: int
    pending: int
    url: str


@dataclass(frozen=True)
class Outcome:
    scope: str
    draws: tuple[int, ...]
    items: int
    pilot_items: int
    reliability_items: int
    decided: int
    false_positive: int
    unclear: int
    covered: int
    multi_category: int
    undecided: int
    pending: int
    off_tree: int
    methods: tuple[MethodCount, ...]
    strata: tuple[StratumOutcome, ...]
    url: str
    arbitration_url: str


@dataclass(frozen=True)
class RootCount:
    id: int
    name: str
    posts: int
    url: str


@dataclass(frozen=True)
class PendingCategoryFigure:
    id: int
    path: str
    live: bool
    url: str


@dataclass(frozen=True)
class TaxonomySize:
    roots: int
    inner: int
    leaves: int
    proposed: int  # of those, awaiting approval
    root_counts: tuple[RootCount, ...]
    from_pending: tuple[PendingCategoryFigure, ...]
    url: str
    history_url: str
    pending_url: str


@dataclass(frozen=True)
class MethodsReport:
    study: str
    slug: str
    url: str
    markdown_url: str
    corpus: CorpusSize
    question_sets: tuple[QuestionSetFunnel, ...]
    draws: tuple[DrawDesignFigures, ...]
    agreement: tuple[AgreementFigures, ...]
    outcome: Outcome
    taxonomy: TaxonomySize
    missing: tuple[str, ...]  # what the study lacks for a complete report
    hidden: tuple[str, ...]  # what the blindness rule keeps from this reader, and why

    def as_dict(self) -> dict:
        return asdict(self)


# -- reading ------------------------------------------------------------------------------


def _corpus(study: Study) -> CorpusSize:
    totals = study_totals(study=study)
    askers = questions_per_year(questions=Post.objects.filter(study=study))
    return CorpusSize(questions=totals["questions"], answers=totals["answers"], comments=totals["comments"],
                      askers=askers.askers, questions_without_owner=askers.without_owner,
                      url=reverse("corpus:posts", args=[study.slug]))


def _question_sets(study: Study) -> tuple[QuestionSetFunnel, ...]:
    out = []
    for question_set in question_set_list(study=study):
        steps = tuple(FunnelStep(step=s.get("step", ""), label=s.get("label", ""), before=s.get("before", 0),
                                 dropped=s.get("dropped", 0), added=s.get("added", 0), after=s.get("after", 0),
                                 without_date=s.get("without_date"))
                      for s in question_set.funnel or ())
        out.append(QuestionSetFunnel(
            id=question_set.pk, name=question_set.name, rule=question_set.rule_text,
            members=question_set.member_count if question_set.evaluated_at else None,
            evaluated_at=_when(question_set.evaluated_at), steps=steps,
            url=reverse("selection:set", args=[study.slug, question_set.pk])))
    return tuple(out)


def _draws(study: Study) -> list[SampleDraw]:
    strata = SampleStratum.objects.order_by("position")
    return list(SampleDraw.objects.filter(study=study, status__in=selectors.DRAWN).order_by("version")
                .prefetch_related(Prefetch("strata", queryset=strata)))


def _draw_design(study: Study, draw: SampleDraw, raters: int) -> DrawDesignFigures:
    strata = tuple(StratumDesign(
        position=s.position, name=s.name, mode=s.mode, census=s.mode == StratumMode.CENSUS, set_size=s.set_size,
        overlap_removed=s.overlap_removed, population=s.population, n_exact=s.n_exact, n=s.n, drawn=s.drawn,
        pilot=s.pilot, reliability=s.reliability, override_reason=s.override_reason,
        population_digest=s.population_digest,
        set_url=reverse("selection:set", args=[study.slug, s.question_set_id]) if s.question_set_id else None)
        for s in draw.strata.all())
    return DrawDesignFigures(
        version=draw.version, status=draw.status, status_label=str(draw.get_status_display()),
        counted=draw.status == DrawStatus.LABELLING, confidence=draw.confidence, margin=draw.margin,
        proportion=draw.proportion, rounding=draw.rounding, seed=draw.seed, algorithm=draw.algorithm,
        pilot_share=draw.pilot_share, sample_size=draw.sample_size, pilot_size=draw.pilot_size,
        reliability_size=draw.reliability_size, raters=raters, raters_per_item=draw.raters_per_item,
        drawn_at=_when(draw.drawn_at), arbitration_started=draw.arbitration_started_at is not None, strata=strata,
        url=reverse("sampling:draw", args=[study.slug, draw.version]),
        population_csv_url=reverse("sampling:draw_population_csv", args=[study.slug, draw.version]))


def _agreement_figures(study: Study, run, subject: str, draw: SampleDraw | None) -> AgreementFigures:
    headline = HEADLINE_TWO_RATERS if run.raters == 2 else HEADLINE_MORE_RATERS
    coefficients = tuple(CoefficientFigure(
        name=c.name, title=c.title, headline=c.name in headline, share=c.share, value=c.value, low=c.low,
        high=c.high, items=c.items, excluded=c.excluded, undefined_resamples=c.undefined_resamples,
        reason=c.reason, note=c.note)
        for c in agreement_run_coefficients(run=run))
    return AgreementFigures(
        subject=subject, draw_version=draw.version if draw else None, shown=True, message=run.message,
        run_id=run.pk, run_url=reverse("agreement:run", args=[study.slug, run.pk]),
        draw_url=reverse("sampling:draw", args=[study.slug, draw.version]) if draw else None,
        resamples=run.resamples, seed=run.seed, confidence=run.confidence, taxonomy_version=run.taxonomy_version,
        taxonomy_changed_to=agreement_taxonomy_changed(run=run), raters=run.raters, items=run.items,
        items_in_scope=run.items_in_scope, items_unlabelled=run.items_unlabelled,
        finished_at=_when(run.finished_at), coefficients=coefficients)


def _agreement(study: Study, sight: Sight, draws: list[SampleDraw]) -> tuple[list[AgreementFigures], list[str]]:
    runs = (agreement_run_list(study=study, user=None, sight=sight).filter(status=RunStatus.DONE).defer(None)
            .order_by("-finished_at", "-id"))
    out, hidden = [], []
    for draw in draws:
        if draw.status != DrawStatus.LABELLING:
            continue
        subject = f"draw v{draw.version}"
        if not sight.sees_draw(draw.pk):
            reason = (f"Draw v{draw.version}'s reliability round is still running and its raters' labels are "
                      "sealed from you (you rate on it, or you are not an owner or arbitrator): its agreement "
                      "figures are left out until arbitration starts on it.")
            hidden.append(reason)
            out.append(AgreementFigures(subject=subject, draw_version=draw.version, shown=False, message=reason,
                                        draw_url=reverse("sampling:draw", args=[study.slug, draw.version])))
            continue
        run = runs.filter(scope=AgreementScope.DRAW, draw=draw).first()
        if run is None:
            out.append(AgreementFigures(
                subject=subject, draw_version=draw.version, shown=False,
                message=f"No agreement run over draw v{draw.version} has finished yet: start one on the agreement "
                        "page.", draw_url=reverse("sampling:draw", args=[study.slug, draw.version])))
            continue
        out.append(_agreement_figures(study, run, subject, draw))
    whole = runs.filter(scope=AgreementScope.STUDY).first()
    if whole is not None:
        out.append(_agreement_figures(study, whole, "every draw in labelling", None))
    return out, hidden


def _method_counts(sight, scope: selectors.ResultsScope) -> tuple[MethodCount, ...]:
    counted = Counter(dict(FinalLabel.objects.filter(final_label_visible_q(sight), item__in=scope.items())
                           .order_by().values("method").annotate(n=Count("pk")).values_list("method", "n")))
    labels = dict(FinalMethod.choices)
    methods = list(FinalMethod.values) + sorted(set(counted) - set(FinalMethod.values))
    return tuple(MethodCount(method=m, label=str(labels.get(m, m)), items=counted[m]) for m in methods)


def _outcome(study: Study, sight, results: selectors.Results) -> Outcome:
    counts, scope = results.counts, results.scope
    results_url = reverse("results:home", args=[study.slug])
    strata = []
    for draw in scope.draws:
        for name in draw.strata.order_by("position").values_list("name", flat=True):
            part = selectors.results_get(study=study, sight=sight, draw_version=draw.version, stratum_name=name)
            c = part.counts
            query = f"?draw={draw.version}&stratum={quote(name, safe='')}"
            strata.append(StratumOutcome(
                draw_version=draw.version, stratum=name, items=c.items, decided=c.decided,
                false_positive=c.false_positive, unclear=c.unclear, covered=c.covered,
                multi_category=c.multi_category, undecided=c.undecided, pending=c.pending, url=results_url + query))
    parts = Counter(dict(scope.items().order_by().values("part").annotate(n=Count("pk")).values_list("part", "n")))
    return Outcome(
        scope=scope.description, draws=tuple(d.version for d in scope.draws), items=counts.items,
        pilot_items=parts["pilot"], reliability_items=parts["reliability"], decided=counts.decided,
        false_positive=counts.false_positive, unclear=counts.unclear, covered=counts.covered,
        multi_category=counts.multi_category, undecided=counts.undecided, pending=counts.pending,
        off_tree=counts.off_tree, methods=_method_counts(sight, scope), strata=tuple(strata), url=results_url,
        arbitration_url=reverse("arbitration:home", args=[study.slug]))


def _taxonomy(study: Study, sight, results: selectors.Results) -> TaxonomySize:
    nodes = results.counts.nodes
    levels = Counter(node.level for node in nodes)

    def category_url(pk: int) -> str:
        return reverse("tree:category", args=[study.slug, pk])

    roots = tuple(RootCount(id=n.id, name=n.name, posts=n.posts, url=category_url(n.id))
                  for n in nodes if n.parent_id is None)
    visible = Category.objects.filter(category_visible_q(sight), study=study)
    from_pending = []
    for pk, name in (PendingCategory.objects.filter(study=study, category__in=visible)
                     .order_by("category_id").values_list("category_id", "category__name")):
        node = results.counts.by_id.get(pk)
        from_pending.append(PendingCategoryFigure(id=pk, path=node.path() if node else name, live=node is not None,
                                                  url=category_url(pk)))
    return TaxonomySize(
        roots=levels["root"], inner=levels["inner"], leaves=levels["leaf"],
        proposed=sum(1 for n in nodes if n.status == "proposed"), root_counts=roots,
        from_pending=tuple(from_pending), url=reverse("tree:index", args=[study.slug]),
        history_url=reverse("tree:history", args=[study.slug]),
        pending_url=reverse("arbitration:pending", args=[study.slug]))


def _missing(corpus: CorpusSize, sets, draws, outcome: Outcome, taxonomy: TaxonomySize) -> list[str]:
    missing = []
    if not corpus.questions:
        missing.append("The corpus is empty: import a Stack Exchange dump.")
    if not sets:
        missing.append("No question set is defined: there is no funnel to report.")
    missing += [f"Question set “{s.name}” is not evaluated yet: its funnel is missing." for s in sets
                if s.members is None]
    if not draws:
        missing.append("Nothing is drawn yet: there is no sampling design to report.")
    elif not outcome.draws:
        missing.append("No draw is in labelling yet: there are no final labels to count.")
    if outcome.items and not outcome.decided:
        missing.append("No item has a final label yet: every outcome count is 0 until pilot decisions are "
                       "recorded and arbitration starts.")
    if outcome.undecided:
        missing.append(f"{outcome.undecided} item{'s are' if outcome.undecided != 1 else ' is'} not decided yet"
                       + (f" ({outcome.pending} of them in the Pending queue)" if outcome.pending else "")
                       + ": the outcome counts leave them out until they get a final label.")
    if not (taxonomy.roots or taxonomy.inner or taxonomy.leaves):
        missing.append("The taxonomy has no categories yet.")
    return missing


def methods_report(*, study: Study, user=None, sight: Sight | None = None) -> MethodsReport:
    """Every number of the methods section, as ``user`` (or ``sight``: ``sight_whole`` for the
    study's own tools) may see them."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    draws = _draws(study)
    raters = dict(Assignment.objects.filter(draw__in=draws).order_by().values("draw_id")
                  .annotate(n=Count("rater_id", distinct=True)).values_list("draw_id", "n"))
    results = selectors.results_get(study=study, sight=sight)
    corpus = _corpus(study)
    sets = _question_sets(study)
    designs = tuple(_draw_design(study, draw, raters.get(draw.pk, 0)) for draw in draws)
    agreement, hidden = _agreement(study, sight, draws)
    outcome = _outcome(study, sight, results)
    taxonomy = _taxonomy(study, sight, results)
    return MethodsReport(
        study=study.name, slug=study.slug, url=reverse("results:report", args=[study.slug]),
        markdown_url=reverse("results:report_md", args=[study.slug]), corpus=corpus, question_sets=sets,
        draws=designs, agreement=tuple(agreement), outcome=outcome, taxonomy=taxonomy,
        missing=tuple(_missing(corpus, sets, designs, outcome, taxonomy)), hidden=tuple(hidden))


def methods_report_filename(*, report: MethodsReport) -> str:
    return f"{report.slug}-methods.md"


def methods_report_download(*, report: MethodsReport, base_url: str = "") -> HttpResponse:
    """The Markdown as a download (the page's and the API's)."""
    text = methods_report_markdown(report, base_url=base_url)
    response = HttpResponse(text.encode("utf-8"), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{methods_report_filename(report=report)}"'
    return response


# -- writing: Markdown with LaTeX tables --------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "`": r"\textasciigrave{}",
}
_LATEX_RE = re.compile("|".join(re.escape(ch) for ch in _LATEX_SPECIAL))
_MARKDOWN_RE = re.compile(r"([\\`*_{}\[\]<>#|~])")
_SPACE_RE = re.compile(r"\s+")
LATEX_TITLES = {
    "percent_agreement": r"Percent agreement",
    "pairwise_agreement": r"Pairwise agreement",
    "cohen_kappa": r"Cohen's $\kappa$",
    "fleiss_kappa": r"Fleiss' $\kappa$",
    "krippendorff_alpha": r"Krippendorff's $\alpha$ (nominal)",
    "krippendorff_alpha_masi": r"Krippendorff's $\alpha$ (MASI)",
}


def latex_escape(text) -> str:
    """Text for a LaTeX table cell: specials escaped, on one line."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], _SPACE_RE.sub(" ", str(text)).strip())


def markdown_escape(text) -> str:
    """Text for Markdown prose: punctuation that Markdown reads escaped, on one line."""
    return _MARKDOWN_RE.sub(r"\\\1", _SPACE_RE.sub(" ", str(text)).strip())


def _latex_table(columns: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """A booktabs ``tabular`` in a fenced block; ``header`` is LaTeX, ``rows`` are escaped cells."""
    lines = ["```latex", rf"\begin{{tabular}}{{{columns}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", "```", ""]
    return lines


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(low, high, digits: int = 3) -> str:
    return "n/a" if low is None or high is None else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _share(value) -> str:
    return f"{value * 100:g} %"


def _exact(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _link(text: str, url: str | None, base_url: str) -> str:
    return f"[{text}]({base_url}{url})" if url else text


def _volatile_line(report: MethodsReport) -> str:
    times = [f"set {s.name} evaluated {s.evaluated_at}" for s in report.question_sets if s.evaluated_at]
    times += [f"draw v{d.version} drawn {d.drawn_at}" for d in report.draws if d.drawn_at]
    times += [f"agreement run #{a.run_id} finished {a.finished_at}" for a in report.agreement if a.finished_at]
    return ("Volatile (times, which may differ on a restored copy; everything else is fixed by the data): "
            + (markdown_escape("; ".join(times)) if times else "none") + ".")


def methods_report_markdown(report: MethodsReport, *, base_url: str = "") -> str:
    """The report as Markdown with booktabs LaTeX tables, links prefixed with ``base_url``."""
    b = base_url.rstrip("/")
    out = [f"# Methods report: {markdown_escape(report.study)}", "",
           (f"Study `{report.slug}` · {_link('report page', report.url, b)} · "
           f"{_link('results page', report.outcome.url, b)}"), "",
           _volatile_line(report), "",
           "LaTeX tables need `\\usepackage{booktabs}`; names are UTF-8.", ""]
    if report.missing:
        out += ["## What is missing", ""] + [f"- {markdown_escape(m)}" for m in report.missing] + [""]
    if report.hidden:
        out += ["## Hidden by blind coding", ""] + [f"- {markdown_escape(m)}" for m in report.hidden] + [""]
    out += _corpus_markdown(report, b) + _sets_markdown(report, b) + _draws_markdown(report, b)
    out += _agreement_markdown(report, b) + _outcome_markdown(report, b) + _taxonomy_markdown(report, b)
    return "\n".join(out).rstrip("\n") + "\n"


def _corpus_markdown(report: MethodsReport, b: str) -> list[str]:
    c = report.corpus
    out = ["## Corpus", "", f"Source: {_link('posts', c.url, b)}.", "",
           f"- Questions: {c.questions}", f"- Answers: {c.answers}", f"- Comments: {c.comments}",
           f"- Distinct askers: {c.askers} ({c.questions_without_owner} questions without an owner)", ""]
    out += _latex_table("lrrrr", ["", "Questions", "Answers", "Comments", "Askers"],
                        [["Corpus", str(c.questions), str(c.answers), str(c.comments), str(c.askers)]])
    return out


def _sets_markdown(report: MethodsReport, b: str) -> list[str]:
    out = ["## Question sets and their funnels", ""]
    if not report.question_sets:
        return out + ["No question set is defined.", ""]
    for s in report.question_sets:
        out += [f"### {markdown_escape(s.name)}", "",
                f"Source: {_link('the set page', s.url, b)}. Rule: {markdown_escape(s.rule)}.", ""]
        if s.members is None:
            out += ["Not evaluated yet: no funnel.", ""]
            continue
        out += [f"Members: {s.members}.", ""]
        rows = [[latex_escape(step.label) + (f" ({step.without_date} without a date)" if step.without_date else ""),
                 str(step.before), str(step.dropped), str(step.added), str(step.after)] for step in s.steps]
        out += _latex_table("lrrrr", ["Step", "Before", "Dropped", "Added", "After"], rows)
    return out


def _draws_markdown(report: MethodsReport, b: str) -> list[str]:
    out = ["## Sampling design", ""]
    if not report.draws:
        return out + ["Nothing is drawn yet.", ""]
    for d in report.draws:
        out += [f"### Draw v{d.version}", "",
                f"Source: {_link(f'draw v{d.version}', d.url, b)} "
                f"({_link('population CSV', d.population_csv_url, b)}). Status: {markdown_escape(d.status_label)}"
                + ("; counted in the results." if d.counted else "; not counted in the results (labelling has "
                                                                  "not started)."), "",
                (f"- Confidence {d.confidence:g}, margin ±{d.margin:g}, p = {d.proportion:g}, rounding {d.rounding}; "
                "n = n₀ / (1 + (n₀ − 1)/N), n₀ = z²·p(1−p)/e²"),
                f"- Seed {d.seed}, drawing algorithm version {d.algorithm}",
                (f"- Sample size {d.sample_size}: pilot {d.pilot_size} (pilot share {_share(d.pilot_share)}), "
                f"reliability {d.reliability_size}"),
                f"- Raters: {d.raters}, raters per reliability item: {d.raters_per_item}"]
        for s in d.strata:
            source = _link("question set", s.set_url, b) if s.set_url else "its question set was deleted since"
            line = f"- Stratum {markdown_escape(s.name)} ({source}): population digest `{s.population_digest or 'none'}`"
            if s.override_reason:
                line += f"; n set by hand: {markdown_escape(s.override_reason)}"
            out.append(line)
        out.append("")
        rows = [[latex_escape(s.name), str(s.set_size), str(s.overlap_removed), str(s.population), _exact(s.n_exact),
                 "n/a" if s.n is None else str(s.n), "yes" if s.census else "no",
                 "yes" if s.mode == StratumMode.OVERRIDE else "no", str(s.drawn), str(s.pilot), str(s.reliability)]
                for s in d.strata]
        rows.append(["Total", str(sum(s.set_size for s in d.strata)), str(sum(s.overlap_removed for s in d.strata)),
                     str(sum(s.population for s in d.strata)), "", str(sum(s.n or 0 for s in d.strata)), "", "",
                     str(sum(s.drawn for s in d.strata)), str(sum(s.pilot for s in d.strata)),
                     str(sum(s.reliability for s in d.strata))])
        out += _latex_table("lrrrrrccrrr", ["Stratum", "Set", "Earlier", "$N$", r"$n$ exact", "$n$", "Census",
                                            "Override", "Drawn", "Pilot", "Reliability"], rows)
    return out


def _agreement_markdown(report: MethodsReport, b: str) -> list[str]:
    out = ["## Agreement", ""]
    if not report.agreement:
        return out + ["No draw is in labelling: there is no agreement to report.", ""]
    rows = []
    for a in report.agreement:
        if not a.shown:
            out.append(f"- {markdown_escape(a.subject.capitalize())}: {markdown_escape(a.message)}")
            continue
        changed = (f"; the tree changed since (now version {a.taxonomy_changed_to})"
                   if a.taxonomy_changed_to is not None else "")
        out.append(f"- {markdown_escape(a.subject.capitalize())}: {_link(f'agreement run #{a.run_id}', a.run_url, b)}"
                   f" — {a.raters} raters, {a.items} of {a.items_in_scope} reliability items labelled; "
                   f"{a.resamples} bootstrap resamples, seed {a.seed}, confidence {a.confidence:g}; "
                   f"taxonomy version {a.taxonomy_version}{changed}")
        if a.message:
            out.append(f"  - No coefficient: {markdown_escape(a.message)}")
        for c in a.coefficients:
            value = (f"{_number(c.value)} {_interval(c.low, c.high)}" if c.value is not None
                     else f"n/a ({markdown_escape(c.reason)})")
            mark = " (headline)" if c.headline else ""
            out.append(f"  - {markdown_escape(c.title)}{mark}: {value}"
                       + (f"; {markdown_escape(c.note)}" if c.note else ""))
            title = LATEX_TITLES.get(c.name, latex_escape(c.title))
            rows.append([latex_escape(a.subject), f"\\#{a.run_id}", rf"\textbf{{{title}}}" if c.headline else title,
                         str(c.items), _number(c.value), _interval(c.low, c.high)])
    out.append("")
    if rows:
        out += _latex_table("lllrrl", ["Scope", "Run", "Coefficient", "Items", "Value", "Interval"], rows)
    return out


def _outcome_markdown(report: MethodsReport, b: str) -> list[str]:
    o = report.outcome
    out = ["## Final labels", "",
           (f"Source: {_link('results page', o.url, b)}, {_link('arbitration page', o.arbitration_url, b)}. "
           f"Scope: {markdown_escape(o.scope)}."), "",
           f"- Sampled items: {o.items} (pilot {o.pilot_items}, reliability {o.reliability_items})",
           f"- Decided: {o.decided}; not decided yet: {o.undecided} (of them in the Pending queue: {o.pending})",
           f"- False positive: {o.false_positive}", f"- Unclear: {o.unclear}",
           f"- Covered by the taxonomy: {o.covered} (with several categories: {o.multi_category})"]
    if o.off_tree:
        out.append(f"- Final labels naming no live category (left out): {o.off_tree}")
    out += [f"- {markdown_escape(m.label)}: {m.items}" for m in o.methods] + [""]
    if o.strata:
        rows = [[f"v{s.draw_version}", latex_escape(s.stratum), str(s.items), str(s.false_positive), str(s.unclear),
                 str(s.covered), str(s.multi_category), str(s.undecided), str(s.pending)] for s in o.strata]
        rows.append(["", "Total", str(o.items), str(o.false_positive), str(o.unclear), str(o.covered),
                     str(o.multi_category), str(o.undecided), str(o.pending)])
        out += _latex_table("llrrrrrrr", ["Draw", "Stratum", "Items", "False pos.", "Unclear", "Covered",
                                          "Several", "Undecided", "Pending"], rows)
        out += [f"- Stratum {markdown_escape(s.stratum)} of draw v{s.draw_version}: "
                f"{_link('results', s.url, b)}" for s in o.strata] + [""]
    rows = [[latex_escape(m.label), str(m.items)] for m in o.methods]
    rows.append(["Not decided yet", str(o.undecided)])
    out += _latex_table("lr", ["How decided", "Items"], rows)
    return out


def _taxonomy_markdown(report: MethodsReport, b: str) -> list[str]:
    t = report.taxonomy
    out = ["## Taxonomy", "",
           f"Source: {_link('taxonomy', t.url, b)} ({_link('history', t.history_url, b)}).", "",
           f"- Roots: {t.roots}, inner categories: {t.inner}, leaves: {t.leaves}"
           + (f" ({t.proposed} awaiting approval)" if t.proposed else ""),
           f"- Categories added from Pending: {len(t.from_pending)} ({_link('Pending queue', t.pending_url, b)})"]
    out += [f"  - {_link(markdown_escape(p.path), p.url, b)}" + ("" if p.live else " (retired)")
            for p in t.from_pending]
    out.append("")
    out += _latex_table("lr", ["", "Categories"], [["Roots", str(t.roots)], ["Inner", str(t.inner)],
                                                  ["Leaves", str(t.leaves)],
                                                  ["Added from Pending", str(len(t.from_pending))]])
    if t.root_counts:
        out += _latex_table("lr", ["Root", "Posts"], [[latex_escape(r.name), str(r.posts)] for r in t.root_counts])
    return out
