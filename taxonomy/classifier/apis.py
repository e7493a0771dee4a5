"""Classifier API: train, list, detail (with the cross-validated report), estimate, the estimate's
shares, and the CSV downloads. The same services and selectors as the pages; the same rule for
who may see them (``selectors.classifier_access``: a 404 for a member who may not see every label
now; training and estimating for owners and arbitrators, a 403 for the other members)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import StrictInput, query_params
from annotator.csv_output import csv_response
from annotator.jobs.apis import JobOutput
from taxonomy.results.apis import CsvQuery
from taxonomy.tree.selectors import taxonomy_version

from . import selectors, services
from .models import TaxonomyLevel


def _version_context(allowed) -> dict:
    """What the outputs need to say whether a model is older than the tree."""
    return {"version": taxonomy_version(study=allowed.study)}


class ClassifierModelOutput(serializers.Serializer):
    class Meta:
        ref_name = "ClassifierModel"

    id = serializers.IntegerField()
    level = serializers.CharField(help_text="root, inner or leaf")
    seed = serializers.IntegerField()
    params = serializers.JSONField(help_text="every parameter of the features, the model and the folds")
    keywords = serializers.JSONField(help_text="category id → keywords weighted in")
    taxonomy_version = serializers.IntegerField(help_text="the study's latest tree change id when trained")
    outdated = serializers.SerializerMethodField(help_text="the tree has changed since the model was trained")
    trained = serializers.BooleanField(source="is_trained")
    categories = serializers.JSONField(help_text="[{id, path, posts}] in the order of the scores")
    too_few = serializers.JSONField(help_text="categories not predicted for too few posts: [{id, path, posts, needed}]")
    excluded = serializers.JSONField(help_text="final labels not trained on, by reason")
    job = JobOutput(allow_null=True)
    created_at = serializers.DateTimeField()
    trained_at = serializers.DateTimeField(allow_null=True)

    def get_outdated(self, model) -> bool:
        return selectors.model_is_outdated(model=model, version=self.context["version"])


class ClassifierModelDetailOutput(ClassifierModelOutput):
    class Meta:
        ref_name = "ClassifierModelDetail"

    training_items = serializers.JSONField(help_text="[[post id, [category id, ...]], ...]")
    cv_report = serializers.JSONField(help_text="cross-validated figures of the model and the keyword baseline")


class ClassifierEstimateOutput(serializers.Serializer):
    class Meta:
        ref_name = "ClassifierEstimate"

    id = serializers.IntegerField()
    model = serializers.IntegerField(source="model_id")
    question_set = serializers.IntegerField(source="question_set_id", allow_null=True)
    question_set_name = serializers.CharField()
    seed = serializers.IntegerField()
    taxonomy_version = serializers.IntegerField(help_text="the model's: predictions keep it")
    outdated = serializers.SerializerMethodField()
    set_size = serializers.IntegerField()
    sampled = serializers.IntegerField()
    predicted = serializers.IntegerField()
    shares = serializers.JSONField(help_text="per category: predicted, observed, estimate, low, high, tpr, fpr, "
                                             "adjusted, sample {count, n, share, low, high}")
    method = serializers.CharField()
    job = JobOutput(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_outdated(self, estimate) -> bool:
        return selectors.model_is_outdated(model=estimate.model, version=self.context["version"])


class ClassifierModelListCreateApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ClassifierTrainInput"

        level = serializers.ChoiceField(choices=TaxonomyLevel.values)
        seed = serializers.IntegerField(required=False, allow_null=True, min_value=0)
        params = serializers.DictField(required=False, help_text="any of the parameters a model records")
        keywords = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                         required=False, help_text="category id or path → keywords")

    @extend_schema(responses=ClassifierModelOutput(many=True))
    def get(self, request, slug):
        """The study's classifier models, newest first."""
        allowed = self.get_study_access(check=selectors.classifier_access)
        context = _version_context(allowed)
        return Response(ClassifierModelOutput(selectors.model_list(study=allowed.study), many=True,
                                              context=context).data)

    @extend_schema(request=InputSerializer, responses={202: ClassifierModelOutput})
    def post(self, request, slug):
        """Train a model in the background (a 400 says how many labelled posts or categories are
        missing); poll the model or ``/api/jobs/{id}/``."""
        allowed = self.get_study_access(check=selectors.classifier_access, train=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        model = services.classifier_train_start(study=allowed.study, user=request.user, level=values["level"],
                                                params=values.get("params"), keywords=values.get("keywords"),
                                                seed=values.get("seed"))
        context = _version_context(allowed)
        return Response(ClassifierModelOutput(model, context=context).data, status=status.HTTP_202_ACCEPTED)


class ClassifierModelDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses=ClassifierModelDetailOutput)
    def get(self, request, slug, model_id):
        """One model: its parameters, training items and cross-validated report."""
        allowed = self.get_study_access(check=selectors.classifier_access)
        model = selectors.model_get(study=allowed.study, model_id=model_id)
        context = _version_context(allowed)
        return Response(ClassifierModelDetailOutput(model, context=context).data)


class ClassifierEstimateListCreateApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ClassifierEstimateInput"

        question_set = serializers.IntegerField(min_value=1)
        seed = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    @extend_schema(responses=ClassifierEstimateOutput(many=True))
    def get(self, request, slug, model_id):
        """The model's estimates."""
        allowed = self.get_study_access(check=selectors.classifier_access)
        model = selectors.model_get(study=allowed.study, model_id=model_id)
        context = _version_context(allowed)
        return Response(ClassifierEstimateOutput(selectors.estimate_list(study=allowed.study, model=model),
                                                 many=True, context=context).data)

    @extend_schema(request=InputSerializer, responses={202: ClassifierEstimateOutput})
    def post(self, request, slug, model_id):
        """Estimate each category's share over the question set's unsampled posts (a job)."""
        allowed = self.get_study_access(check=selectors.classifier_access, train=True)
        model = selectors.model_get(study=allowed.study, model_id=model_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        estimate = services.classifier_estimate_start(study=allowed.study, user=request.user, model=model,
                                                      question_set_id=data.validated_data["question_set"],
                                                      seed=data.validated_data.get("seed"))
        context = _version_context(allowed)
        return Response(ClassifierEstimateOutput(estimate, context=context).data, status=status.HTTP_202_ACCEPTED)


class ClassifierEstimateDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses=ClassifierEstimateOutput)
    def get(self, request, slug, estimate_id):
        """One estimate: the shares with their 95 % intervals, next to the sample's."""
        allowed = self.get_study_access(check=selectors.classifier_access)
        estimate = selectors.estimate_get(study=allowed.study, estimate_id=estimate_id)
        context = _version_context(allowed)
        return Response(ClassifierEstimateOutput(estimate, context=context).data)


class ClassifierEstimateCsvApi(StudyApiMixin, APIView):
    @extend_schema(parameters=[CsvQuery], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug, estimate_id):
        """The estimate as CSV: one row per category, the method with its references in each row."""
        query_params(CsvQuery, request)
        allowed = self.get_study_access(check=selectors.classifier_access)
        estimate = selectors.estimate_finished_get(study=allowed.study, estimate_id=estimate_id)
        return csv_response(request, header=selectors.ESTIMATE_COLUMNS,
                            rows=selectors.estimate_csv_rows(estimate=estimate),
                            filename=f"{slug}-estimate-{estimate.pk}.csv")


class ClassifierPredictionsCsvApi(StudyApiMixin, APIView):
    @extend_schema(parameters=[CsvQuery], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug, estimate_id):
        """Every unsampled post's predicted categories and scores (streamed CSV)."""
        query_params(CsvQuery, request)
        allowed = self.get_study_access(check=selectors.classifier_access)
        estimate = selectors.estimate_finished_get(study=allowed.study, estimate_id=estimate_id)
        return csv_response(request, header=selectors.prediction_csv_header(estimate=estimate),
                            rows=selectors.prediction_csv_rows(estimate=estimate),
                            filename=f"{slug}-predictions-{estimate.pk}.csv")
