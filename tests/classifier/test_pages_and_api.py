"""The classifier's pages and API: who sees them, training and estimating through them, bad input as
a form error or a 400, progress while the job runs, and a model on an older taxonomy flagged."""

from django.urls import reverse
from rest_framework.test import APIClient

from annotator.jobs.models import Job
from annotator.jobs.runner import job_run
from sampling.draws.models import Assignment, SampleDraw
from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel
from taxonomy.tree.services import category_add
from tests.factories import labelling_draw


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_train_estimate_and_read_over_the_api(corpus, queued, django_capture_on_commit_callbacks):
    owner = api(corpus["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        started = owner.post("/api/studies/cls/classifier/models/",
                             {"level": "root", "seed": 4, "params": {"folds": 3},
                              "keywords": {"Mobile": ["android", "tflite"]}}, format="json")
    assert started.status_code == 202, started.json()
    body = started.json()
    assert body["trained"] is False and body["job"]["status"] == "queued" and queued == [body["job"]["id"]]
    job_run(job_id=body["job"]["id"])
    detail = owner.get(f"/api/studies/cls/classifier/models/{body['id']}/").json()
    assert detail["trained"] and detail["seed"] == 4 and detail["params"]["folds"] == 3
    assert detail["keywords"] == {str(corpus["leaves"]["Android build"].parent_id): ["android", "tflite"]}
    assert len(detail["training_items"]) == 48 and detail["cv_report"]["model"]["macro"]["f1"]["mean"] > 0.8
    assert detail["outdated"] is False
    estimate = owner.post(f"/api/studies/cls/classifier/models/{body['id']}/estimates/",
                          {"question_set": corpus["question_set"].pk, "seed": 2}, format="json")
    assert estimate.status_code == 202, estimate.json()
    job_run(job_id=estimate.json()["job"]["id"])
    read = api(corpus["viewer"]).get(f"/api/studies/cls/classifier/estimates/{estimate.json()['id']}/").json()
    assert read["predicted"] == 60 and len(read["shares"]) == 3 and "Rogan" in read["method"]
    csv_file = owner.get(f"/api/studies/cls/classifier/estimates/{estimate.json()['id']}/predictions.csv")
    assert csv_file.status_code == 200 and len(b"".join(csv_file.streaming_content).splitlines()) == 61
    # the tree changes: flagged, and the estimate keeps the version it was made with
    category_add(study=corpus["study"], name="Desktop", actor=corpus["owner"])
    listed = owner.get("/api/studies/cls/classifier/models/").json()
    assert listed[0]["outdated"] is True
    again = owner.get(f"/api/studies/cls/classifier/estimates/{estimate.json()['id']}/").json()
    assert again["outdated"] is True and again["taxonomy_version"] == detail["taxonomy_version"]


def test_bad_input_is_a_400_with_the_count_needed(corpus, queued):
    owner = api(corpus["owner"])
    few = owner.post("/api/studies/cls/classifier/models/", {"level": "leaf", "params": {"folds": 9}},
                     format="json")
    assert few.status_code == 400 and "at least 9 labelled posts each" in str(few.json())
    assert owner.post("/api/studies/cls/classifier/models/", {"level": "twig"}, format="json").status_code == 400
    assert owner.post("/api/studies/cls/classifier/models/", {"level": "root", "keywords": {"Nope": ["x"]}},
                      format="json").status_code == 400
    assert not ClassifierModel.objects.exists()


def test_who_may_see_and_train(corpus, queued):
    assert api(corpus["viewer"]).get("/api/studies/cls/classifier/models/").status_code == 200
    refused = api(corpus["viewer"]).post("/api/studies/cls/classifier/models/", {"level": "root"}, format="json")
    assert refused.status_code == 403
    assert api(corpus["arbitrator"]).post("/api/studies/cls/classifier/models/", {"level": "root"},
                                          format="json").status_code == 202
    # while a round runs on a draw the rater rates on, the classifier does not exist for them
    labelling_draw(study=corpus["study"], raters=[corpus["rater"]], pilot=0, reliability=2, per_item=1)
    assert Assignment.objects.filter(rater=corpus["rater"]).exists()
    assert api(corpus["rater"]).get("/api/studies/cls/classifier/models/").status_code == 404
    model = ClassifierModel.objects.get()
    assert api(corpus["rater"]).get(f"/api/studies/cls/classifier/models/{model.pk}/").status_code == 404
    assert api(corpus["viewer"]).get("/api/studies/cls/classifier/models/").status_code == 404  # cannot see it
    assert api(corpus["owner"]).get("/api/studies/cls/classifier/models/").status_code == 200  # rates on none
    outsider = APIClient()
    assert outsider.get("/api/studies/cls/classifier/models/").status_code in (401, 403)
    SampleDraw.objects.update(arbitration_started_at=corpus["draw"].arbitration_started_at)
    assert api(corpus["rater"]).get("/api/studies/cls/classifier/models/").status_code == 200


def test_the_pages_train_show_progress_the_report_and_estimate(corpus, queued, client):
    client.force_login(corpus["owner"])
    home = client.get(reverse("classifier:home", args=["cls"]))
    assert home.status_code == 200 and b"Train a model" in home.content and b"False positive" in home.content
    refused = client.post(reverse("classifier:train", args=["cls"]), {"level": "leaf", "folds": "9"})
    assert refused.status_code == 400 and "at least 9 labelled posts each" in refused.content.decode()
    response = client.post(reverse("classifier:train", args=["cls"]),
                           {"level": "leaf", "folds": "4", "seed": "5", "keywords": "Quantization: int8, tflite"})
    model = ClassifierModel.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("classifier:model", args=["cls", model.pk])
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and b'hx-trigger="every 1s"' in poll.content
    job_run(job_id=model.job_id)
    assert client.get(response["Location"], HTTP_HX_REQUEST="true").status_code == 286  # polling stops
    page = client.get(response["Location"]).content.decode()
    assert "Cross-validated figures" in page and "Confusion matrix" in page and "Mobile › Quantization" in page
    assert "stratified on the label combination" in page and "Macro average" in page
    assert "Mobile › Quantization: int8, tflite" in page  # the keywords, by category path
    started = client.post(reverse("classifier:estimate_start", args=["cls", model.pk]),
                          {"question_set": corpus["question_set"].pk})
    estimate = ClassifierEstimate.objects.get()
    assert started["Location"] == reverse("classifier:estimate", args=["cls", estimate.pk])
    job_run(job_id=estimate.job_id)
    assert Job.objects.get(pk=estimate.job_id).status == "succeeded"
    page = client.get(started["Location"]).content.decode()
    assert "Rogan &amp; Gladen 1978" in page and "Wilson" in page and "48 drawn in a sample" in page
    assert "Whole set" in page and "48 coded + 60 estimated" in page
    assert "estimates.csv" in page and "predictions.csv" in page
    category_add(study=corpus["study"], name="Desktop", actor=corpus["owner"])
    assert "the tree has changed since" in client.get(started["Location"]).content.decode()
    assert "older than the tree" in client.get(reverse("classifier:home", args=["cls"])).content.decode()
    study_home = client.get(reverse("studies:detail", args=["cls"])).content.decode()
    assert "Classifier (optional)" in study_home and "1 trained model" in study_home


def test_a_blind_rater_sees_why_not_and_nothing_else(corpus, client):
    labelling_draw(study=corpus["study"], raters=[corpus["rater"]], pilot=0, reliability=2, per_item=1)
    client.force_login(corpus["rater"])
    page = client.get(reverse("classifier:home", args=["cls"]))
    assert page.status_code == 200 and b"opens to you" in page.content and b"Train a model" not in page.content
    assert client.post(reverse("classifier:train", args=["cls"]), {"level": "root"}).status_code == 404
