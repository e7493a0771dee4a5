"""REST API of the taxonomy tree: the same services and selectors as the pages.

Every member reads (label counts obey the blindness rule; proposals are seen by
their proposer, owners and arbitrators); owners and arbitrators edit; a rater
may POST a category only as a proposal; everyone else gets 404.
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin, study_access
from annotator.api_utils import PaginatedApi, QueryParams, StrictInput, paginate, query_params
from annotator.studies.models import Role

from . import selectors, services
from .models import CategoryStatus, ChangeAction


class CategoryOutput(serializers.Serializer):
    """One category (a node of the tree) with its label count as the caller may see it."""

    class Meta:
        ref_name = "Category"

    id = serializers.IntegerField()
    name = serializers.CharField(source="category.name")
    parent = serializers.IntegerField(source="category.parent_id", allow_null=True)
    path = serializers.CharField(help_text="names from the root, joined by “ › ”")
    status = serializers.ChoiceField(source="category.status", choices=CategoryStatus.values)
    is_leaf = serializers.BooleanField()
    position = serializers.IntegerField(source="category.position")
    label_count = serializers.IntegerField(help_text="labels naming it that the caller may see")
    subtree_label_count = serializers.IntegerField(source="subtree_count",
                                                   help_text="labels naming it or a category below it")
    final_posts = serializers.IntegerField(
        allow_null=True, help_text="posts with a final label in it or below it (the published count; in the list)")
    definition = serializers.CharField(source="category.definition")
    inclusion = serializers.CharField(source="category.inclusion")
    exclusion = serializers.CharField(source="category.exclusion")
    merged_into = serializers.IntegerField(source="category.merged_into_id", allow_null=True)
    proposed_by = serializers.CharField(source="category.proposed_by.username", allow_null=True, default=None)


def _node(*, access, user, category_id):
    tree = selectors.taxonomy_tree(study=access.study, user=user)
    node = tree.by_id.get(category_id)
    if node is None:  # a live child of a hidden proposal
        raise Http404("No such category.")
    return node


def _output(request, access, category) -> dict:
    return CategoryOutput(_node(access=access, user=request.user, category_id=category.pk)).data


class CategoryListCreateApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CategoryAddInput"

        name = serializers.CharField(max_length=200)
        parent = serializers.IntegerField(required=False, allow_null=True, help_text="omit for a root")
        definition = serializers.CharField(required=False, allow_blank=True, default="")
        inclusion = serializers.CharField(required=False, allow_blank=True, default="")
        exclusion = serializers.CharField(required=False, allow_blank=True, default="")
        proposed = serializers.BooleanField(default=False,
                                            help_text="a rater's proposal (raters may only propose)")

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "CategoryListQuery"

        retired = serializers.BooleanField(default=False, help_text="include retired categories")

    @extend_schema(parameters=[QuerySerializer], responses=CategoryOutput(many=True))
    def get(self, request, slug):
        """Every category the caller may see, flat, in tree order (parents before children)."""
        access = self.get_study_access()
        retired = query_params(self.QuerySerializer, request)["retired"]
        tree = selectors.taxonomy_tree(study=access.study, user=request.user, with_final=True)
        nodes = tree.flat() if retired else tree.live
        return Response(CategoryOutput(nodes, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CategoryOutput})
    def post(self, request, slug):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposed = data.validated_data["proposed"]
        access = self.get_study_access()
        if not (selectors.taxonomy_can_edit(access=access) or (proposed and access.can(Role.RATER))):
            raise Http404("No such study.")
        parent_id = data.validated_data.get("parent")
        parent = _category_field(access, request.user, parent_id, "parent") if parent_id is not None else None
        category = services.category_add(
            study=access.study, actor=request.user, parent=parent, proposed=proposed,
            **{k: data.validated_data[k] for k in ("name", "definition", "inclusion", "exclusion")})
        return Response(_output(request, access, category), status=status.HTTP_201_CREATED)


class CategoryDetailApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CategoryUpdateInput"

        name = serializers.CharField(required=False, max_length=200)
        definition = serializers.CharField(required=False, allow_blank=True)
        inclusion = serializers.CharField(required=False, allow_blank=True)
        exclusion = serializers.CharField(required=False, allow_blank=True)
        examples = serializers.ListField(child=serializers.IntegerField(), required=False,
                                         help_text="ids of posts of the study (as in /posts/), replacing the list")

    class DetailOutput(CategoryOutput):
        class Meta:
            ref_name = "CategoryDetail"

        examples = serializers.SerializerMethodField()

        def get_examples(self, node) -> list[int]:
            return selectors.category_example_ids(category=node.category)

    @extend_schema(responses=DetailOutput)
    def get(self, request, slug, category_id):
        access = self.get_study_access()
        selectors.category_get(study=access.study, category_id=category_id, user=request.user)
        return Response(self.DetailOutput(_node(access=access, user=request.user, category_id=category_id)).data)

    @extend_schema(request=InputSerializer, responses=DetailOutput)
    def patch(self, request, slug, category_id):
        """Rename and/or describe (definition, notes, example posts), in one change each."""
        access = self.get_study_access(check=selectors.taxonomy_editor_access)
        category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            if "name" in values:
                category = services.category_rename(category=category, name=values["name"], actor=request.user)
            described = {k: values[k] for k in ("definition", "inclusion", "exclusion", "examples") if k in values}
            if described:
                services.category_describe(category=category, actor=request.user, **described)
        return Response(self.DetailOutput(_node(access=access, user=request.user, category_id=category.pk)).data)


class CategoryMoveApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CategoryMoveInput"

        parent = serializers.IntegerField(allow_null=True, help_text="null: make it a root")
        position = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                            help_text="1 = first among its new siblings; omit for last")

    @extend_schema(request=InputSerializer, responses=CategoryOutput)
    def post(self, request, slug, category_id):
        access = self.get_study_access(check=selectors.taxonomy_editor_access)
        category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parent_id = data.validated_data["parent"]
        parent = _category_field(access, request.user, parent_id, "parent") if parent_id is not None else None
        category = services.category_move(category=category, parent=parent, actor=request.user,
                                          position=data.validated_data.get("position"))
        return Response(_output(request, access, category))


MOVED_HELP = ("how many rows of each kind followed, by name: labels, final_labels, codes, relabel_requests, "
              "arbitrator_roots, examples (kinds with none are left out)")


class MergeOutput(serializers.Serializer):
    class Meta:
        ref_name = "CategoryMergeResult"

    source = serializers.IntegerField(source="source.pk")
    target = serializers.IntegerField(source="target.pk")
    labels_moved = serializers.IntegerField()
    codes_moved = serializers.IntegerField()
    final_labels_moved = serializers.IntegerField()
    moved = serializers.DictField(child=serializers.IntegerField(), help_text=MOVED_HELP)


class TargetInput(StrictInput):
    class Meta:
        ref_name = "CategoryTargetInput"

    target = serializers.IntegerField(help_text="the category that takes the labels, final labels and codes")


def _category_field(access, user, category_id, field):
    """A category named in the request body: one of this study's, else a 400 on that field."""
    try:
        return selectors.category_get(study=access.study, category_id=category_id, user=user)
    except Http404:
        raise serializers.ValidationError({field: ["No such category in this study."]}) from None


