"""Pages, included under studies/<slug>/."""

from django.urls import path

from . import views

app_name = "tree"

ACTIONS = ("rename", "describe", "move", "merge", "split", "retire", "restore", "approve", "reject", "child")

urlpatterns = [
    path("taxonomy/", views.taxonomy_page, name="index"),
    path("taxonomy/add/", views.category_add, name="add"),
    path("taxonomy/history/", views.taxonomy_history, name="history"),
    path("taxonomy/announcements/dismiss/", views.announcements_dismiss, name="announcements_dismiss"),
    path("taxonomy/<int:category_id>/", views.category_detail, name="category"),
    path("taxonomy/<int:category_id>/edit/", views.category_edit, name="edit"),
    *(path(f"taxonomy/<int:category_id>/{action}/", views.category_action, {"action": action}, name=action)
      for action in ACTIONS),
]
