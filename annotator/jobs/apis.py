from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import job_get_for_user
from .services import job_cancel, job_reap_if_stale


class JobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    study = serializers.SlugField(source="study.slug")
    kind = serializers.CharField()
    status = serializers.CharField()
    phase = serializers.CharField()
    percent = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    params = serializers.SerializerMethodField()
    result = serializers.JSONField()
    error = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    cancel_requested_at = serializers.DateTimeField(allow_null=True)
    cancel_requested_by = serializers.CharField(source="cancel_requested_by.username", default=None, allow_null=True)

    def get_params(self, job) -> dict:
        """Parameters as the user gave them; server-side file paths stay private."""
        params = dict(job.params)
        if "files" in params:
            params["files"] = [{"name": f.get("name"), "site": f.get("site")} for f in params["files"]]
        return params


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id):
        job = job_get_for_user(job_id=job_id, user=request.user)
        job_reap_if_stale(job=job)  # a job whose worker stopped is answered as failed
        return Response(JobOutput(job).data)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses=JobOutput,
                   description="Cancel a queued job (it ends now) or a running one (it stops at its next step). "
                               "For an owner of the study or the member who started the job.")
    def post(self, request, job_id):
        job = job_cancel(job=job_get_for_user(job_id=job_id, user=request.user), user=request.user)
        return Response(JobOutput(job).data)