def _target(access, user, target_id):
    return _category_field(access, user, target_id, "target")


def _labels_to_target(request, slug, category_id, move):
    """Merge and reject: the category's labels and codes go to the body's ``target``."""
    access = study_access(request, slug, check=selectors.taxonomy_editor_access)
    category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
    data = TargetInput(data=request.data)
    data.is_valid(raise_exception=True)
    target = _target(access, request.user, data.validated_data["target"])
    result = move(category, target)
    return Response(MergeOutput(result).data)


class CategoryMergeApi(APIView):
    @extend_schema(request=TargetInput, responses=MergeOutput)
    def post(self, request, slug, category_id):
        """Its labels, final labels, codes and everything else that follows a merge move to ``target``;
        it is retired (``merged_into`` = target)."""
        return _labels_to_target(request, slug, category_id, lambda category, target: services.category_merge(
            source=category, target=target, actor=request.user))


class CategoryRejectApi(APIView):
    @extend_schema(request=TargetInput, responses=MergeOutput)
    def post(self, request, slug, category_id):
        """Refuse a proposal: its labels and codes go to ``target`` (an active leaf)."""
        return _labels_to_target(request, slug, category_id, lambda category, target: services.category_reject(
            category=category, target=target, actor=request.user))


class CategorySplitApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CategorySplitInput"

        name = serializers.CharField(max_length=200, help_text="the new sibling's name")
        labels = serializers.ListField(child=serializers.IntegerField(), default=list,
                                       help_text="ids of labels naming this category that move to the new one")
        codes = serializers.ListField(child=serializers.IntegerField(), default=list,
                                      help_text="ids of codes of this category that move to the new one")
        final_labels = serializers.ListField(child=serializers.IntegerField(), default=list,
                                             help_text="ids of final labels naming this category that move to "
                                                       "the new one")
        definition = serializers.CharField(required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CategorySplitResult"

        source = serializers.IntegerField(source="source.pk")
        new = serializers.IntegerField(source="new.pk")
        labels_moved = serializers.IntegerField()
        codes_moved = serializers.IntegerField()
        final_labels_moved = serializers.IntegerField()
        moved = serializers.DictField(child=serializers.IntegerField(), help_text=MOVED_HELP)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, slug, category_id):
        access = self.get_study_access(check=selectors.taxonomy_editor_access)
        category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = services.category_split(source=category, name=values["name"], actor=request.user,
                                         label_ids=values["labels"], code_ids=values["codes"],
                                         final_label_ids=values["final_labels"],
                                         definition=values["definition"])
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


