from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header, urlencode
from django.utils.text import slugify

from annotator.studies.access import study_view
from annotator.corpus.selectors import post_find, question_find
from annotator.csv_output import csv_response
from annotator.studies.models import Role
from annotator.form_utils import form_errors_add
from annotator.jobs.progress import job_progress_render

from . import charts, reports, selectors, services
from .forms import ManualDecisionForm, QuestionSetForm
from .models import QuestionSet
from .statistics import summarise_durations


def _set_for(access, set_id: int) -> QuestionSet:
    return selectors.question_set_get(study=access.study, set_id=set_id)


@study_view()
def set_list(request, slug, *, access):
    sets = selectors.question_set_list(study=access.study, with_state=True)
    return render(request, "selection/set_list.html", {"access": access, "study": access.study, "sets": sets})


@study_view(Role.OWNER, methods=["GET", "POST"])
def set_edit(request, slug, set_id=None, *, access):
    question_set = _set_for(access, set_id) if set_id else None
    initial = QuestionSetForm.initial_for(question_set) if question_set else None
    form = QuestionSetForm(request.POST or None, study=access.study, exclude=question_set, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved, job = services.question_set_save_and_evaluate(
                study=access.study, rule=services.QuestionSetRule(**form.rule_fields()),
                question_set=question_set, user=request.user,
            )
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"Set “{saved.name}” saved; evaluating it now.")
            return redirect(f"{saved_url(slug, saved)}?job={job.pk}")
    return render(request, "selection/set_form.html",
                  {"access": access, "study": access.study, "form": form, "question_set": question_set})


def _evaluated_by(question_set: QuestionSet, job) -> bool:
    """The set as read already holds what ``job`` wrote (its evaluation came after the job began)."""
    return (question_set.evaluated_at is not None and job.started_at is not None
            and question_set.evaluated_at >= job.started_at)


def saved_url(slug: str, question_set: QuestionSet) -> str:
    return reverse("selection:set", args=[slug, question_set.pk])


@study_view()
def set_detail(request, slug, set_id, *, access):
    question_set = _set_for(access, set_id)
    job = selectors.question_set_job(question_set=question_set, job_id=request.GET.get("job"))
    if request.htmx and request.GET.get("job"):
        if job is None:
            raise Http404("No such job.")
        return job_progress_render(request, job)  # reloads when done: the new funnel and members
    if job is not None and job.is_finished and not _evaluated_by(question_set, job):
        # Read again after the job: one that ended since the set was read has written its funnel
        # (else the page would show neither the funnel nor the progress that reloads it). A set
        # read after its job wrote it (every later view) is not read twice.
        question_set = _set_for(access, set_id)
    page = Paginator(selectors.member_list(question_set=question_set), 25).get_page(request.GET.get("page"))
    context = {
        "access": access, "study": access.study, "question_set": question_set, "job": job,
        "poll_url": f"{request.path}?job={job.pk}" if job else "",
        "page": page, "rows": selectors.member_rows(question_set=question_set, members=page.object_list),
        "rule": selectors.question_set_rule_summary(question_set=question_set),
        "decisions": selectors.manual_decision_list(question_set=question_set),
        "decision_form": ManualDecisionForm(),
        "staleness": selectors.question_set_staleness(question_set=question_set),
    }
    return render(request, "selection/set_detail.html", context)


@study_view(Role.OWNER, methods=["POST"])
def set_evaluate(request, slug, set_id, *, access):
    question_set = _set_for(access, set_id)
    job = services.question_set_evaluate_start(question_set=question_set, user=request.user)
    return redirect(f"{saved_url(slug, question_set)}?job={job.pk}")


@study_view(Role.OWNER, methods=["POST"])
def set_delete(request, slug, set_id, *, access):
    question_set = _set_for(access, set_id)
    try:
        services.question_set_delete(question_set=question_set)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("selection:set", slug=slug, set_id=set_id)
    messages.success(request, f"Set “{question_set.name}” deleted.")
    return redirect("selection:sets", slug=slug)


