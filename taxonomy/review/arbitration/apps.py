from django.apps import AppConfig


class ArbitrationConfig(AppConfig):
    name = "taxonomy.review.arbitration"
    label = "arbitration"
    verbose_name = "Arbitration and final labels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import ARBITRATION, stage_register

        from .stage import arbitration_stage

        stage_register(ARBITRATION, arbitration_stage)  # its step on the study home

        # How final labels, arbitrators' root restrictions and the record of categories
        # made from Pending follow a merge, split or retirement (taxonomy.tree.dependents).
        from taxonomy.tree import dependents

        from .models import ArbitratorRoot, FinalLabelCategory, PendingCategory

        def final_uses(category, user):
            return (FinalLabelCategory.objects.filter(category=category).select_related("final__item__post")
                    .order_by("final__item__post__so_id", "final_id"))

        def final_text(use) -> str:
            post = use.final.item.post
            return f"{post.title or post.so_id} — final label ({use.final.get_method_display().lower()})"

        dependents.register(FinalLabelCategory, "category", name="final_labels", singular="final label",
                            plural="final labels", merge=dependents.MOVE, split=dependents.CHOSEN,
                            retire=dependents.BLOCK, unique_with="final", chosen_by="final_id", leaf_only=True,
                            choices=final_uses, choice_text=final_text)
        dependents.register(ArbitratorRoot, "root", name="arbitrator_roots", singular="arbitrator restricted to it",
                            plural="arbitrators restricted to it", merge=dependents.MOVE, split=dependents.COPY,
                            retire=dependents.BLOCK, unique_with="user",
                            why="a restriction covers its category's branch wherever it moves; a merge hands it "
                                "to the survivor, a split to both parts")
        dependents.register(PendingCategory, "category", name="from_pending", singular="record of creation from "
                            "Pending", plural="records of creation from Pending", merge=dependents.KEEP,
                            split=dependents.KEEP, retire=dependents.KEEP,
                            why="history: the category was made from Pending items, whatever became of it")
