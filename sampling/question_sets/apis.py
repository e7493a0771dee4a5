"""REST API for question sets: rules, evaluation jobs, members, manual
decisions, and the statistics of one set or of two side by side.

Owners write; any member of the study reads; everyone else gets 404, as for
a set that does not exist."""

import math

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import PaginatedApi, QueryParams, StrictInput, paginate, query_params
from annotator.corpus.selectors import post_find, post_get
from annotator.jobs.apis import JobOutput
from annotator.studies.models import Role

from . import selectors, services
from .models import ManualDecision, QuestionSet, SetReference


# -- output -------------------------------------------------------------------------


class FiniteFloatField(serializers.FloatField):
    """A float that is JSON: NaN and ±∞ become null (strict JSON has neither)."""

    def to_representation(self, value):
        value = super().to_representation(value)
        return value if math.isfinite(value) else None


def _float(**kwargs) -> FiniteFloatField:
    return FiniteFloatField(allow_null=True, **kwargs)


class FunnelStepOutput(serializers.Serializer):
    step = serializers.CharField()
    label = serializers.CharField()
    before = serializers.IntegerField()
    after = serializers.IntegerField()
    kept = serializers.IntegerField()
    dropped = serializers.IntegerField()
    added = serializers.IntegerField()
    without_date = serializers.IntegerField(required=False, help_text="only on the dates step")


class SetChangeOutput(serializers.Serializer):
    """Why a set's last evaluation is out of date."""

    changed = serializers.CharField(source="change.changed",
                                    help_text="the set that changed: this one, or one its rule uses")
    at = serializers.DateTimeField(source="change.at")
    what = serializers.CharField(source="change.what")
    reevaluating = serializers.BooleanField(help_text="an evaluation of the set is queued or running")
    message = serializers.CharField()


class QuestionSetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    words = serializers.ListField(child=serializers.CharField())
    required_words = serializers.ListField(child=serializers.CharField())
    whole_words = serializers.BooleanField()
    search_title = serializers.BooleanField()
    search_body = serializers.BooleanField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    within = serializers.SerializerMethodField()
    union = serializers.SerializerMethodField()
    minus = serializers.SerializerMethodField()
    union_tags = serializers.ListField(child=serializers.CharField())
    all_questions = serializers.BooleanField(help_text="the set holds every question of the study (the other "
                                                       "steps, if any, still apply)")
    member_count = serializers.IntegerField(allow_null=True, help_text="null until the set is evaluated")
    evaluated_at = serializers.DateTimeField(allow_null=True)
    funnel = FunnelStepOutput(many=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    rule_text = serializers.SerializerMethodField(help_text="the rule in words, in the order its steps apply")
    rule_changed_at = serializers.DateTimeField(allow_null=True, help_text="when the rule or a manual decision "
                                                                           "last changed")
    members_changed_at = serializers.DateTimeField(allow_null=True, help_text="when an evaluation last changed "
                                                                              "the members")
    evaluation_job = serializers.SerializerMethodField(help_text="id of the set's latest evaluation job (poll "
                                                                 "/api/jobs/{id}/); null if never evaluated")
    out_of_date = serializers.SerializerMethodField(help_text="why the members are out of date (the rule, a "
                                                              "decision or a set it uses changed after the last "
                                                              "evaluation); null when they are not")

    def get_evaluation_job(self, question_set) -> int | None:
        job = selectors.question_set_job(question_set=question_set)
        return job.pk if job else None

    @extend_schema_field(SetChangeOutput(allow_null=True))
    def get_out_of_date(self, question_set):
        staleness = getattr(question_set, "staleness", False)
        if staleness is False:
            staleness = selectors.question_set_staleness(question_set=question_set)
        return SetChangeOutput(staleness).data if staleness else None

    def get_rule_text(self, question_set) -> str:
        return getattr(question_set, "rule_text", None) or selectors.question_set_rule_summary(
            question_set=question_set
        )

    def _names(self, question_set, kind) -> list[str]:
        return sorted(ref.target.name for ref in question_set.references.all() if ref.kind == kind)

    def get_within(self, question_set) -> list[str]:
        return self._names(question_set, SetReference.Kind.WITHIN)

    def get_union(self, question_set) -> list[str]:
        return self._names(question_set, SetReference.Kind.UNION)

    def get_minus(self, question_set) -> list[str]:
        return self._names(question_set, SetReference.Kind.MINUS)


class QuestionSetMemberOutput(serializers.Serializer):
    post = serializers.IntegerField(source="post.pk")
    so_id = serializers.IntegerField(source="post.so_id")
    site = serializers.CharField(source="post.site")
    title = serializers.CharField(source="post.title")
    tags = serializers.ListField(child=serializers.CharField(), source="post.tag_list")
    creation_date = serializers.DateTimeField(source="post.creation_date", allow_null=True)
    matched_words = serializers.ListField(child=serializers.CharField())


class ManualDecisionOutput(serializers.Serializer):
    post = serializers.IntegerField(source="post.pk")
    so_id = serializers.IntegerField(source="post.so_id")
    site = serializers.CharField(source="post.site")
    title = serializers.CharField(source="post.title")
    action = serializers.ChoiceField(choices=ManualDecision.Action.choices)
    reason = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    decided_at = serializers.DateTimeField()


class SetRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PeriodRowOutput(serializers.Serializer):
    period = serializers.CharField(source="label", help_text="2020 (year), 2020-Q1 (quarter) or 2020-03 (month)")
    start = serializers.DateField(help_text="the period's first day (UTC)")
    questions = serializers.IntegerField()
    askers = serializers.IntegerField(help_text="distinct askers of the period's questions")


class PeriodTableOutput(serializers.Serializer):
    period = serializers.ChoiceField(choices=selectors.Period.choices)
    rows = PeriodRowOutput(many=True, source="periods",
                           help_text="every period from the first to the last question's, gaps as zeros")
    questions = serializers.IntegerField()
    askers = serializers.IntegerField(help_text="distinct over all questions, not the sum of the periods")
    without_date = serializers.IntegerField()
    without_owner = serializers.IntegerField()


class AcceptedShareOutput(serializers.Serializer):
    questions = serializers.IntegerField()
    with_accepted = serializers.IntegerField()
    without_accepted = serializers.IntegerField()
    share_without_accepted = _float(help_text="null for an empty set")


class ResponseTimesOutput(serializers.Serializer):
    measured = serializers.SerializerMethodField(help_text="questions with a measured response time")
    without_accepted = serializers.IntegerField()
    answer_not_in_study = serializers.IntegerField()
    question_without_date = serializers.IntegerField()
    answer_without_date = serializers.IntegerField()
    answer_before_question = serializers.IntegerField()
    skipped_total = serializers.IntegerField()

    def get_measured(self, times) -> int:
        return len(times.hours)


class DurationSummaryOutput(serializers.Serializer):
    """Hours from a question to its accepted answer."""

    n = serializers.IntegerField()
    median = _float()
    q1 = _float()
    q3 = _float()
    minimum = _float()
    maximum = _float()
    whisker_low = _float()
    whisker_high = _float()
    outliers = serializers.IntegerField()


class QuestionSetStatisticsOutput(serializers.Serializer):
    question_set = SetRefOutput()
    evaluated_at = serializers.DateTimeField(source="question_set.evaluated_at", allow_null=True)
    periods = PeriodTableOutput(help_text="questions and askers per month, quarter or year (``period``)")
    accepted = AcceptedShareOutput()
    response_times = ResponseTimesOutput()
    response_hours = DurationSummaryOutput(source="durations")


class ProportionTestOutput(serializers.Serializer):
    """χ² test (df = 1) of the shares of questions without an accepted answer;
    x = such questions, n = questions, first set first."""

    x1 = serializers.IntegerField()
    n1 = serializers.IntegerField()
    x2 = serializers.IntegerField()
    n2 = serializers.IntegerField()
    p1 = _float()
    p2 = _float()
    df = serializers.IntegerField()
    chi2 = _float(help_text="uncorrected (Pearson)")
    p_value = _float()
    chi2_corrected = _float(help_text="with Yates' continuity correction")
    p_value_corrected = _float()
    undefined_reason = serializers.CharField(help_text="why χ² is null; empty when it is defined")


class QuestionSetComparisonOutput(serializers.Serializer):
    first = SetRefOutput()
    second = SetRefOutput()
    first_accepted = AcceptedShareOutput()
    second_accepted = AcceptedShareOutput()
    test = ProportionTestOutput()
    first_response_hours = DurationSummaryOutput(source="first_durations")
    second_response_hours = DurationSummaryOutput(source="second_durations")
    first_median_hours = _float(source="first_durations.median")
    second_median_hours = _float(source="second_durations.median")
    overlap = serializers.IntegerField(help_text="questions in both sets (the χ² test assumes none)")
    overlap_note = serializers.CharField(help_text="what the overlap means for the test; empty when the sets "
                                                   "share no question")


# -- input --------------------------------------------------------------------------


def _names(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), required=False, default=list, help_text=help_text)


