from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "taxonomy.classifier"
    label = "classifier"
    verbose_name = "Classifier and similar posts"
    default_auto_field = "django.db.models.BigAutoField"
