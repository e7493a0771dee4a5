from django.urls import include, path

from annotator.accounts.apis import TokenObtainApi
from annotator.corpus import apis as corpus_apis
from annotator.jobs import apis as job_apis
from sampling.question_sets import apis as selection_apis
from annotator.studies import apis as study_apis
from sampling.draws import apis as sampling_apis

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("sample-size/", sampling_apis.SampleSizeApi.as_view(), name="api-sample-size"),
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
    path("jobs/<int:job_id>/cancel/", job_apis.JobCancelApi.as_view(), name="api-job-cancel"),
    path("studies/<slug:slug>/sets/", selection_apis.QuestionSetListCreateApi.as_view(), name="api-sets"),
    path("studies/<slug:slug>/sets/compare/", selection_apis.QuestionSetComparisonApi.as_view(),
         name="api-sets-compare"),
    path("studies/<slug:slug>/sets/<int:set_id>/", selection_apis.QuestionSetDetailApi.as_view(), name="api-set"),
    path("studies/<slug:slug>/sets/<int:set_id>/evaluate/", selection_apis.QuestionSetEvaluateApi.as_view(),
         name="api-set-evaluate"),
    path("studies/<slug:slug>/sets/<int:set_id>/members/", selection_apis.QuestionSetMemberListApi.as_view(),
         name="api-set-members"),
    path("studies/<slug:slug>/sets/<int:set_id>/decisions/", selection_apis.ManualDecisionListCreateApi.as_view(),
         name="api-set-decisions"),
    path("studies/<slug:slug>/sets/<int:set_id>/decisions/<int:post_id>/",
         selection_apis.ManualDecisionDetailApi.as_view(), name="api-set-decision"),
    path("studies/<slug:slug>/sets/<int:set_id>/statistics/", selection_apis.QuestionSetStatisticsApi.as_view(),
         name="api-set-statistics"),
    path("studies/<slug:slug>/draws/", sampling_apis.DrawListCreateApi.as_view(), name="api-draws"),
    path("studies/<slug:slug>/draws/preview/", sampling_apis.DrawPreviewApi.as_view(), name="api-draw-preview"),
    path("studies/<slug:slug>/draws/<int:version>/", sampling_apis.DrawDetailApi.as_view(), name="api-draw"),
    path("studies/<slug:slug>/draws/<int:version>/items/", sampling_apis.DrawItemListApi.as_view(),
         name="api-draw-items"),
    path("studies/<slug:slug>/draws/<int:version>/redistribute/", sampling_apis.DrawRedistributeApi.as_view(),
         name="api-draw-redistribute"),
    path("studies/<slug:slug>/draws/<int:version>/start-labelling/", sampling_apis.DrawLabellingStartApi.as_view(),
         name="api-draw-labelling-start"),
    path("", include("taxonomy.tree.api_urls")),
    path("", include("taxonomy.coding.api_urls")),
    path("", include("taxonomy.labelling.api_urls")),
    path("", include("taxonomy.review.arbitration.api_urls")),
    path("", include("taxonomy.results.api_urls")),
    path("", include("taxonomy.classifier.api_urls")),
    path("", include("taxonomy.review.agreement.api_urls")),
]
