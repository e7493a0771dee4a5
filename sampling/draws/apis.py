"""REST API: the sample-size calculator, and a study's draws (design preview,
start, design table, items, per-rater progress, redistribution, freezing).

Owners draw; every member reads; everyone else gets 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import PaginatedApi, QueryParams, StrictInput, paginate, query_params
from annotator.jobs.apis import JobOutput
from annotator.studies.models import Role

from . import selectors, services
from .design import MAX_SEED, DrawDesign, StratumChoice
from .models import ItemPart, StratumMode
from .sample_size import ROUNDINGS


class SampleSizeApi(APIView):
    # Not QueryParams: the population is no row's id, and any size is computed (no database).
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SampleSizeInput"

        population = serializers.IntegerField()
        confidence = serializers.FloatField(default=0.95)
        margin = serializers.FloatField(default=0.05)
        proportion = serializers.FloatField(default=0.5)
        rounding = serializers.ChoiceField(choices=ROUNDINGS, default="ceil")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SampleSize"

        population = serializers.IntegerField()
        confidence = serializers.FloatField()
        margin = serializers.FloatField()
        proportion = serializers.FloatField()
        rounding = serializers.CharField()
        z = serializers.FloatField()
        n0 = serializers.FloatField()
        exact = serializers.FloatField(help_text="n₀ / (1 + (n₀ − 1)/N), before rounding")
        n = serializers.IntegerField()
        note = serializers.CharField(help_text="why n is not the rounded exact value (n₀ = 0, or a bound below "
                                               "one post: n is at least 1); empty otherwise")

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        result = selectors.sample_size_get(**query_params(self.InputSerializer, request))
        return Response(self.OutputSerializer(result).data)


# -- draws ------------------------------------------------------------------------------


class StratumInput(StrictInput):
    question_set = serializers.IntegerField(help_text="id of an evaluated question set of the study")
    mode = serializers.ChoiceField(choices=StratumMode.values, default=StratumMode.CALCULATED)
    n = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="only for mode=override")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text="why n is set by hand (required for mode=override)")


class DesignInput(StrictInput):
    strata = StratumInput(many=True, help_text="in order: a post in several strata counts in the first")
    confidence = serializers.FloatField(default=0.95)
    margin = serializers.FloatField(default=0.05)
    proportion = serializers.FloatField(default=0.5)
    rounding = serializers.ChoiceField(choices=ROUNDINGS, default="ceil")
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_SEED,
                                    help_text="omit for a fresh one; it is recorded either way")
    pilot_share = serializers.FloatField(default=0.3)
    raters_per_item = serializers.IntegerField(default=2)
    raters = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True,
                                   help_text="user ids; omit for every rater of the study")

    def design(self) -> DrawDesign:
        data = self.validated_data
        raters = data.get("raters")
        return DrawDesign(
            strata=tuple(StratumChoice(question_set_id=s["question_set"], mode=s["mode"], n=s.get("n"),
                                       reason=s.get("reason", "")) for s in data["strata"]),
            confidence=data["confidence"], margin=data["margin"], proportion=data["proportion"],
            rounding=data["rounding"], seed=data.get("seed"), pilot_share=data["pilot_share"],
            raters_per_item=data["raters_per_item"], rater_ids=tuple(raters) if raters is not None else None)


class DrawStartInput(DesignInput):
    expected_version = serializers.IntegerField(
        required=False, allow_null=True, min_value=0,
        help_text="the latest version you know of (0 for none): refused if someone drew since")


class StratumOutput(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    question_set = serializers.IntegerField(source="question_set_id", allow_null=True)
    mode = serializers.CharField()
    census = serializers.BooleanField()
    override_n = serializers.IntegerField(allow_null=True)
    override_reason = serializers.CharField()
    set_size = serializers.IntegerField()
    overlap_removed = serializers.IntegerField(help_text="members counted in an earlier stratum")
    population = serializers.IntegerField(help_text="N")
    n_exact = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(allow_null=True)
    drawn = serializers.IntegerField()
    pilot = serializers.IntegerField()
    reliability = serializers.IntegerField()
    population_digest = serializers.CharField(
        help_text="SHA-256 of the set's members drawn from: algorithm 2, of the UTF-8 lines site<TAB>id<LF> in "
                  "(site, id) order; algorithm 1, of the sorted database ids")


class RaterWorkloadOutput(serializers.Serializer):
    rater = serializers.CharField(source="username")
    assigned = serializers.IntegerField()
    by_stratum = serializers.SerializerMethodField(help_text="stratum name → assigned")

    def get_by_stratum(self, workload) -> dict[str, dict[str, int]]:
        names = self.context["stratum_names"]
        return {names[pk]: {"assigned": a} for pk, a in workload.by_stratum.items()}


class DrawOutput(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()
    seed = serializers.IntegerField()
    algorithm = serializers.IntegerField(help_text="version of the drawing algorithm (README, “Drawing the sample”)")
    confidence = serializers.FloatField()
    margin = serializers.FloatField()
    proportion = serializers.FloatField()
    rounding = serializers.CharField()
    pilot_share = serializers.FloatField()
    raters_per_item = serializers.IntegerField()
    rater_ids = serializers.ListField(child=serializers.IntegerField())
    sample_size = serializers.IntegerField()
    pilot_size = serializers.IntegerField()
    reliability_size = serializers.IntegerField()
    frozen = serializers.BooleanField(source="is_frozen")
    error = serializers.CharField()
    job = serializers.IntegerField(source="job_id", allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    drawn_at = serializers.DateTimeField(allow_null=True)
    labelling_started_at = serializers.DateTimeField(allow_null=True)


class DrawDetailOutput(DrawOutput):
    strata = serializers.SerializerMethodField()
    raters = serializers.SerializerMethodField(
        help_text="reliability items assigned per rater: every rater for owners, the caller's own for the others "
                  "(labelled counts: /api/studies/{slug}/labelling/progress/)")
    changed_since = serializers.SerializerMethodField(help_text="what happened to the strata's sets since the draw")

    def get_strata(self, draw) -> list[dict]:
        return StratumOutput(self.context["strata"], many=True).data

    def get_raters(self, draw) -> list[dict]:
        names = {s.pk: s.name for s in self.context["strata"]}
        workload = selectors.draw_rater_workload(draw=draw, membership=self.context["access"].membership)
        return RaterWorkloadOutput(workload, many=True, context={"stratum_names": names}).data

    def get_changed_since(self, draw) -> list[dict]:
        return [{"stratum": d.name, "message": d.message}
                for d in selectors.draw_drift(draw=draw, strata=self.context["strata"])]


def _draw_detail(draw, *, access) -> dict:
    return DrawDetailOutput(draw, context={"strata": selectors.draw_strata(draw=draw), "access": access}).data


class DrawListCreateApi(StudyApiMixin, PaginatedApi):
    @extend_schema(responses=DrawOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        return paginate(queryset=selectors.draw_list(study=access.study), serializer_class=DrawOutput,
                        request=request, view=self)

    @extend_schema(request=DrawStartInput, responses={202: DrawOutput})
    def post(self, request, slug):
        """Start a draw (a background job); poll ``/api/jobs/{job}/`` or this draw. A design the
        preview says cannot be drawn is refused (400, the reasons under ``strata``); no version is used."""
        access = self.get_study_access(Role.OWNER)
        data = DrawStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        draw = services.sample_draw_start(study=access.study, design=data.design(), user=request.user,
                                          expected_version=data.validated_data.get("expected_version"))
        return Response({**DrawOutput(draw).data, "job_detail": JobOutput(draw.job).data},
                        status=status.HTTP_202_ACCEPTED)


class DrawPreviewApi(StudyApiMixin, APIView):
    class PreviewRowOutput(serializers.Serializer):
        name = serializers.CharField()
        question_set = serializers.IntegerField(source="question_set_id")
        set_size = serializers.IntegerField()
        overlap_removed = serializers.IntegerField()
        population = serializers.IntegerField()
        mode = serializers.CharField()
        census = serializers.BooleanField()
        n_exact = serializers.FloatField(allow_null=True)
        n = serializers.IntegerField(allow_null=True)
        error = serializers.CharField()
        warning = serializers.CharField()

    class PreviewOutput(serializers.Serializer):
        rows = serializers.SerializerMethodField()
        sample_size = serializers.IntegerField()
        pilot = serializers.IntegerField()
        reliability = serializers.IntegerField()
        raters = serializers.IntegerField()
        raters_per_item = serializers.IntegerField()
        per_rater = serializers.FloatField()
        drawable = serializers.BooleanField(help_text="false when a row has an error: starting this draw is refused "
                                                      "(400) with the same reasons")

        def get_rows(self, preview) -> list[dict]:
            return DrawPreviewApi.PreviewRowOutput(preview.rows, many=True).data

    @extend_schema(request=DesignInput, responses=PreviewOutput)
    def post(self, request, slug):
        """The design table (N after overlap, n exact, n) without drawing; a stratum that cannot be
        drawn has its reason in ``error`` (and ``drawable`` is false)."""
        access = self.get_study_access(Role.OWNER)
        data = DesignInput(data=request.data)
        data.is_valid(raise_exception=True)
        _, preview = selectors.draw_design_check(study=access.study, design=data.design())
        return Response(self.PreviewOutput(preview).data)


class DrawDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses=DrawDetailOutput)
    def get(self, request, slug, version):
        access = self.get_study_access()
        return Response(_draw_detail(selectors.draw_get(study=access.study, version=version), access=access))


class DrawRedistributeApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        pilot_share = serializers.FloatField()
        raters_per_item = serializers.IntegerField()
        raters = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={202: DrawOutput, 400: None})
    def post(self, request, slug, version):
        """Split the same posts again and/or assign them to other raters; refused once frozen."""
        access = self.get_study_access(Role.OWNER)
        draw = selectors.draw_get(study=access.study, version=version)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draw = services.sample_draw_redistribute_start(draw=draw, user=request.user,
                                                       pilot_share=data.validated_data["pilot_share"],
                                                       raters_per_item=data.validated_data["raters_per_item"],
                                                       rater_ids=data.validated_data.get("raters"))
        return Response(DrawOutput(draw).data, status=status.HTTP_202_ACCEPTED)


class DrawLabellingStartApi(StudyApiMixin, APIView):
    @extend_schema(request=None, responses=DrawOutput)
    def post(self, request, slug, version):
        """Start labelling: the draw is frozen from now on."""
        access = self.get_study_access(Role.OWNER)
        draw = selectors.draw_get(study=access.study, version=version)
        draw = services.sample_draw_labelling_start(draw=draw, user=request.user)
        return Response(DrawOutput(draw).data)


class DrawItemListApi(StudyApiMixin, PaginatedApi):
    class ItemOutput(serializers.Serializer):
        post = serializers.IntegerField(source="post_id")
        so_id = serializers.IntegerField(source="post.so_id")
        site = serializers.CharField(source="post.site")
        title = serializers.CharField(source="post.title")
        stratum = serializers.CharField(source="stratum.name")
        part = serializers.CharField()

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "DrawItemQuery"

        stratum = serializers.IntegerField(required=False, min_value=0, help_text="stratum position (0 = first)")
        part = serializers.ChoiceField(choices=ItemPart.values, required=False)

    @extend_schema(parameters=[QuerySerializer], responses=ItemOutput(many=True))
    def get(self, request, slug, version):
        access = self.get_study_access()
        draw = selectors.draw_get(study=access.study, version=version)
        query = query_params(self.QuerySerializer, request)
        stratum_id = None
        if "stratum" in query:
            stratum = selectors.draw_stratum_at(draw=draw, position=query["stratum"])
            if stratum is None:
                raise serializers.ValidationError({"stratum": "No stratum at that position in this draw."})
            stratum_id = stratum.pk
        return paginate(queryset=selectors.draw_items(draw=draw, stratum_id=stratum_id, part=query.get("part")),
                        serializer_class=self.ItemOutput, request=request, view=self)
