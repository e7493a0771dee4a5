"""Classifier API: train, list, detail, estimate, downloads (the same services as the pages)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.selectors import study_get_for_user


class ClassifierModelListCreateApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ClassifierModel"

        id = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, slug):
        """The study's classifier models."""
        study_get_for_user(slug=slug, user=request.user)
        return Response([])
