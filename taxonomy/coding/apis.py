"""REST API of the joint pilot: pilot items, the codes on them, the study's codes,
renaming (merging) and grouping codes into categories.

Raters, owners and arbitrators write; every member reads; everyone else gets 404."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin
from annotator.api_utils import PaginatedApi, QueryParams, StrictInput, paginate, query_params

from . import selectors, services


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CodeUseOutput(serializers.Serializer):
    code = serializers.IntegerField(source="code_id")
    text = serializers.CharField(source="code.text")
    author = serializers.CharField(source="author.username")
    category = CategoryRefOutput(source="code.category", allow_null=True)
    created_at = serializers.DateTimeField()


class PilotItemListApi(StudyApiMixin, PaginatedApi):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PilotItem"

        id = serializers.IntegerField()
        draw = serializers.IntegerField(source="draw.version")
        post = serializers.IntegerField(source="post_id")
        so_id = serializers.IntegerField(source="post.so_id")
        site = serializers.CharField(source="post.site")
        title = serializers.CharField(source="post.title")
        stratum = serializers.CharField(source="stratum.name")
        code_count = serializers.IntegerField()

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "PilotItemQuery"

        draw = serializers.IntegerField(required=False, min_value=1, help_text="draw version (default: the latest "
                                                                               "drawn)")

    @extend_schema(parameters=[QuerySerializer], responses=OutputSerializer(many=True))
    def get(self, request, slug):
        access = self.get_study_access(check=selectors.coding_access_get)
        version = query_params(self.QuerySerializer, request).get("draw")
        draw = selectors.pilot_draw_get(study=access.study, version=version)
        if draw is None:
            raise Http404("No drawn sample yet.")
        return paginate(queryset=selectors.pilot_item_list_with_draw(draw=draw),
                        serializer_class=self.OutputSerializer, request=request, view=self)


class PilotItemCodesApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CodeUseInput"

        text = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                     help_text="the code; an existing code of the study is reused (any case)")

    @extend_schema(responses=CodeUseOutput(many=True))
    def get(self, request, slug, item_id):
        access = self.get_study_access(check=selectors.coding_access_get)
        item = selectors.pilot_item_get(study=access.study, item_id=item_id)
        return Response(CodeUseOutput(selectors.item_code_uses(item=item), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CodeUseOutput, 200: CodeUseOutput})
    def post(self, request, slug, item_id):
        """Put a code on the item: 201 when added, 200 when it was there already."""
        access = self.get_study_access(check=selectors.coding_access_get, write=True)
        item = selectors.pilot_item_get(study=access.study, item_id=item_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        before = selectors.item_code_use_ids(item=item)
        use = services.code_use_add(item=item, author=request.user, text=data.validated_data["text"])
        created = use.pk not in before
        return Response(CodeUseOutput(use).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PilotItemCodeDetailApi(StudyApiMixin, APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, slug, item_id, code_id):
        """Take the code off the item (its author, or an owner)."""
        access = self.get_study_access(check=selectors.coding_access_get, write=True)
        item = selectors.pilot_item_get(study=access.study, item_id=item_id)
        use = selectors.code_use_get(item=item, code_id=code_id)
        services.code_use_remove(use=use, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodeOutput(serializers.Serializer):
    class Meta:
        ref_name = "Code"

    id = serializers.IntegerField()
    text = serializers.CharField()
    category = CategoryRefOutput(allow_null=True)
    item_count = serializers.IntegerField()
    items = serializers.SerializerMethodField(help_text="ids of the pilot items the code is on")

    def get_items(self, code) -> list[int]:
        return [item.pk for item in self.context["items"].get(code.pk, [])]


class CodeListApi(StudyApiMixin, PaginatedApi):
    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "CodeListQuery"

        q = serializers.CharField(required=False, allow_blank=True, default="", help_text="case-insensitive substring")
        ungrouped = serializers.BooleanField(default=False, help_text="only codes in no category")

    @extend_schema(parameters=[QuerySerializer], responses=CodeOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access(check=selectors.coding_access_get)
        query = query_params(self.QuerySerializer, request)
        codes = selectors.code_list(study=access.study, q=query["q"], ungrouped=query["ungrouped"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(codes, request, view=self)
        context = {"items": selectors.code_items(codes=page)}
        return paginator.get_paginated_response(CodeOutput(page, many=True, context=context).data)


class CodeDetailApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CodeRenameInput"

        text = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                     help_text="the new text; an existing code's text (any case) merges the two")

    class OutputSerializer(CodeOutput):
        class Meta:
            ref_name = "CodeRenamed"

        merged = serializers.SerializerMethodField(help_text="true when this code was merged into another")

        def get_merged(self, code) -> bool:
            return code.pk != self.context["renamed_id"]

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request, slug, code_id):
        """Rename the code; on a clash it merges into the existing code, which is returned."""
        access = self.get_study_access(check=selectors.coding_access_get, write=True)
        code = selectors.code_get(study=access.study, code_id=code_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        survivor = services.code_rename(code=code, text=data.validated_data["text"], actor=request.user)
        survivor = selectors.code_list(study=access.study).get(pk=survivor.pk)
        context = {"items": selectors.code_items(codes=[survivor]), "renamed_id": code_id}
        return Response(self.OutputSerializer(survivor, context=context).data)


class NewCategoryInput(StrictInput):
    name = serializers.CharField(max_length=200)
    parent = serializers.IntegerField(required=False, allow_null=True, help_text="a live category; none for a root")


class CodeGroupApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "CodeGroupInput"

        codes = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
        category = serializers.IntegerField(required=False, allow_null=True, help_text="an existing live category")
        new_category = NewCategoryInput(required=False, allow_null=True, help_text="a category to create")

        def validate(self, attrs):
            if bool(attrs.get("category")) == bool(attrs.get("new_category")):
                raise serializers.ValidationError("Give either category or new_category.")
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CodeGroupResult"

        category = CategoryRefOutput()
        created = serializers.BooleanField(help_text="true when the category was made by this request")
        codes = serializers.ListField(child=serializers.IntegerField())

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 201: OutputSerializer})
    def post(self, request, slug):
        """Put codes in an existing category, or in a new one (201)."""
        access = self.get_study_access(check=selectors.coding_access_get, write=True)
        study = access.study
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = selectors.code_list_by_ids(study=study, code_ids=data.validated_data["codes"])
        new = data.validated_data.get("new_category")
        if new:
            parent = (selectors.category_get_live(study=study, category_id=new["parent"])
                      if new.get("parent") else None)
            category = services.codes_group_new_category(codes=codes, name=new["name"], parent=parent,
                                                         actor=request.user)
        else:
            category = selectors.category_get_live(study=study, category_id=data.validated_data["category"])
            services.codes_group(codes=codes, category=category, actor=request.user)
        out = {"category": category, "created": bool(new), "codes": sorted(c.pk for c in codes)}
        return Response(self.OutputSerializer(out).data, status=status.HTTP_201_CREATED if new else status.HTTP_200_OK)
