"""REST API of the reliability round. A rater reads and writes their own items
and labels only: another rater's item is a 404, whether it exists or not.
Listings go through ``label_list_visible``, the one blindness rule."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api_utils import PageNumbersCounted, PaginatedApi, StrictInput, paginate, prefers_minimal
from annotator.corpus.apis import PostDetailOutput
from annotator.corpus.selectors import post_thread
from annotator.studies.access import StudyApiMixin
from annotator.studies.models import Role

from . import selectors, services
from .models import LabelKind
from .services import NOTE_MAX


class CategoryRefOutput(serializers.Serializer):
    class Meta:
        ref_name = "LabelCategoryRef"

    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="active, proposed (not approved yet) or retired")


class LabelOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LabelKind.choices)
    categories = serializers.SerializerMethodField()
    note = serializers.CharField()
    revision = serializers.IntegerField(help_text="how many times the rater submitted it")
    submitted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(CategoryRefOutput(many=True))
    def get_categories(self, label) -> list[dict]:
        return category_refs(label)


_WHEN = serializers.DateTimeField()  # how LabelOutput writes its times


def label_data(label) -> dict:
    """A label as ``LabelOutput`` writes it, built directly (a test holds the two equal): the
    answer to every submission, where a serializer cost a twentieth of the request."""
    return {"kind": label.kind, "categories": category_refs(label), "note": label.note, "revision": label.revision,
            "submitted_at": _WHEN.to_representation(label.submitted_at),
            "updated_at": _WHEN.to_representation(label.updated_at)}


def category_refs(label) -> list[dict]:
    """A label's categories as ``CategoryRefOutput`` writes them, built directly: a serializer
    per label costs more than the whole query of a page of 50. A label just submitted carries
    them (``chosen``, as ``services.label_submit_on_item`` locked and wrote them)."""
    chosen = getattr(label, "chosen", None)
    if chosen is not None:
        return chosen
    return [{"id": lc.category_id, "name": lc.category.name, "status": lc.category.status}
            for lc in label.categories.all()]


class ProgressCountOutput(serializers.Serializer):
    labelled = serializers.IntegerField()
    assigned = serializers.IntegerField()


class AssignmentOutput(serializers.Serializer):
    """One of the caller's items: the post with its answers and comments, and the caller's label only."""

    item = serializers.IntegerField(source="item_id")
    draw = serializers.IntegerField(source="draw.version")
    stratum = serializers.CharField(source="item.stratum.name")
    editable = serializers.SerializerMethodField()
    post = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField()

    def _thread(self, assignment):
        cache = self.context.setdefault("threads", {})
        if assignment.pk not in cache:
            cache[assignment.pk] = post_thread(post=assignment.item.post)
        return cache[assignment.pk]

    def get_editable(self, assignment) -> bool:
        return selectors.label_editable(assignment)

    def get_post(self, assignment) -> dict:
        thread = self._thread(assignment)
        return PostDetailOutput(thread.question, context={"thread": thread}).data

    def get_answers(self, assignment) -> list[dict]:
        thread = self._thread(assignment)
        return PostDetailOutput(thread.answers, many=True, context={"thread": thread}).data

    @extend_schema_field(LabelOutput(allow_null=True))
    def get_label(self, assignment) -> dict | None:
        label = self.context.get("label")  # just submitted: the label as written
        if label is None and assignment.submitted_at:
            # A label is written with the assignment's submission: an item not yet submitted has none.
            label = selectors.assignment_label(assignment=assignment)
        return label_data(label) if label else None


def _my_progress(study, user, draws=None) -> dict:
    labelled, assigned = selectors.labelling_progress_mine(study=study, user=user, draws=draws)
    return {"labelled": labelled, "assigned": assigned}


class LabellingNextApi(StudyApiMixin, APIView):
    class NextOutput(serializers.Serializer):
        done = serializers.BooleanField(help_text="true when nothing is left to label (or labelling is not open)")
        progress = ProgressCountOutput()
        item = AssignmentOutput(allow_null=True)

    @extend_schema(responses=NextOutput)
    def get(self, request, slug):
        """The caller's next unlabelled item, or ``{"done": true}``."""
        access = self.get_study_access(Role.RATER)
        draws = selectors.labelling_draws(study=access.study)
        assignment = selectors.assignment_next(study=access.study, user=request.user, draws=draws)
        return Response({
            "done": assignment is None, "progress": _my_progress(access.study, request.user, draws),
            "item": AssignmentOutput(assignment).data if assignment else None,
        })


class LabellingItemApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "LabelInput"

        kind = serializers.ChoiceField(choices=LabelKind.choices, default=LabelKind.CATEGORIES)
        categories = serializers.ListField(child=serializers.IntegerField(), default=list,
                                           help_text="leaf category ids (only for kind=categories)")
        note = serializers.CharField(allow_blank=True, default="", max_length=NOTE_MAX)

    @extend_schema(responses=AssignmentOutput)
    def get(self, request, slug, item_id):
        access = self.get_study_access(Role.RATER)
        assignment = selectors.assignment_get_for_rater(study=access.study, user=request.user, item_id=item_id)
        return Response(AssignmentOutput(assignment).data)

    @extend_schema(request=InputSerializer, responses=AssignmentOutput)
    def put(self, request, slug, item_id):
        """Submit (or replace) the caller's label on their item: the last submission wins. Answers
        as ``GET`` does (the item, its post and the label as stored). With the request header
        ``Prefer: return=minimal`` (RFC 7240), for a client that labels in bulk and has the post
        already: only ``{"item": …, "label": …}``, the label as stored, and the response header
        ``Preference-Applied: return=minimal``."""
        access = self.get_study_access(Role.RATER)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The service finds the caller's assignment on the item as it locks it, and hands back
        # the label as written: what GET would read now.
        label = services.label_submit_on_item(study=access.study, rater=request.user, item_id=item_id,
                                              kind=data.validated_data["kind"],
                                              category_ids=data.validated_data["categories"],
                                              note=data.validated_data["note"])
        if prefers_minimal(request):
            return Response({"item": label.assignment.item_id, "label": label_data(label)},
                            headers={"Preference-Applied": "return=minimal"})
        assignment = selectors.assignment_get_for_rater(study=access.study, user=request.user, item_id=item_id)
        return Response(AssignmentOutput(assignment, context={"label": label}).data)


