from django.urls import path

from . import views

app_name = "coding"

urlpatterns = [
    path("pilot/", views.pilot_item_list, name="pilot"),
    path("pilot/<int:item_id>/", views.pilot_item, name="item"),
    path("pilot/<int:item_id>/codes/<int:code_id>/remove/", views.code_use_remove, name="code_use_remove"),
    path("codes/", views.code_list, name="codes"),
    path("codes/group/", views.codes_group, name="codes_group"),
    path("codes/<int:code_id>/rename/", views.code_rename, name="code_rename"),
    path("codes/<int:code_id>/ungroup/", views.code_ungroup, name="code_ungroup"),
]
