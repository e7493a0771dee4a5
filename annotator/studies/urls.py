from django.urls import path

from . import views

app_name = "studies"
urlpatterns = [
    path("", views.study_list, name="list"),
    path("studies/new/", views.study_create, name="create"),
    path("studies/<slug:slug>/", views.study_detail, name="detail"),
    path("studies/<slug:slug>/members/", views.member_list, name="members"),
    path("studies/<slug:slug>/members/<int:membership_id>/", views.member_update, name="member"),
]
