"""REST API of the similar coded posts (issue 20, points 4 and 5): an item's similar coded
posts, the Pending queue's clusters, the nearest-neighbour accuracy and the owner's "show after
submit". The same reads as the pages (``similarity``, ``clusters``, ``viewing``)."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import REVIEWERS, StudyApiMixin
from annotator.api_utils import QueryParams, StrictInput, query_params
from annotator.studies.models import Role
from sampling.draws.sight import sight_for

from . import clusters, similarity, viewing


class SimilarPostOutput(serializers.Serializer):
    class Meta:
        ref_name = "SimilarCodedPost"

    item = serializers.IntegerField(source="item_id")
    post = serializers.IntegerField(source="post_id")
    title = serializers.CharField()
    score = serializers.FloatField(help_text="cosine similarity, 0–1")
    kind = serializers.CharField(help_text="the final label's kind: categories, false_positive or unclear")
    categories = serializers.ListField(child=serializers.CharField(), source="paths",
                                       help_text="the final label's categories as paths (Root › … › Leaf)")


class SimilarPostsApi(StudyApiMixin, APIView):
    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "SimilarPostsQuery"

        method = serializers.ChoiceField(choices=[similarity.TFIDF, similarity.EMBEDDINGS], default=similarity.TFIDF,
                                         help_text="embeddings: only where the optional extra is installed")
        k = serializers.IntegerField(default=similarity.DEFAULT_K, min_value=1, max_value=similarity.MAX_K)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimilarPosts"

        item = serializers.IntegerField()
        method = serializers.CharField()
        results = SimilarPostOutput(many=True)

    @extend_schema(parameters=[QuerySerializer], responses=OutputSerializer)
    def get(self, request, slug, item_id):
        """The coded posts most similar to the item's post, among the final labels you may see.
        403 on your own item of a running round before you submit, and after it unless the
        owner turned on show_after_submit."""
        access = self.get_study_access()
        item = viewing.item_get_for_help(access=access, user=request.user, item_id=item_id)
        query = query_params(self.QuerySerializer, request)
        if query["method"] not in similarity.methods_available():
            raise ValidationError({"method": "Sentence embeddings are not installed here (the extra 'embeddings')."})
        found = similarity.similar_posts(study=access.study, post=item.post,
                                         sight=sight_for(study=access.study, user=request.user),
                                         method=query["method"], k=query["k"])
        return Response(self.OutputSerializer({"item": item.pk, "method": query["method"], "results": found}).data)


class NeighbourAccuracyOutput(serializers.Serializer):
    class Meta:
        ref_name = "NeighbourAccuracy"

    method = serializers.CharField()
    n = serializers.IntegerField(help_text="coded posts (one per post) that have a neighbour")
    leaf_hits = serializers.IntegerField(help_text="posts whose nearest coded neighbour has the same leaves")
    root_hits = serializers.IntegerField(help_text="... the same roots")
    leaf = serializers.FloatField(allow_null=True, help_text="leaf_hits / n")
    root = serializers.FloatField(allow_null=True, help_text="root_hits / n")
    leaf_baseline = serializers.IntegerField(help_text="posts with the most frequent label (guessing it always)")
    root_baseline = serializers.IntegerField()


class NeighbourAccuracyApi(StudyApiMixin, APIView):
    @extend_schema(responses=NeighbourAccuracyOutput(many=True))
    def get(self, request, slug):
        """Leave-one-out: how often the nearest coded post's label is right, per method, over the
        final labels you may see."""
        access = self.get_study_access()
        figures = similarity.neighbour_accuracy_all(study=access.study,
                                                    sight=sight_for(study=access.study, user=request.user))
        return Response(NeighbourAccuracyOutput(figures, many=True).data)


class PendingClustersApi(StudyApiMixin, APIView):
    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "PendingClustersQuery"

        k = serializers.IntegerField(required=False, min_value=1, max_value=20,
                                     help_text="the number of clusters (default: the best silhouette in 2–8)")

    class PostClusterOutput(serializers.Serializer):
        class Meta:
            ref_name = "PendingPostCluster"

        terms = serializers.ListField(child=serializers.CharField())
        items = serializers.SerializerMethodField()

        def get_items(self, cluster) -> list[int]:
            return [item.pk for item in cluster.items]

    class FreeTextOutput(serializers.Serializer):
        class Meta:
            ref_name = "PendingFreeText"

        text = serializers.CharField()
        source = serializers.CharField(help_text="code or Pending note")

    class TextClusterOutput(serializers.Serializer):
        class Meta:
            ref_name = "PendingTextCluster"

        terms = serializers.ListField(child=serializers.CharField())
        texts = serializers.SerializerMethodField()

        def get_texts(self, cluster) -> list[dict]:
            return PendingClustersApi.FreeTextOutput(cluster.texts, many=True).data

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PendingClusters"

        posts = serializers.SerializerMethodField()
        texts = serializers.SerializerMethodField()

        def get_posts(self, result) -> list[dict]:
            return PendingClustersApi.PostClusterOutput(result.posts, many=True).data

        def get_texts(self, result) -> list[dict]:
            return PendingClustersApi.TextClusterOutput(result.texts, many=True).data

    @extend_schema(parameters=[QuerySerializer], responses=OutputSerializer)
    def get(self, request, slug):
        """The Pending queue's posts, and the ungrouped codes and Pending notes, in clusters
        (candidate new categories). Owners and arbitrators."""
        access = self.get_study_access(REVIEWERS)
        k = query_params(self.QuerySerializer, request).get("k")
        result = clusters.pending_clusters(study=access.study, user=request.user,
                                           sight=sight_for(study=access.study, user=request.user), k=k)
        return Response(self.OutputSerializer(result).data)


class SimilaritySettingsApi(StudyApiMixin, APIView):
    class Serializer(StrictInput):
        class Meta:
            ref_name = "ClassifierViewingSettings"

        show_after_submit = serializers.BooleanField(
            help_text="raters see similar coded posts of an item once their label on it is in (off by default)")

    @extend_schema(responses=Serializer)
    def get(self, request, slug):
        access = self.get_study_access(Role.OWNER)
        return Response(self.Serializer(viewing.classifier_settings_get(study=access.study)).data)

    @extend_schema(request=Serializer, responses=Serializer)
    def put(self, request, slug):
        """Owners only."""
        access = self.get_study_access(Role.OWNER)
        data = self.Serializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = viewing.classifier_settings_update(study=access.study, actor=request.user,
                                                      show_after_submit=data.validated_data["show_after_submit"])
        return Response(self.Serializer(settings).data)