@study_view(Role.OWNER, methods=["POST"])
def decision_add(request, slug, set_id, *, access):
    question_set = _set_for(access, set_id)
    form = ManualDecisionForm(request.POST)
    if form.is_valid():
        ref = form.cleaned_data["question"]
        question = question_find(study=access.study, so_id=ref["so_id"], site=ref["site"])
        if question is None:
            messages.error(request, f"No single question {ref['so_id']} in this study"
                                    f"{' on ' + ref['site'] if ref['site'] else ''}: give its full link.")
        else:
            try:
                _decision, job = services.manual_decision_set_and_evaluate(
                    question_set=question_set, post=question, action=form.cleaned_data["action"],
                    reason=form.cleaned_data["reason"], user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Question {ref['so_id']} {form.cleaned_data['action']}d; "
                                          "the set is being evaluated again.")
                return redirect(f"{saved_url(slug, question_set)}?job={job.pk}")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("selection:set", slug=slug, set_id=set_id)


@study_view(Role.OWNER, methods=["POST"])
def decision_remove(request, slug, set_id, post_id, *, access):
    question_set = _set_for(access, set_id)
    post = post_find(study=access.study, post_id=post_id)
    job = post and services.manual_decision_remove_and_evaluate(question_set=question_set, post=post,
                                                                user=request.user)
    if job is not None:
        messages.success(request, "Decision undone; the set is being evaluated again.")
        return redirect(f"{saved_url(slug, question_set)}?job={job.pk}")
    return redirect("selection:set", slug=slug, set_id=set_id)


# -- statistics: tables from the selectors, charts as separate requests -----------

CHART_CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
CHART_NAMES = {"years": "questions per {period}", "response-times": "response times"}
# matplotlib's SVG styles its shapes with style attributes. Opened on its own, the
# SVG gets a policy of its own that allows exactly that, and runs or loads nothing.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _evaluated_set(access, set_id: int) -> QuestionSet:
    """Figures are computed only for a set that has members to count."""
    question_set = _set_for(access, set_id)
    if question_set.evaluated_at is None:
        raise Http404("This set has not been evaluated yet.")
    return question_set


def _set_label(question_set: QuestionSet) -> str:
    return question_set.name if slugify(question_set.name) else f"set {question_set.pk}"


def _file_response(content: bytes, *, content_type: str, filename: str, attachment: bool = True) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition_header(attachment, filename)
    # Figures follow the members and the posts, which change without the URL changing.
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _chart_response(request, figure, *, fmt: str, filename: str) -> HttpResponse:
    response = _file_response(charts.render(figure, fmt), content_type=CHART_CONTENT_TYPES[fmt],
                              filename=filename, attachment="download" in request.GET)
    if fmt == "svg":
        response.headers["Content-Security-Policy"] = SVG_POLICY
    return response


def _period(request) -> str:
    """``?period=`` (month, quarter or year; year when absent). ValidationError otherwise."""
    return selectors.statistics_period(request.GET.get("period"))


def _bad_request(exc: ValidationError) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain; charset=utf-8")


@study_view()
def set_statistics(request, slug, set_id, *, access):
    """The set's figures: a page of its own, or (htmx) its section of the set page;
    per month, quarter or year (``?period=``; 400 with the reason for another value)."""
    question_set = _set_for(access, set_id)
    context = {"access": access, "study": access.study, "question_set": question_set,
               "periods": selectors.Period.choices, "statistics": None, "response_rows": [], "status": 200}
    try:
        context["period"] = _period(request)
    except ValidationError as exc:
        context.update(period=selectors.Period.YEAR, problem=" ".join(exc.messages), status=400)
    else:
        if question_set.evaluated_at:
            statistics = selectors.question_set_statistics(question_set=question_set, period=context["period"])
            context.update(statistics=statistics, response_rows=reports.response_time_rows(
                times=statistics.response_times, durations=statistics.durations))
    context["job"] = selectors.question_set_job(question_set=question_set)
    context["query"] = urlencode({"period": context["period"]})
    template = "selection/set_statistics.html"
    if request.htmx and not request.htmx.boosted:
        template += "#statistics"
    else:
        context["rule"] = selectors.question_set_rule_summary(question_set=question_set)
        context["staleness"] = selectors.question_set_staleness(question_set=question_set)
    return render(request, template, context, status=context["status"])


@study_view()
def set_table_csv(request, slug, set_id, table, *, access):
    question_set = _evaluated_set(access, set_id)
    name = CHART_NAMES[table]
    if table == "years":
        try:
            period = _period(request)
        except ValidationError as exc:
            return _bad_request(exc)
        counts = selectors.questions_per_period(questions=selectors.question_set_posts(question_set=question_set),
                                                period=period)
        header, rows, name = counts.header, counts.rows(), name.format(period=period)
    else:
        # Only the response times: the year table and shares are not in this file.
        times = selectors.response_times(questions=selectors.question_set_posts(question_set=question_set))
        header = reports.RESPONSE_TIME_HEADER
        rows = [(row.measure, row.value, row.unit) for row in reports.response_time_rows(
            times=times, durations=summarise_durations(times.hours))]
    return csv_response(request, header=header, rows=rows, filename=reports.download_filename(
        _set_label(question_set), name, ext="csv"))


