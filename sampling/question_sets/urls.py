from django.urls import path

from . import views

app_name = "selection"
urlpatterns = [
    path("sets/", views.set_list, name="sets"),
    path("sets/new/", views.set_edit, name="set_new"),
    path("sets/<int:set_id>/", views.set_detail, name="set"),
    path("sets/<int:set_id>/edit/", views.set_edit, name="set_edit"),
    path("sets/<int:set_id>/evaluate/", views.set_evaluate, name="set_evaluate"),
    path("sets/<int:set_id>/delete/", views.set_delete, name="set_delete"),
    path("sets/<int:set_id>/decisions/", views.decision_add, name="decision_add"),
    path("sets/<int:set_id>/decisions/<int:post_id>/remove/", views.decision_remove, name="decision_remove"),
    path("sets/<int:set_id>/statistics/", views.set_statistics, name="set_statistics"),
    path("sets/<int:set_id>/statistics/years.csv", views.set_table_csv, {"table": "years"}, name="set_years_csv"),
    path("sets/<int:set_id>/statistics/response-times.csv", views.set_table_csv, {"table": "response-times"},
         name="set_response_times_csv"),
    path("sets/<int:set_id>/statistics/<slug:chart>.<slug:fmt>", views.set_chart, name="set_chart"),
    path("sets/compare/", views.set_compare, name="compare"),
    path("sets/compare/comparison.csv", views.set_compare_csv, name="compare_csv"),
    path("sets/compare/response-times.<slug:fmt>", views.set_compare_chart, name="compare_chart"),
]
