from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    # The API first: a client's every call (a rater's submissions, one after the other) would
    # otherwise be matched against each page route before reaching it.
    path("api/", include("annotator.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("annotator.studies.urls")),
    path("", include("sampling.draws.urls")),
    path("studies/<slug:slug>/", include("annotator.corpus.urls")),
    path("studies/<slug:slug>/", include("sampling.question_sets.urls")),
    path("studies/<slug:slug>/", include("taxonomy.tree.urls")),
    path("studies/<slug:slug>/", include("taxonomy.coding.urls")),
    path("studies/<slug:slug>/", include("taxonomy.labelling.urls")),
    path("studies/<slug:slug>/", include("taxonomy.review.arbitration.urls")),
    path("studies/<slug:slug>/", include("taxonomy.results.urls")),
    path("studies/<slug:slug>/", include("taxonomy.classifier.urls")),
    path("studies/<slug:slug>/", include("taxonomy.review.agreement.urls")),
    path("", include("annotator.jobs.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

# JSON under /api/, pages elsewhere; a database outage is a 503 (annotator/errors.py).
handler400 = "annotator.errors.bad_request"
handler403 = "annotator.errors.permission_denied"
handler404 = "annotator.errors.page_not_found"
handler500 = "annotator.errors.server_error"
