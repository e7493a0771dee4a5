from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "taxonomy.labelling"
    label = "labelling"
    verbose_name = "Reliability labelling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import LABELLING, stage_register

        from .stage import labelling_stage

        stage_register(LABELLING, labelling_stage)  # its step on the study home

        # How labels and re-label requests follow a merge, split or retirement of their
        # category (taxonomy.tree.dependents).
        from django.db.models import Q

        from taxonomy.tree import dependents

        from .models import HotkeyBinding, LabelCategory, RelabelRequest

        def visible_uses(category, user):  # a split moves only labels its author may see
            from taxonomy.tree.selectors import category_labels_visible

            return category_labels_visible(category=category, user=user)

        def use_text(use) -> str:
            assignment = use.label.assignment
            return f"{assignment.item.post.title or assignment.item.post.so_id} — {assignment.rater.username}"

        dependents.register(LabelCategory, "category", name="labels", singular="label", plural="labels",
                            merge=dependents.MOVE, split=dependents.CHOSEN, retire=dependents.BLOCK,
                            unique_with="label", chosen_by="label_id", leaf_only=True, choices=visible_uses,
                            choice_text=use_text)
        dependents.register(RelabelRequest, "category", name="relabel_requests", singular="open re-label request",
                            plural="open re-label requests", merge=dependents.MOVE, split=dependents.KEEP,
                            retire=dependents.BLOCK, following=Q(done_at__isnull=True),
                            why="an open request asks about the category its items are now in; answered "
                                "ones are history")
        dependents.register(HotkeyBinding, "category", name="hotkeys", singular="rater's key", plural="raters' keys",
                            merge=dependents.MOVE, split=dependents.KEEP, retire=dependents.KEEP,
                            unique_with="user",
                            why="a rater's key 1–9 follows its category into the survivor of a merge (where the "
                                "rater has the survivor on a key already, the merged one's key is left empty); "
                                "a retired category's key does nothing until the rater assigns it again")