@study_view()
def set_chart(request, slug, set_id, chart, fmt, *, access):
    if chart not in CHART_NAMES or fmt not in CHART_CONTENT_TYPES:
        raise Http404("No such chart.")
    question_set = _evaluated_set(access, set_id)
    questions = selectors.question_set_posts(question_set=question_set)
    name = CHART_NAMES[chart]
    if chart == "years":
        try:
            period = _period(request)
        except ValidationError as exc:
            return _bad_request(exc)
        figure = charts.questions_chart(selectors.questions_per_period(questions=questions, period=period),
                                        title=f"{question_set.name}: questions and askers per {period}")
        name = name.format(period=period)
    else:
        figure = charts.response_box_plot([(question_set.name, selectors.response_times(questions=questions).hours)],
                                          title=f"{question_set.name}: time to the accepted answer")
    return _chart_response(request, figure, fmt=fmt,
                           filename=reports.download_filename(_set_label(question_set), name, ext=fmt))


def _sets_to_compare(access, query) -> tuple[QuestionSet | None, QuestionSet | None, str]:
    """The sets named by ``?first=&second=`` (None when not chosen yet; 404 when
    not sets of this study), and why they cannot be compared yet, if so."""
    ids = [query.get("first", ""), query.get("second", "")]
    if not all(i.isdigit() for i in ids if i):
        raise Http404("No such question set.")
    first, second = (_set_for(access, int(i)) if i else None for i in ids)
    if first is None or second is None:
        return first, second, ""
    unevaluated = [f"“{s.name}”" for s in dict.fromkeys((first, second)) if s.evaluated_at is None]
    if unevaluated:
        them = "it" if len(unevaluated) == 1 else "them"
        return first, second, f"{' and '.join(unevaluated)} not evaluated yet: evaluate {them} first."
    return first, second, ""


def _comparable(access, query) -> tuple[QuestionSet, QuestionSet]:
    first, second, problem = _sets_to_compare(access, query)
    if first is None or second is None or problem:
        raise Http404(problem or "Choose two sets.")
    return first, second


@study_view()
def set_compare(request, slug, *, access):
    """The comparison; 400 with the reason for a set compared with itself."""
    first, second, problem = _sets_to_compare(access, request.GET)
    comparison, status = None, 200
    if first is not None and second is not None and not problem:
        try:
            comparison = selectors.question_set_comparison(first=first, second=second)
        except ValidationError as exc:
            problem, status = " ".join(exc.messages), 400
    stale = [staleness for s in (first, second) if comparison and (staleness := selectors.question_set_staleness(
        question_set=s))]
    return render(request, "selection/set_compare.html", {
        "access": access, "study": access.study, "sets": selectors.question_set_list(study=access.study),
        "first": first, "second": second, "problem": problem, "comparison": comparison, "stale": stale,
        "independence": selectors.INDEPENDENCE,
        "query": urlencode({"first": first.pk, "second": second.pk}) if comparison else "",
    }, status=status)


@study_view()
def set_compare_csv(request, slug, *, access):
    first, second = _comparable(access, request.GET)
    try:
        comparison = selectors.question_set_comparison(first=first, second=second)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain; charset=utf-8")
    return csv_response(request, header=("measure", first.name, second.name), rows=comparison.rows(),
                        filename=reports.download_filename(_set_label(first), "vs", _set_label(second),
                                                           "comparison", ext="csv"))


@study_view()
def set_compare_chart(request, slug, fmt, *, access):
    first, second = _comparable(access, request.GET)
    if fmt not in CHART_CONTENT_TYPES:
        raise Http404("No such chart.")
    try:
        selectors.question_set_comparison_check(first=first, second=second)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain; charset=utf-8")
    hours = [(s.name, selectors.response_times(questions=selectors.question_set_posts(question_set=s)).hours)
             for s in (first, second)]
    figure = charts.response_box_plot(hours, title=f"Time to the accepted answer: {first.name} vs {second.name}")
    return _chart_response(request, figure, fmt=fmt, filename=reports.download_filename(
        _set_label(first), "vs", _set_label(second), "response times", ext=fmt))
