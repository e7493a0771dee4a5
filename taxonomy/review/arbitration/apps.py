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
        from django.db.models import Q

        from taxonomy.tree import dependents

        from .models import (
            ArbitratorRoot,
            FinalLabelCategory,
            PendingCategory,
            RelabelRequest,
        )

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
        dependents.register(RelabelRequest, "category", name="relabel_requests", singular="open re-label request",
                            plural="open re-label requests", merge=dependents.MOVE, split=dependents.KEEP,
                            retire=dependents.BLOCK, following=Q(done_at__isnull=True),
                            why="an open request asks about the category its items are now in; answered "
                                "ones are history")
        dependents.register(ArbitratorRoot, "root", name="arbitrator_roots", singular="arbitrator restricted to it",
                            plural="arbitrators restricted to it", merge=dependents.MOVE, split=dependents.COPY,
                            retire=dependents.BLOCK, unique_with="user",
                            why="a restriction covers its category's branch wherever it moves; a merge hands it "
                                "to the survivor, a split to both parts")
        dependents.register(PendingCategory, "category", name="from_pending", singular="record of creation from "
                            "Pending", plural="records of creation from Pending", merge=dependents.KEEP,
                            split=dependents.KEEP, retire=dependents.KEEP,
                            why="history: the category was made from Pending items, whatever became of it")

        # Its re-label requests reopen items in the raters' queues (labelling asks, never imports).
        from taxonomy.labelling.reopening import Reopener, reopener_register

        from .selectors import (
            relabel_first_open,
            relabel_request_is_open,
            relabel_request_open,
        )
        from .services import relabel_request_answer

        reopener_register(Reopener(
            is_open=lambda assignment: relabel_request_is_open(assignment=assignment),
            first_open=lambda study, user: relabel_first_open(study=study, user=user),
            request=lambda assignment: relabel_request_open(assignment=assignment),
            answer=lambda assignment, now: relabel_request_answer(assignment=assignment, now=now)))
