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

        # The raters' tallies are made when a draw's labelling starts (sampling imports no later step).
        from sampling.draws.services import labelling_started_register

        from .services import rater_tallies_make

        labelling_started_register(lambda draw: rater_tallies_make(draw=draw))

        # How labels and raters' keys follow a merge, split or retirement of their category
        # (taxonomy.tree.dependents).
        from taxonomy.tree import dependents
        from taxonomy.tree.selectors import (
            category_counts_register,
            category_uses_register,
        )

        from .models import HotkeyBinding, LabelCategory
        from .selectors import category_labels_visible
        from .visibility import label_category_counts

        def visible_uses(category, user):  # a split moves only labels its author may see
            return category_labels_visible(category=category, user=user)

        # The tree page's label counts and a category's labels (the tree imports no later step).
        category_counts_register("labels", lambda study, sight: label_category_counts(study=study, user=None,
                                                                                       sight=sight))
        category_uses_register("labels", visible_uses)

        def use_text(use) -> str:
            assignment = use.label.assignment
            return f"{assignment.item.post.title or assignment.item.post.so_id} — {assignment.rater.username}"

        dependents.register(LabelCategory, "category", name="labels", singular="label", plural="labels",
                            merge=dependents.MOVE, split=dependents.CHOSEN, retire=dependents.BLOCK,
                            unique_with="label", chosen_by="label_id", leaf_only=True, choices=visible_uses,
                            choice_text=use_text)
        dependents.register(HotkeyBinding, "category", name="hotkeys", singular="rater's key", plural="raters' keys",
                            merge=dependents.MOVE, split=dependents.KEEP, retire=dependents.KEEP,
                            unique_with="user",
                            why="a rater's key 1–9 follows its category into the survivor of a merge (where the "
                                "rater has the survivor on a key already, the merged one's key is left empty); "
                                "a retired category's key does nothing until the rater assigns it again")
