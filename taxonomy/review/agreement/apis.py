"""REST API: a study's agreement runs. Owners start one (a background job,
202); owners, arbitrators and viewers read; a member who only rates gets 404
while labelling goes on, like everyone outside the study."""

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import (
    PaginatedApi,
    QueryParams,
    StrictInput,
    paginate,
    query_params,
)
from annotator.csv_output import csv_response
from annotator.jobs.apis import JobOutput
from annotator.studies.models import Role

from . import exports, selectors, services
from .models import AgreementScope


class AgreementStartInput(StrictInput):
    scope = serializers.ChoiceField(choices=AgreementScope.values)
    draw = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                    help_text="draw version (scope draw; optional for stratum)")
    stratum = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                       help_text="stratum id (scope stratum)")
    resamples = serializers.IntegerField(default=services.DEFAULT_RESAMPLES, min_value=0,
                                         max_value=services.MAX_RESAMPLES)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=services.MAX_SEED,
                                    help_text="omit for a fresh one; it is recorded either way")
    confidence = serializers.FloatField(default=services.DEFAULT_CONFIDENCE, min_value=0.5, max_value=0.999)


class AgreementRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    draw = serializers.IntegerField(source="draw.version", default=None, allow_null=True, help_text="draw version")
    stratum = serializers.CharField(source="stratum.name", default=None, allow_null=True)
    stratum_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    job = serializers.IntegerField(source="job_id", allow_null=True)
    parameters = serializers.JSONField()
    draws = serializers.JSONField(help_text="the draws whose labels were read: [{id, version}]")
    taxonomy_version = serializers.IntegerField(allow_null=True)
    items = serializers.IntegerField(help_text="reliability items with at least one label")
    items_in_scope = serializers.IntegerField()
    items_unlabelled = serializers.IntegerField(help_text="items with no label yet: ignored")
    raters = serializers.IntegerField()
    labels = serializers.IntegerField()
    message = serializers.CharField(help_text="why there is no coefficient, when there is none")
    error = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class AgreementRunDetailOutput(AgreementRunOutput):
    label_names = serializers.JSONField(help_text="label key → name when computed")
    taxonomy_version_now = serializers.SerializerMethodField(
        help_text="the current taxonomy version if the tree changed since the run, else null")
    result = serializers.JSONField(help_text="the engine's report: headline coefficients, intervals, reasons, "
                                             "per_category, confusion, rater_summary")

    def get_taxonomy_version_now(self, run) -> int | None:
        return selectors.agreement_taxonomy_changed(run=run)


class AgreementRunListCreateApi(StudyApiMixin, PaginatedApi):
    @extend_schema(responses=AgreementRunOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access(check=selectors.agreement_access)
        return paginate(queryset=selectors.agreement_run_list(study=access.study, user=request.user),
                        serializer_class=AgreementRunOutput, request=request, view=self)

    @extend_schema(request=AgreementStartInput, responses={202: AgreementRunOutput})
    def post(self, request, slug):
        """Start a run (a background job); poll ``/api/jobs/{job}/`` or the run."""
        access = self.get_study_access(Role.OWNER, check=selectors.agreement_access)
        data = AgreementStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        draw, stratum = selectors.agreement_scope_objects(study=access.study, draw_version=values.get("draw"),
                                                          stratum_id=values.get("stratum"))
        run = services.agreement_run_start(
            study=access.study, scope=values["scope"], draw=draw, stratum=stratum,
            resamples=values["resamples"], seed=values.get("seed"), confidence=values["confidence"],
            user=request.user)
        return Response({**AgreementRunOutput(run).data, "job_detail": JobOutput(run.job).data},
                        status=status.HTTP_202_ACCEPTED)


class AgreementRunDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses=AgreementRunDetailOutput)
    def get(self, request, slug, run_id):
        """The run's figures (the page's JSON download is this document)."""
        access = self.get_study_access(check=selectors.agreement_access)
        run = selectors.agreement_run_get(study=access.study, run_id=run_id, user=request.user)
        return Response(AgreementRunDetailOutput(run).data)


class AgreementCsvQuery(QueryParams):
    """``?excel=`` of the CSV download, checked (``csv_response`` reads it)."""

    excel = serializers.BooleanField(default=False, help_text="UTF-8 with a BOM")


class AgreementRunCsvApi(StudyApiMixin, APIView):
    @extend_schema(parameters=[AgreementCsvQuery], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug, run_id):
        """The run as CSV, one row per figure (the same file as the page's download; columns in the README)."""
        query_params(AgreementCsvQuery, request)
        access = self.get_study_access(check=selectors.agreement_access)
        run = selectors.agreement_run_get(study=access.study, run_id=run_id, user=request.user)
        return csv_response(request, header=exports.AGREEMENT_CSV_COLUMNS,
                            rows=exports.agreement_run_csv_rows(run=run),
                            filename=exports.agreement_run_filename(run=run, extension="csv"))
