from django.urls import path

from . import views

app_name = "sampling"
urlpatterns = [path("tools/sample-size/", views.sample_size_calculator, name="sample_size")]
