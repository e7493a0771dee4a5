from django.apps import AppConfig


class SamplingConfig(AppConfig):
    name = "sampling"
    label = "sampling"
    default_auto_field = "django.db.models.BigAutoField"
