from django.urls import path

from . import views

app_name = "arbitration"
urlpatterns = [
    path("arbitration/", views.arbitration_home, name="home"),
    path("arbitration/items/<int:item_id>/", views.arbitration_item, name="item"),
    path("arbitration/pending/", views.pending_list, name="pending"),
    path("arbitration/pilot/", views.pilot_list, name="pilot"),
    path("arbitration/pilot/confirm/", views.pilot_confirm, name="pilot_confirm"),
    path("arbitration/pilot/<int:item_id>/", views.pilot_item, name="pilot_item"),
    path("arbitration/roots/", views.arbitrator_roots, name="roots"),
    path("draws/<int:version>/arbitration/start/", views.arbitration_start, name="start"),
]
