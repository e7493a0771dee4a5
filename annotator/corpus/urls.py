from django.urls import path

from . import views

app_name = "corpus"
urlpatterns = [
    path("imports/", views.import_list, name="imports"),
    path("imports/<int:job_id>/", views.import_detail, name="import"),
    path("posts/", views.post_list, name="posts"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
]
