"""Pages of the similar coded posts (issue 20, points 4 and 5): an item's similar coded posts
(a page, or the panel the arbitration, Pending and labelling pages load by URL with htmx), the
Pending queue's clusters, the nearest-neighbour accuracy, and the owner's "show after submit".
Who sees what is decided in ``viewing`` and ``labelling.visibility``."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from annotator.studies.access import REVIEWERS, study_view
from annotator.studies.models import Role
from sampling.draws.sight import sight_for

from . import clusters, similarity, viewing


def _fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _method(request) -> str:
    method = request.GET.get("method") or similarity.TFIDF
    if method not in similarity.methods_available():
        raise Http404("No such similarity method here.")
    return method


def _number(request, name: str, *, default: int | None, lowest: int, highest: int) -> int | None:
    value = request.GET.get(name, "")
    if not value:
        return default
    if not value.isdigit():
        raise Http404(f"{name} must be a whole number.")
    return max(lowest, min(int(value), highest))


@study_view()
def similar(request, slug, item_id, *, access):
    """The coded posts most similar to an item's post. A rater's own item of a running round is
    refused (403, with why); the labelling page asks only once the label is in, and to htmx a
    refusal is an empty answer (204: nothing is swapped in)."""
    try:
        item = viewing.item_get_for_help(access=access, user=request.user, item_id=item_id)
    except PermissionDenied:
        if _fragment(request):
            return HttpResponse(status=204)
        raise
    method = _method(request)
    k = _number(request, "k", default=similarity.DEFAULT_K, lowest=1, highest=similarity.MAX_K)
    sight = sight_for(study=access.study, user=request.user)
    context = {"access": access, "study": access.study, "item": item, "method": method, "k": k,
               "method_name": similarity.METHOD_NAMES[method], "methods": similarity.methods_available(),
               "method_names": similarity.METHOD_NAMES,
               "similar": similarity.similar_posts(study=access.study, post=item.post, sight=sight, method=method,
                                                   k=k),
               "accuracy": similarity.neighbour_accuracy(study=access.study, sight=sight, method=method)}
    if _fragment(request):
        return render(request, "taxonomy/classifier/similarity.html#panel", context)
    return render(request, "taxonomy/classifier/similarity.html", context)


@study_view(REVIEWERS)  # as the Pending queue
def pending_clusters(request, slug, *, access):
    """The Pending queue's posts and free texts in clusters: candidate new categories
    (owners and arbitrators, as the Pending queue)."""
    k = _number(request, "k", default=None, lowest=1, highest=20)
    sight = sight_for(study=access.study, user=request.user)
    context = {"access": access, "study": access.study, "k": k,
               "clusters": clusters.pending_clusters(study=access.study, user=request.user, sight=sight, k=k)}
    if _fragment(request):
        return render(request, "taxonomy/classifier/similarity_clusters.html#clusters", context)
    return render(request, "taxonomy/classifier/similarity_clusters.html", context)


@study_view()
def neighbour_accuracy(request, slug, *, access):
    """How often the nearest coded neighbour's label is right, per method, over the final labels
    the member may see."""
    sight = sight_for(study=access.study, user=request.user)
    context = {"access": access, "study": access.study,
               "figures": similarity.neighbour_accuracy_all(study=access.study, sight=sight),
               "embeddings": similarity.embeddings_available()}
    if _fragment(request):
        return render(request, "taxonomy/classifier/similarity_accuracy.html#figures", context)
    return render(request, "taxonomy/classifier/similarity_accuracy.html", context)


@study_view(Role.OWNER, methods=["GET", "POST"])
def similarity_settings(request, slug, *, access):
    """The owner's switch: show similar posts (and a model's suggestion) to a rater once their
    label on the item is in. Off by default."""
    if request.method == "POST":
        on = request.POST.get("show_after_submit") == "on"
        viewing.classifier_settings_update(study=access.study, actor=request.user, show_after_submit=on)
        messages.success(request, "Raters now see similar coded posts after they submit." if on else
                         "Raters no longer see similar coded posts on the items they label.")
        return redirect("classifier:similarity_settings", slug=slug)
    return render(request, "taxonomy/classifier/similarity_settings.html", {
        "access": access, "study": access.study, "settings": viewing.classifier_settings_get(study=access.study)})
