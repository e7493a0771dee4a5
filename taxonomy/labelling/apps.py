from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "taxonomy.labelling"
    label = "labelling"
    verbose_name = "Reliability labelling"
    default_auto_field = "django.db.models.BigAutoField"
