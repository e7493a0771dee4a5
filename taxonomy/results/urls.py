from django.urls import path

from . import views

app_name = "results"
urlpatterns = [
    path("results/", views.results_page, name="home"),
    path("results/taxonomy.csv", views.taxonomy_csv, name="taxonomy_csv"),
    path("results/figure.<str:fmt>", views.taxonomy_figure, name="figure"),
    path("results/saturation.csv", views.saturation_csv, name="saturation_csv"),
    path("results/saturation.<str:fmt>", views.saturation_figure, name="saturation_figure"),
    path("results/codebook.qdc", views.codebook_qdc, name="codebook"),
    path("results/report/", views.report_page, name="report"),
    path("results/report.md", views.report_markdown, name="report_md"),
    path("results/exports/", views.export_start, name="export_start"),
    path("results/exports/<int:job_id>/", views.export_detail, name="export"),
    path("results/exports/<int:job_id>/file", views.export_download, name="export_file"),
]
