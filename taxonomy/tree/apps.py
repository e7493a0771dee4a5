from django.apps import AppConfig


class TreeConfig(AppConfig):
    name = "taxonomy.tree"
    label = "tree"
    verbose_name = "Taxonomy tree"
    default_auto_field = "django.db.models.BigAutoField"
