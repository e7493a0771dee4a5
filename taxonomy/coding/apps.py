from django.apps import AppConfig


class CodingConfig(AppConfig):
    name = "taxonomy.coding"
    label = "coding"
    verbose_name = "Pilot open coding"
    default_auto_field = "django.db.models.BigAutoField"