def _simple_action(service_name: str, doc: str):
    class ActionApi(StudyApiMixin, APIView):
        @extend_schema(request=None, responses=CategoryOutput, description=doc)
        def post(self, request, slug, category_id):
            access = self.get_study_access(check=selectors.taxonomy_editor_access)
            category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
            category = getattr(services, service_name)(category=category, actor=request.user)
            return Response(_output(request, access, category))

    ActionApi.__name__ = ActionApi.__qualname__ = "Category" + service_name.split("_")[1].title() + "Api"
    return ActionApi


CategoryRetireApi = _simple_action("category_retire", "Retire; refused while it has labels, final labels, codes, "
                                                      "open re-label requests, arbitrators or children.")
CategoryRestoreApi = _simple_action("category_restore", "Bring a retired category back.")
CategoryApproveApi = _simple_action("category_approve", "A proposal becomes an active category.")


class CategorySearchApi(StudyApiMixin, APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CategorySearchHit"

        id = serializers.IntegerField()
        name = serializers.CharField()
        path = serializers.CharField()
        status = serializers.CharField()
        is_leaf = serializers.BooleanField()

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "CategorySearchQuery"

        q = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text="words to find in the name or path")
        leaves_only = serializers.BooleanField(default=True)

    @extend_schema(parameters=[QuerySerializer], responses=OutputSerializer(many=True))
    def get(self, request, slug):
        """Type-ahead: live leaves (and proposals the caller may see) matching ``q``."""
        access = self.get_study_access()
        query = query_params(self.QuerySerializer, request)
        hits = selectors.category_search(study=access.study, user=request.user, q=query["q"],
                                         leaves_only=query["leaves_only"])
        return Response(self.OutputSerializer(hits, many=True).data)


class TaxonomyChangeListApi(StudyApiMixin, PaginatedApi):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CategoryChange"

        id = serializers.IntegerField()
        category = serializers.IntegerField(source="category_id")
        category_name = serializers.CharField(source="category.name")
        action = serializers.ChoiceField(choices=ChangeAction.values)
        actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
        at = serializers.DateTimeField()
        before = serializers.JSONField()
        after = serializers.JSONField()
        labels_moved = serializers.IntegerField(
            source="labels_shown", allow_null=True,
            help_text="labels the change moved; null for a reader who does not see every label (blind coding)")
        codes_moved = serializers.IntegerField()
        moved = serializers.SerializerMethodField(help_text=MOVED_HELP + "; labels only for a reader who sees "
                                                                         "every label")

        def get_moved(self, change) -> dict[str, int]:
            return selectors.change_moved_shown(change)

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "CategoryChangeQuery"

        category = serializers.IntegerField(required=False, help_text="only this category's changes")

    @extend_schema(parameters=[QuerySerializer], responses=OutputSerializer(many=True))
    def get(self, request, slug):
        """Every change to the tree, newest first (paginated)."""
        access = self.get_study_access()
        category_id = query_params(self.QuerySerializer, request).get("category")
        category = None
        if category_id is not None:
            category = selectors.category_get(study=access.study, category_id=category_id, user=request.user)
        changes = selectors.category_change_list(study=access.study, user=request.user, category=category)
        return paginate(queryset=changes, serializer_class=self.OutputSerializer, request=request, view=self)
