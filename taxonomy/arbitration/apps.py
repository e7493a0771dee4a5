from django.apps import AppConfig


class ArbitrationConfig(AppConfig):
    name = "taxonomy.arbitration"
    label = "arbitration"
    verbose_name = "Arbitration and final labels"
    default_auto_field = "django.db.models.BigAutoField"
