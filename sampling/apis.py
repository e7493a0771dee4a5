from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .sample_size import ROUNDINGS, sample_size


class SampleSizeApi(APIView):
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

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        try:
            result = sample_size(**data.validated_data)
        except ValueError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None
        return Response(self.OutputSerializer(result).data)
