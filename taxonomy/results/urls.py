from django.urls import path

from . import views

app_name = "results"
urlpatterns = [
    path("results/", views.results_page, name="home"),
    path("results/taxonomy.csv", views.taxonomy_csv, name="taxonomy_csv"),
]
