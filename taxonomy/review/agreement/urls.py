from django.urls import path

from . import views

app_name = "agreement"
urlpatterns = [
    path("agreement/", views.run_list, name="runs"),
    path("agreement/<int:run_id>/", views.run_detail, name="run"),
    path("agreement/<int:run_id>/run.csv", views.run_csv, name="run_csv"),
    path("agreement/<int:run_id>/run.json", views.run_json, name="run_json"),
]
