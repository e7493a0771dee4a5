from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api_utils import PaginatedApi, StrictInput, paginate

from .access import StudyApiMixin
from . import selectors, services
from .models import Role


class StudyOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()


class MembershipOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))
    added_at = serializers.DateTimeField()


ROLE_FIELD = serializers.ListField(
    child=serializers.ChoiceField(choices=Role.choices), allow_empty=True,
    help_text="Any of owner, rater, arbitrator; empty or [\"viewer\"] for a viewer.",
)


class StudyListCreateApi(PaginatedApi):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "StudyCreateInput"

        name = serializers.CharField(max_length=200)
        slug = serializers.SlugField(max_length=80, required=False, allow_blank=True)
        description = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(responses=StudyOutput(many=True))
    def get(self, request):
        return paginate(
            queryset=selectors.study_list_for_user_by_name(user=request.user),
            serializer_class=StudyOutput, request=request, view=self,
        )

    @extend_schema(request=InputSerializer, responses={201: StudyOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        study = services.study_create(owner=request.user, **data.validated_data)
        return Response(StudyOutput(study).data, status=status.HTTP_201_CREATED)


class StudyDetailApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "StudyUpdateInput"

        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(responses=StudyOutput)
    def get(self, request, slug):
        return Response(StudyOutput(self.get_study_access().study).data)

    @extend_schema(request=InputSerializer, responses=StudyOutput)
    def patch(self, request, slug):
        access = self.get_study_access(Role.OWNER)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        study = services.study_update(study=access.study, **data.validated_data)
        return Response(StudyOutput(study).data)


class MembershipListCreateApi(StudyApiMixin, PaginatedApi):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "MemberAddInput"

        user = serializers.CharField(help_text="username or e-mail of an existing account")
        roles = ROLE_FIELD

    @extend_schema(responses=MembershipOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        return paginate(
            queryset=selectors.membership_list(study=access.study),
            serializer_class=MembershipOutput, request=request, view=self,
        )

    @extend_schema(request=InputSerializer, responses={201: MembershipOutput})
    def post(self, request, slug):
        access = self.get_study_access(Role.OWNER)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        roles = [r for r in data.validated_data["roles"] if r != Role.VIEWER]
        membership = services.membership_add(
            study=access.study, user_identifier=data.validated_data["user"], roles=roles
        )
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "MemberRolesInput"

        roles = ROLE_FIELD

    @extend_schema(responses=MembershipOutput)
    def get(self, request, slug, membership_id):
        access = self.get_study_access()
        return Response(MembershipOutput(selectors.membership_get(study=access.study, membership_id=membership_id)).data)

    @extend_schema(request=InputSerializer, responses=MembershipOutput)
    def patch(self, request, slug, membership_id):
        access = self.get_study_access(Role.OWNER)
        membership = selectors.membership_get(study=access.study, membership_id=membership_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        roles = [r for r in data.validated_data["roles"] if r != Role.VIEWER]
        membership = services.membership_set_roles(membership=membership, roles=roles)
        return Response(MembershipOutput(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug, membership_id):
        access = self.get_study_access(Role.OWNER)
        membership = selectors.membership_get(study=access.study, membership_id=membership_id)
        services.membership_remove(membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)
