from django.urls import path

from . import views

app_name = "sampling"
urlpatterns = [
    path("tools/sample-size/", views.sample_size_calculator, name="sample_size"),
    path("studies/<slug:slug>/draws/", views.draw_list, name="draws"),
    path("studies/<slug:slug>/draws/new/", views.draw_new, name="draw_new"),
    path("studies/<slug:slug>/draws/<int:version>/", views.draw_detail, name="draw"),
    path("studies/<slug:slug>/draws/<int:version>/redistribute/", views.draw_redistribute, name="draw_redistribute"),
    path("studies/<slug:slug>/draws/<int:version>/start-labelling/", views.draw_labelling_start,
         name="draw_labelling_start"),
    path("studies/<slug:slug>/draws/<int:version>/items.csv", views.draw_items_csv, name="draw_items_csv"),
    path("studies/<slug:slug>/draws/<int:version>/population.csv", views.draw_population_csv,
         name="draw_population_csv"),
]
