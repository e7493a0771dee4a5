from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api_utils import as_drf_error, paginate
from annotator.jobs.apis import JobOutput
from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from annotator.studies.models import Role
from annotator.studies.selectors import study_get_for_user

from . import selectors, services
from .models import PostType
from .sanitize import post_html_sanitize
from .upload_limits import upload_refusal


class PostSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    site = serializers.CharField()
    so_id = serializers.IntegerField()
    post_type = serializers.ChoiceField(choices=PostType.choices)
    parent_so_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), source="tag_list")
    creation_date = serializers.DateTimeField(allow_null=True)
    score = serializers.IntegerField(allow_null=True)
    view_count = serializers.IntegerField(allow_null=True)
    answer_count = serializers.IntegerField(allow_null=True)
    comment_count = serializers.IntegerField(allow_null=True)
    owner_user_id = serializers.IntegerField(allow_null=True)
    accepted_answer_so_id = serializers.IntegerField(allow_null=True)
    original_url = serializers.URLField()


class CommentOutput(serializers.Serializer):
    so_id = serializers.IntegerField()
    score = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()
    creation_date = serializers.DateTimeField(allow_null=True)
    user_id = serializers.IntegerField(allow_null=True)


class PostDetailOutput(PostSummaryOutput):
    body_html = serializers.SerializerMethodField(help_text="the body, sanitised (no script, handler or js: URL)")
    is_accepted = serializers.SerializerMethodField()
    comments = serializers.SerializerMethodField()

    def get_body_html(self, post) -> str:
        return post_html_sanitize(post.body)

    def get_is_accepted(self, post) -> bool:
        return self.context["thread"].accepted_so_id == post.so_id and not post.is_question

    def get_comments(self, post) -> list[dict]:
        return CommentOutput(self.context["thread"].comments.get(post.so_id, []), many=True).data


class PostListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="words in title or body"),
            OpenApiParameter("tag", OpenApiTypes.STR),
            OpenApiParameter("year", OpenApiTypes.INT),
            OpenApiParameter("type", OpenApiTypes.INT, description="1 questions (default), 2 answers, 0 both"),
        ],
        responses=PostSummaryOutput(many=True),
    )
    def get(self, request, slug):
        access = study_get_for_user(slug=slug, user=request.user)
        params = request.query_params
        try:
            year = int(params["year"]) if params.get("year") else None
            post_type = int(params.get("type", PostType.QUESTION)) or None
        except ValueError:
            raise serializers.ValidationError({"detail": "year and type must be whole numbers"}) from None
        filters = selectors.PostFilters(
            q=params.get("q", ""), tag=params.get("tag", ""), year=year, post_type=post_type
        )
        return paginate(
            queryset=selectors.post_list(study=access.study, filters=filters),
            serializer_class=PostSummaryOutput, request=request, view=self,
        )


class PostDetailApi(APIView):
    @extend_schema(responses=PostDetailOutput)
    def get(self, request, slug, post_id):
        access = study_get_for_user(slug=slug, user=request.user)
        post = selectors.post_get(study=access.study, post_id=post_id)
        thread = selectors.post_thread(post=post)
        context = {"thread": thread}
        data = PostDetailOutput(post, context=context).data
        data["question_id"] = thread.question.pk
        data["answers"] = PostDetailOutput(thread.answers, many=True, context=context).data
        return Response(data)


class ImportListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ImportUploadInput"

        files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
        only_tags = serializers.CharField(required=False, allow_blank=True, default="")
        site = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)

    @extend_schema(responses=JobOutput(many=True))
    def get(self, request, slug):
        access = study_get_for_user(slug=slug, user=request.user)
        return paginate(
            queryset=job_list(study=access.study, kind=JobKind.IMPORT),
            serializer_class=JobOutput, request=request, view=self,
        )

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={202: JobOutput})
    def post(self, request, slug):
        access = study_get_for_user(slug=slug, user=request.user, role=Role.OWNER)
        files = request.FILES.getlist("files") or request.FILES.getlist("file")
        refusal = upload_refusal(request)  # known once the body is parsed, which DRF does lazily
        if refusal:
            return Response({"files": [refusal]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        data = self.InputSerializer(data={
            "files": files,
            "only_tags": request.data.get("only_tags", ""),
            "site": request.data.get("site", ""),
        })
        data.is_valid(raise_exception=True)
        try:
            job = services.import_job_start(
                study=access.study,
                uploads=data.validated_data["files"],
                only_tags=data.validated_data["only_tags"],
                site=data.validated_data["site"],
                user=request.user,
            )
        except ValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)
