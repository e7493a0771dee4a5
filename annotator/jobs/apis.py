from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import job_get_for_user


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
    created_by = serializers.CharField(source="created_by.username", default=None)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()

    def get_params(self, job) -> dict:
        """Parameters as the user gave them; server-side file paths stay private."""
        params = dict(job.params)
        if "files" in params:
            params["files"] = [{"name": f.get("name"), "site": f.get("site")} for f in params["files"]]
        return params


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id):
        return Response(JobOutput(job_get_for_user(job_id=job_id, user=request.user)).data)
