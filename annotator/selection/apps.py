from django.apps import AppConfig


class SelectionConfig(AppConfig):
    name = "annotator.selection"
    label = "selection"
    verbose_name = "Question sets"
    default_auto_field = "django.db.models.BigAutoField"
