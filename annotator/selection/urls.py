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
]
