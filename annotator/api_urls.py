from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from annotator.corpus import apis as corpus_apis
from annotator.jobs import apis as job_apis
from annotator.studies import apis as study_apis

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("studies/", study_apis.StudyListCreateApi.as_view(), name="api-studies"),
    path("studies/<slug:slug>/", study_apis.StudyDetailApi.as_view(), name="api-study"),
    path("studies/<slug:slug>/members/", study_apis.MembershipListCreateApi.as_view(), name="api-members"),
    path(
        "studies/<slug:slug>/members/<int:membership_id>/",
        study_apis.MembershipDetailApi.as_view(),
        name="api-member",
    ),
    path("studies/<slug:slug>/posts/", corpus_apis.PostListApi.as_view(), name="api-posts"),
    path("studies/<slug:slug>/posts/<int:post_id>/", corpus_apis.PostDetailApi.as_view(), name="api-post"),
    path("studies/<slug:slug>/imports/", corpus_apis.ImportListCreateApi.as_view(), name="api-imports"),
    path("jobs/<int:job_id>/", job_apis.JobDetailApi.as_view(), name="api-job"),
]
