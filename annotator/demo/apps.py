from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo study (``manage.py load_demo``): it walks the whole method, so it sits above
    every step and no step imports it. No models."""

    name = "annotator.demo"
    label = "demo"
    verbose_name = "Demo study"
