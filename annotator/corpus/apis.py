from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import PaginatedApi, QueryParams, StrictInput, paginate, query_params
from annotator.jobs.apis import JobOutput
from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from annotator.studies.models import Role

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
    tags = serializers.ListField(child=serializers.CharField(), source="thread_tag_list",
                                 help_text="an answer's are its question's (a dump gives answers none)")
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
    user_name = serializers.CharField(source="author_name", default="",
                                      help_text="the user's display name from Users.xml; empty if not imported")


class PostDetailOutput(PostSummaryOutput):
    owner_name = serializers.CharField(source="author_name", default="",
                                       help_text="the owner's display name from Users.xml; empty if not imported")
    body_html = serializers.SerializerMethodField(help_text="the body, sanitised (no script, handler or js: URL)")
    is_accepted = serializers.SerializerMethodField()
    comments = serializers.SerializerMethodField()

    def get_body_html(self, post) -> str:
        return post_html_sanitize(post.body)

    def get_is_accepted(self, post) -> bool:
        return self.context["thread"].accepted_so_id == post.so_id and not post.is_question

    def get_comments(self, post) -> list[dict]:
        return CommentOutput(self.context["thread"].comments.get(post.so_id, []), many=True).data


class PostListApi(StudyApiMixin, PaginatedApi):
    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "PostListQuery"

        q = serializers.CharField(required=False, allow_blank=True, default="", help_text="words in title or body")
        tag = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="questions carrying this tag, and answers whose question carries it")
        year = serializers.IntegerField(required=False, min_value=1, max_value=9999, help_text="year of creation")
        type = serializers.ChoiceField(choices=[0, *PostType.values], default=PostType.QUESTION,
                                       help_text="1 questions (default), 2 answers, 0 both")

    @extend_schema(parameters=[QuerySerializer], responses=PostSummaryOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        query = query_params(self.QuerySerializer, request)
        filters = selectors.PostFilters(q=query["q"], tag=query["tag"], year=query.get("year"),
                                        post_type=query["type"] or None)
        return paginate(
            queryset=selectors.post_list(study=access.study, filters=filters),
            serializer_class=PostSummaryOutput, request=request, view=self,
        )


class PostDetailApi(StudyApiMixin, APIView):
    @extend_schema(responses=PostDetailOutput)
    def get(self, request, slug, post_id):
        access = self.get_study_access()
        post = selectors.post_get(study=access.study, post_id=post_id)
        thread = selectors.post_thread(post=post)
        if post.pk != thread.question.pk:  # an answer: the thread holds its own copy, with the name
            post = next((a for a in thread.answers if a.pk == post.pk), post)
        context = {"thread": thread}
        data = PostDetailOutput(post, context=context).data
        data["question_id"] = thread.question.pk
        data["answers"] = PostDetailOutput(thread.answers, many=True, context=context).data
        return Response(data)


class ImportListCreateApi(StudyApiMixin, PaginatedApi):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ImportUploadInput"

        files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
        only_tags = serializers.CharField(required=False, allow_blank=True, default="")
        site = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)

    @extend_schema(responses=JobOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        return paginate(
            queryset=job_list(study=access.study, kind=JobKind.IMPORT),
            serializer_class=JobOutput, request=request, view=self,
        )

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={202: JobOutput})
    def post(self, request, slug):
        access = self.get_study_access(Role.OWNER)
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
        job = services.import_job_start(
            study=access.study,
            uploads=data.validated_data["files"],
            only_tags=data.validated_data["only_tags"],
            site=data.validated_data["site"],
            user=request.user,
        )
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)
