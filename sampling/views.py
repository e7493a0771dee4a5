from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .forms import DEFAULTS, SampleSizeForm
from .sample_size import sample_size


@login_required
def sample_size_calculator(request):
    """The whole page, or (for htmx, as the inputs change) just the result."""
    form = SampleSizeForm(request.GET or None, initial=DEFAULTS)
    result = error = None
    if form.is_bound and form.is_valid():
        try:
            result = sample_size(**form.cleaned_data)
        except ValueError as exc:
            error = str(exc)
    context = {"form": form, "result": result, "error": error}
    template = "sampling/_sample_size_result.html" if request.htmx else "sampling/sample_size.html"
    return render(request, template, context)