class LabelListApi(StudyApiMixin, PaginatedApi):
    pagination_class = PageNumbersCounted

    class ListOutput(serializers.Serializer):
        # reads the rows of selectors.label_list_for_api (dicts)
        class Meta:
            ref_name = "VisibleLabel"

        item = serializers.IntegerField()
        draw = serializers.IntegerField()
        post = serializers.IntegerField()
        title = serializers.CharField()
        rater = serializers.CharField()
        kind = serializers.ChoiceField(choices=LabelKind.choices)
        categories = serializers.SerializerMethodField()
        note = serializers.CharField()
        revision = serializers.IntegerField()
        updated_at = serializers.DateTimeField()

        @extend_schema_field(CategoryRefOutput(many=True))
        def get_categories(self, row) -> list[dict]:
            return row["categories"]  # as CategoryRefOutput writes them (label_rows_complete)

    @extend_schema(responses=ListOutput(many=True))
    def get(self, request, slug):
        """The labels the caller may see (the blindness rule): their own; on a draw whose round
        runs, everyone's only for an owner or arbitrator who does not rate on it; on a draw in
        arbitration, everyone's."""
        access = self.get_study_access()
        # label_rows_complete writes the rows as ListOutput does (the schema; a test holds them equal).
        labels = selectors.label_list_for_api(study=access.study, membership=access.membership)
        return paginate(queryset=labels, serializer_class=None, request=request, view=self,
                        complete=selectors.label_rows_complete)


class LabellingProgressApi(StudyApiMixin, APIView):
    class RaterOutput(serializers.Serializer):
        class Meta:
            ref_name = "LabellingRaterProgress"

        rater = serializers.CharField(source="username")
        labelled = serializers.IntegerField()
        assigned = serializers.IntegerField()
        by_stratum = serializers.SerializerMethodField(help_text="stratum name → labelled / assigned")

        def get_by_stratum(self, progress) -> dict[str, dict[str, int]]:
            names = self.context["stratum_names"]
            return {names[pk]: {"labelled": done, "assigned": total}
                    for pk, (done, total) in progress.by_stratum.items()}

    @extend_schema(responses=RaterOutput(many=True))
    def get(self, request, slug):
        """Labelled / assigned per rater and stratum (counts only): one's own, and every rater's for
        owners and arbitrators who do not rate on the draw (the blindness rule)."""
        access = self.get_study_access()
        progress = selectors.labelling_progress(study=access.study, user=request.user, membership=access.membership)
        several = len({s.draw_id for s in progress.strata}) > 1
        names = {s.pk: f"v{s.draw.version} {s.name}" if several else s.name for s in progress.strata}
        return Response(self.RaterOutput(progress.raters, many=True, context={"stratum_names": names}).data)


class HotkeyCategoryOutput(serializers.Serializer):
    class Meta:
        ref_name = "LabellingHotkeyCategory"

    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField(help_text="names from the root, joined by “ › ”")


class HotkeyOutput(serializers.Serializer):
    class Meta:
        ref_name = "LabellingHotkey"

    key = serializers.IntegerField(help_text="1 to 9")
    category = HotkeyCategoryOutput(allow_null=True, help_text="the leaf the key ticks; null for an empty key")


class LabellingHotkeysApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "LabellingHotkeysInput"

        class KeyInput(StrictInput):
            class Meta:
                ref_name = "LabellingHotkeyInput"

            key = serializers.IntegerField(min_value=1, max_value=9)
            category = serializers.IntegerField(allow_null=True, help_text="a leaf id, or null to empty the key")

        keys = KeyInput(many=True, help_text="the keys to set; the others keep their categories (a category "
                                             "given to a key leaves the key it was on)")

        def validate_keys(self, value):
            keys = [entry["key"] for entry in value]
            if twice := sorted({k for k in keys if keys.count(k) > 1}):
                raise serializers.ValidationError(f"Each key once: {', '.join(map(str, twice))} given twice.")
            return value

    @extend_schema(responses=HotkeyOutput(many=True))
    def get(self, request, slug):
        """The caller's keys 1–9 while labelling: the first nine leaves in tree order the first time,
        then as the caller sets them (a merge moves a key to the surviving category)."""
        access = self.get_study_access(Role.RATER)
        choices = selectors.category_choices(study=access.study, user=request.user)
        keys = services.hotkeys_get_or_assign(study=access.study, user=request.user, choices=choices)
        return Response(HotkeyOutput(keys, many=True).data)

    @extend_schema(request=InputSerializer, responses=HotkeyOutput(many=True))
    def put(self, request, slug):
        """Set some of the caller's keys; answers all nine as they now are."""
        access = self.get_study_access(Role.RATER)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        choices = selectors.category_choices(study=access.study, user=request.user)
        keys = {entry["key"]: entry["category"] for entry in data.validated_data["keys"]}
        services.hotkeys_set(study=access.study, user=request.user, keys=keys, choices=choices)
        keys = services.hotkeys_get_or_assign(study=access.study, user=request.user, choices=choices)
        return Response(HotkeyOutput(keys, many=True).data)
