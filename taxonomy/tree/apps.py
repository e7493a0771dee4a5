from django.apps import AppConfig


class TreeConfig(AppConfig):
    name = "taxonomy.tree"
    label = "tree"
    verbose_name = "Taxonomy tree"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from .dependents import check_every_relation_registered, register_tree_fields

        register_tree_fields()
        checks.register(check_every_relation_registered, checks.Tags.models)
