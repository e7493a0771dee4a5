from django.apps import AppConfig


class CodingConfig(AppConfig):
    name = "taxonomy.coding"
    label = "coding"
    verbose_name = "Pilot open coding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import PILOT, stage_register

        from .stage import pilot_stage

        stage_register(PILOT, pilot_stage)  # its step on the study home

        # How codes follow a merge, split or retirement of their category (taxonomy.tree.dependents).
        from taxonomy.tree import dependents
        from taxonomy.tree.selectors import category_uses_register

        from .models import Code
        from .selectors import category_codes

        dependents.register(Code, "category", name="codes", singular="code", plural="codes",
                            merge=dependents.MOVE, split=dependents.CHOSEN, retire=dependents.BLOCK,
                            choices=lambda category, user: category_codes(category=category),
                            choice_text=lambda code: code.text)
        # A category's codes on its page (the tree imports no later step).
        category_uses_register("codes", lambda category, user: category_codes(category=category))
