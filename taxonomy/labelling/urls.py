from django.urls import path

from . import views

app_name = "labelling"

urlpatterns = [
    path("labelling/", views.queue, name="queue"),
    path("labelling/items/<int:item_id>/", views.item, name="item"),
    path("labelling/items/<int:item_id>/propose/", views.propose, name="propose"),
    path("labelling/categories/<int:category_id>/", views.category_notes, name="category_notes"),
    path("labelling/keys/", views.hotkeys, name="hotkeys"),
    path("labelling/mine/", views.mine, name="mine"),
    path("labelling/progress/", views.progress, name="progress"),
]
