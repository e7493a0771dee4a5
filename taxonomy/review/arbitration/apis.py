"""REST API of the arbitration step: start it on a draw, the queues, one item with
each rater's labels, decisions, Pending → category, final labels, the pilot's decisions.

Owners and arbitrators read; arbitrators decide; owners start arbitration.
Raters, viewers and strangers get 404: the queues show other raters' labels.
The pilot is joint: every member reads its decisions; owners and arbitrators take
them (anyone else who tries gets 404)."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api_utils import (
    PageNumbersCounted,
    PaginatedApi,
    QueryParams,
    StrictInput,
    paginate,
    query_params,
)
from annotator.studies.access import REVIEWERS, StudyApiMixin
from annotator.studies.models import Role
from sampling.draws.selectors import draw_get

from . import selectors, services
from .models import FinalKind


class QueueItemOutput(serializers.Serializer):
    class Meta:
        ref_name = "ArbitrationQueueItem"

    id = serializers.IntegerField(source="pk")
    post = serializers.IntegerField(source="post_id")
    title = serializers.CharField(source="post.title")
    draw_version = serializers.IntegerField(source="draw.version")
    stratum = serializers.CharField(source="stratum.name")


class FinalLabelOutput(serializers.Serializer):
    class Meta:
        ref_name = "FinalLabel"

    item = serializers.IntegerField(source="item_id")
    kind = serializers.CharField()
    categories = serializers.SerializerMethodField()
    method = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decided_at = serializers.DateTimeField()
    reason = serializers.CharField()

    def get_categories(self, final) -> list[int]:
        if hasattr(final, "category_ids"):  # a page of the list, completed in one query
            return final.category_ids
        return sorted(c.category_id for c in final.categories.all())


class ArbitrationStartApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ArbitrationStartInput"

        allow_incomplete = serializers.BooleanField(default=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ArbitrationStart"

        draw_version = serializers.IntegerField(source="draw.version")
        agreed = serializers.IntegerField()
        to_arbitrate = serializers.IntegerField()
        pending = serializers.IntegerField()
        incomplete = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, slug, version):
        access = self.get_study_access(Role.OWNER)
        draw = draw_get(study=access.study, version=version)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = services.arbitration_start(draw=draw, user=request.user, **data.validated_data)
        return Response(self.OutputSerializer(started).data)


class ArbitrationQueueApi(StudyApiMixin, PaginatedApi):
    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "ArbitrationQueueQuery"

        stratum = serializers.IntegerField(required=False, help_text="a stratum id")

    @extend_schema(responses=QueueItemOutput(many=True), parameters=[QuerySerializer])
    def get(self, request, slug):
        access = self.get_study_access(REVIEWERS)
        mine = request.user if access.can(Role.ARBITRATOR) else None
        stratum_id = query_params(self.QuerySerializer, request).get("stratum")
        items = selectors.arbitration_queue(study=access.study, user=mine, stratum_id=stratum_id)
        return paginate(queryset=items, serializer_class=QueueItemOutput, request=request, view=self)


class PendingQueueApi(StudyApiMixin, PaginatedApi):
    @extend_schema(responses=QueueItemOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access(REVIEWERS)
        return paginate(queryset=selectors.pending_queue(study=access.study), serializer_class=QueueItemOutput,
                        request=request, view=self)


class ArbitrationItemApi(StudyApiMixin, APIView):
    class RaterLabelOutput(serializers.Serializer):
        class Meta:
            ref_name = "ArbitrationRaterLabel"

        rater = serializers.CharField()
        kind = serializers.CharField()
        categories = serializers.SerializerMethodField()
        note = serializers.CharField()

        def get_categories(self, label) -> list[int]:
            return [c.pk for c in label.categories]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ArbitrationItem"

        item = QueueItemOutput()
        labels = serializers.ListField(child=serializers.DictField(), help_text="each rater's kind, categories, note")
        final = FinalLabelOutput(allow_null=True)

    class DecideSerializer(StrictInput):
        class Meta:
            ref_name = "ArbitrationDecision"

        kind = serializers.ChoiceField(choices=FinalKind.choices)
        categories = serializers.ListField(child=serializers.IntegerField(), default=list)
        reason = serializers.CharField(max_length=5000)

    def _item(self, request, slug, item_id):
        access = self.get_study_access(REVIEWERS)
        return access, selectors.item_get_for_arbitration(study=access.study, item_id=item_id)

    def _output(self, item):
        labels = self.RaterLabelOutput(selectors.item_rater_labels(item=item), many=True).data
        return {"item": QueueItemOutput(item).data, "labels": labels,
                "final": (FinalLabelOutput(final).data if (final := selectors.final_label_for(item=item)) else None)}

    def conflict_body(self, request, slug, item_id) -> dict:
        """The 409's body beside ``detail`` (annotator/errors.py): the decision that stands."""
        return self._output(self._item(request, slug, item_id)[1])

    @extend_schema(responses=OutputSerializer)
    def get(self, request, slug, item_id):
        _, item = self._item(request, slug, item_id)
        return Response(self._output(item))

    @extend_schema(request=DecideSerializer, responses={201: OutputSerializer, 409: OutputSerializer})
    def post(self, request, slug, item_id):
        access, item = self._item(request, slug, item_id)
        if not access.can(Role.ARBITRATOR):
            raise Http404("No such item.")
        data = self.DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        services.arbitration_decide(item=item, arbitrator=request.user, kind=d["kind"],
                                    category_ids=d["categories"], reason=d["reason"])
        return Response(self._output(item), status=status.HTTP_201_CREATED)


class PendingResolveApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "PendingResolveInput"

        items = serializers.ListField(child=serializers.IntegerField(), min_length=1)
        category = serializers.IntegerField(required=False, allow_null=True, default=None)
        new_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
        new_parent = serializers.IntegerField(required=False, allow_null=True, default=None)
        new_definition = serializers.CharField(required=False, allow_blank=True, default="")
        action = serializers.ChoiceField(choices=["resolve", "relabel"], default="resolve",
                                         help_text="resolve: the category is their final label; relabel: ask "
                                                   "their raters to label them again against it")
        reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="",
                                       help_text="why (resolve, required) or a message to the raters (relabel)")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PendingResolution"

        category = serializers.IntegerField()
        created = serializers.BooleanField()
        finals = FinalLabelOutput(many=True)
        relabel_requests = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer, 409: None})
    def post(self, request, slug):
        access = self.get_study_access(Role.ARBITRATOR)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        study = access.study
        items = [selectors.item_get_for_arbitration(study=study, item_id=i) for i in dict.fromkeys(d["items"])]
        settled = services.pending_settle(study=study, items=items, arbitrator=request.user,
                                          relabel=d["action"] == "relabel", reason=d["reason"],
                                          category_id=d["category"], new_name=d["new_name"],
                                          new_parent_id=d["new_parent"], new_definition=d["new_definition"])
        finals = selectors.final_labels_complete(settled.finals)
        return Response({"category": settled.category.pk, "created": settled.created,
                         "relabel_requests": settled.relabel_requests,
                         "finals": FinalLabelOutput(finals, many=True).data}, status=status.HTTP_201_CREATED)