class _RuleInput(StrictInput):
    """A whole rule; a field left out takes its default (PUT replaces the rule)."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    within = _names("start from the union of these sets (by name); empty: every question")
    tags = _names("keep questions carrying any of these tags")
    words = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list,
        help_text="keep questions containing any of these words or phrases (literal, case-insensitive)",
    )
    required_words = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list,
        help_text="…and at least one of these too",
    )
    whole_words = serializers.BooleanField(required=False, default=True)
    search_title = serializers.BooleanField(required=False, default=True)
    search_body = serializers.BooleanField(required=False, default=True, help_text="the body without its code")
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    union = _names("plus the members of these sets (by name)")
    union_tags = _names("plus questions carrying any of these tags")
    minus = _names("minus the members of these sets (by name)")
    all_questions = serializers.BooleanField(required=False, default=False,
                                             help_text="every question of the study: no other step is needed")

    def rule(self) -> services.QuestionSetRule:
        return services.QuestionSetRule(**self.validated_data)


def _rule_save(*, data: _RuleInput, study, question_set: QuestionSet | None = None, user=None) -> QuestionSet:
    data.is_valid(raise_exception=True)
    saved, _job = services.question_set_save_and_evaluate(study=study, rule=data.rule(), question_set=question_set,
                                                          user=user)
    return selectors.question_set_get(study=study, set_id=saved.pk)  # fresh, with its references


# -- endpoints ----------------------------------------------------------------------


class QuestionSetListCreateApi(StudyApiMixin, PaginatedApi):
    class InputSerializer(_RuleInput):
        class Meta:
            ref_name = "QuestionSetCreateInput"

    @extend_schema(responses=QuestionSetOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        return paginate(queryset=selectors.question_set_list(study=access.study, with_state=True),
                        serializer_class=QuestionSetOutput, request=request, view=self)

    @extend_schema(request=InputSerializer, responses={201: QuestionSetOutput},
                   description="Define a set; its evaluation is queued at once (``evaluation_job``).")
    def post(self, request, slug):
        access = self.get_study_access(Role.OWNER)
        question_set = _rule_save(data=self.InputSerializer(data=request.data), study=access.study, user=request.user)
        return Response(QuestionSetOutput(question_set).data, status=status.HTTP_201_CREATED)


class QuestionSetDetailApi(StudyApiMixin, APIView):
    class InputSerializer(_RuleInput):
        class Meta:
            ref_name = "QuestionSetReplaceInput"

    @extend_schema(responses=QuestionSetOutput)
    def get(self, request, slug, set_id):
        access = self.get_study_access()
        return Response(QuestionSetOutput(selectors.question_set_get(study=access.study, set_id=set_id)).data)

    @extend_schema(request=InputSerializer, responses=QuestionSetOutput,
                   description="Replace the rule; the set is evaluated again at once (``evaluation_job``).")
    def put(self, request, slug, set_id):
        access = self.get_study_access(Role.OWNER)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        question_set = _rule_save(data=self.InputSerializer(data=request.data), study=access.study,
                                  question_set=question_set, user=request.user)
        return Response(QuestionSetOutput(question_set).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug, set_id):
        access = self.get_study_access(Role.OWNER)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        services.question_set_delete(question_set=question_set)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionSetEvaluateApi(StudyApiMixin, APIView):
    @extend_schema(request=None, responses={202: JobOutput},
                   description="Queue the evaluation of the set (and of every set its rule uses); "
                               "poll the job at /api/jobs/{id}/.")
    def post(self, request, slug, set_id):
        access = self.get_study_access(Role.OWNER)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        job = services.question_set_evaluate_start(question_set=question_set, user=request.user)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class QuestionSetMemberListApi(StudyApiMixin, PaginatedApi):
    @extend_schema(responses=QuestionSetMemberOutput(many=True),
                   description="The members of the last evaluation, newest first.")
    def get(self, request, slug, set_id):
        access = self.get_study_access()
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        return paginate(queryset=selectors.member_list(question_set=question_set),
                        serializer_class=QuestionSetMemberOutput, request=request, view=self)


class ManualDecisionListCreateApi(StudyApiMixin, PaginatedApi):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ManualDecisionInput"

        post = serializers.IntegerField(help_text="the question's id in this API (not its Stack Exchange id)")
        action = serializers.ChoiceField(choices=ManualDecision.Action.choices)
        reason = serializers.CharField(max_length=1000)

    @extend_schema(responses=ManualDecisionOutput(many=True))
    def get(self, request, slug, set_id):
        access = self.get_study_access()
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        return paginate(queryset=selectors.manual_decision_list(question_set=question_set),
                        serializer_class=ManualDecisionOutput, request=request, view=self)

    @extend_schema(request=InputSerializer, responses={201: ManualDecisionOutput},
                   description="Include or exclude one question by hand (replaces an earlier decision on it); "
                               "the set is evaluated again at once (the set's ``evaluation_job``).")
    def post(self, request, slug, set_id):
        access = self.get_study_access(Role.OWNER)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = post_find(study=access.study, post_id=data.validated_data["post"])
        if post is None:
            raise serializers.ValidationError({"post": ["No such question in this study."]})
        decision, _job = services.manual_decision_set_and_evaluate(
            question_set=question_set, post=post, action=data.validated_data["action"],
            reason=data.validated_data["reason"], user=request.user,
        )
        return Response(ManualDecisionOutput(decision).data, status=status.HTTP_201_CREATED)


class ManualDecisionDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses={204: None}, description="Undo the decision on this question; the set is evaluated "
                                                      "again at once (nothing happens if there was none).")
    def delete(self, request, slug, set_id, post_id):
        access = self.get_study_access(Role.OWNER)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        post = post_get(study=access.study, post_id=post_id)
        services.manual_decision_remove_and_evaluate(question_set=question_set, post=post, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionSetStatisticsApi(StudyApiMixin, APIView):
    class InputSerializer(QueryParams):
        class Meta:
            ref_name = "QuestionSetStatisticsQuery"

        period = serializers.ChoiceField(choices=selectors.Period.choices, required=False,
                                         default=selectors.Period.YEAR,
                                         help_text="count questions and askers per month, quarter or year (UTC)")

    @extend_schema(parameters=[InputSerializer], responses=QuestionSetStatisticsOutput,
                   description="Figures over the members of the last evaluation: questions and askers per month, "
                               "quarter or year, the share without an accepted answer, hours to the accepted answer. "
                               "Another period than month, quarter or year is a 400 naming it.")
    def get(self, request, slug, set_id):
        access = self.get_study_access()
        query = query_params(self.InputSerializer, request)
        question_set = selectors.question_set_get(study=access.study, set_id=set_id)
        statistics = selectors.question_set_statistics(question_set=question_set, period=query["period"])
        return Response(QuestionSetStatisticsOutput(statistics).data)


class QuestionSetComparisonApi(StudyApiMixin, APIView):
    class InputSerializer(QueryParams):
        class Meta:
            ref_name = "QuestionSetCompareQuery"

        a = serializers.IntegerField(help_text="id of the first set")
        b = serializers.IntegerField(help_text="id of the second set")

    @extend_schema(
        parameters=[InputSerializer],
        responses=QuestionSetComparisonOutput,
        description="χ² test (with and without Yates' correction) of the shares of questions without an "
                    "accepted answer, and both sets' response times. Undefined figures are null, with the reason. "
                    "The test assumes two independent samples: `overlap` counts the questions in both sets and "
                    "`overlap_note` says what that means. A set compared with itself (or with a set of the same "
                    "questions) is refused: 400 with the reason.",
    )
    def get(self, request, slug):
        access = self.get_study_access()
        query = query_params(self.InputSerializer, request)
        first = selectors.question_set_get(study=access.study, set_id=query["a"])
        second = selectors.question_set_get(study=access.study, set_id=query["b"])
        comparison = selectors.question_set_comparison(first=first, second=second)
        return Response(QuestionSetComparisonOutput(comparison).data)