class FinalLabelListApi(StudyApiMixin, PaginatedApi):
    pagination_class = PageNumbersCounted

    @extend_schema(responses=FinalLabelOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access(REVIEWERS)
        # final_label_rows_complete writes the rows as FinalLabelOutput does (the schema; a test
        # holds them equal): a serializer per row cost as much as the rest of the request.
        return paginate(queryset=selectors.final_label_list(study=access.study), serializer_class=None,
                        request=request, view=self, complete=selectors.final_label_rows_complete)


# -- the pilot's decisions -------------------------------------------------------------------------


class ProposedCodeOutput(serializers.Serializer):
    class Meta:
        ref_name = "PilotProposedCode"

    code = serializers.IntegerField(source="code_id")
    text = serializers.CharField()
    category = serializers.IntegerField(source="category_id", allow_null=True)
    path = serializers.CharField()
    outcome = serializers.ChoiceField(choices=[selectors.LEAF, selectors.INNER, selectors.AWAITING,
                                               selectors.UNGROUPED],
                                      help_text="leaf: gives its category; inner, awaiting_approval, ungrouped: "
                                                "gives no leaf")


class PilotRowOutput(serializers.Serializer):
    class Meta:
        ref_name = "PilotDecisionItem"

    item = QueueItemOutput()
    codes = ProposedCodeOutput(many=True)
    proposal = serializers.ListField(child=serializers.IntegerField(),
                                     help_text="the active leaves its codes are grouped into, in tree order")
    complete = serializers.BooleanField(help_text="at least one leaf, and every code gives one")
    problems = serializers.ListField(child=serializers.CharField(), help_text="why a code gives no leaf")
    final = FinalLabelOutput(allow_null=True)


class PilotDecisionListApi(StudyApiMixin, PaginatedApi):
    class ConfirmSerializer(StrictInput):
        class Meta:
            ref_name = "PilotConfirmInput"

        draw = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        help_text="a drawn version (default: every drawn version)")
        items = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True,
                                      default=None, help_text="only these pilot items (instead of draw)")

    class ConfirmOutput(serializers.Serializer):
        class Meta:
            ref_name = "PilotConfirmation"

        confirmed = FinalLabelOutput(many=True)
        skipped = serializers.ListField(child=serializers.DictField(), help_text="{item, reason}: left undecided")

    class QuerySerializer(QueryParams):
        class Meta:
            ref_name = "PilotDecisionQuery"

        draw = serializers.IntegerField(required=False, min_value=1, help_text="a drawn version (default: all)")
        undecided = serializers.BooleanField(default=False, help_text="only items without a decision")

    @extend_schema(parameters=[QuerySerializer], responses=PilotRowOutput(many=True))
    def get(self, request, slug):
        access = self.get_study_access()
        query = query_params(self.QuerySerializer, request)
        items = selectors.pilot_item_list(study=access.study, version=query.get("draw"),
                                          undecided=query["undecided"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        rows = selectors.pilot_rows(study=access.study, items=page)
        return paginator.get_paginated_response(PilotRowOutput(rows, many=True).data)

    @extend_schema(operation_id="studies_arbitration_pilot_confirm", request=ConfirmSerializer,
                   responses=ConfirmOutput)
    def post(self, request, slug):
        """Confirm every complete proposal of the undecided pilot items (owners, arbitrators)."""
        access = self.get_study_access(REVIEWERS)
        data = self.ConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        if d["draw"] is not None and d["items"] is not None:
            raise serializers.ValidationError({"items": "Give either draw or items, not both."})
        done = services.pilot_proposals_confirm(study=access.study, actor=request.user, version=d["draw"],
                                                item_ids=d["items"])
        confirmed = selectors.final_labels_complete(done.confirmed)
        return Response({"confirmed": FinalLabelOutput(confirmed, many=True).data,
                         "skipped": [{"item": item.pk, "reason": why} for item, why in done.skipped]})


class PilotDecisionItemApi(StudyApiMixin, APIView):
    class DecideSerializer(StrictInput):
        class Meta:
            ref_name = "PilotDecision"

        kind = serializers.ChoiceField(choices=FinalKind.choices)
        categories = serializers.ListField(child=serializers.IntegerField(), default=list)
        reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="",
                                       help_text="an optional note")
        replaces = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="to change a decision: its decided_at, as read")

    def _item(self, request, slug, item_id, *, write: bool = False):
        access = self.get_study_access(REVIEWERS if write else Role.VIEWER)
        return selectors.pilot_item_for_decision(study=access.study, item_id=item_id)

    def conflict_body(self, request, slug, item_id) -> dict:
        """The 409's body beside ``detail`` (annotator/errors.py): the decision that stands."""
        return PilotRowOutput(selectors.pilot_row(item=self._item(request, slug, item_id))).data

    @extend_schema(responses=PilotRowOutput)
    def get(self, request, slug, item_id):
        item = self._item(request, slug, item_id)
        return Response(PilotRowOutput(selectors.pilot_row(item=item)).data)

    @extend_schema(request=DecideSerializer, responses={200: PilotRowOutput, 201: PilotRowOutput,
                                                         409: PilotRowOutput})
    def post(self, request, slug, item_id):
        """Decide (201) or change the decision (200; give ``replaces``). 409 with the standing
        decision when someone decided or changed it first."""
        item = self._item(request, slug, item_id, write=True)
        data = self.DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        had_decision = selectors.final_label_exists(item=item)
        services.pilot_decision_set(item=item, actor=request.user, kind=d["kind"], category_ids=d["categories"],
                                    reason=d["reason"], replaces=d["replaces"])
        return Response(PilotRowOutput(selectors.pilot_row(item=item)).data,
                        status=status.HTTP_200_OK if had_decision else status.HTTP_201_CREATED)
