from django import forms

from .models import AgreementScope
from .services import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, MAX_RESAMPLES, MAX_SEED


class AgreementStartForm(forms.Form):
    """What to compare (the scope) and how (bootstrap resamples, seed, level).
    The draw and stratum choices are the draws in labelling and their strata."""

    scope = forms.ChoiceField(choices=AgreementScope.choices, initial=AgreementScope.DRAW,
                              widget=forms.RadioSelect)
    draw = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                  help_text="for a draw or a stratum run")
    stratum = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, help_text="for a stratum run")
    resamples = forms.IntegerField(initial=DEFAULT_RESAMPLES, min_value=0, max_value=MAX_RESAMPLES,
                                   help_text="bootstrap resamples for the confidence intervals (0: none)")
    seed = forms.IntegerField(required=False, min_value=0, max_value=MAX_SEED,
                              help_text="leave empty for a fresh one; it is recorded either way")
    confidence = forms.FloatField(initial=DEFAULT_CONFIDENCE, min_value=0.5, max_value=0.999,
                                  help_text="level of the intervals, e.g. 0.95")

    def __init__(self, *args, draws, strata, **kwargs):
        super().__init__(*args, **kwargs)
        self.draws = {d.pk: d for d in draws}
        self.strata = {s.pk: s for s in strata}
        self.fields["draw"].choices = [("", "—")] + [(d.pk, f"v{d.version}") for d in draws]
        self.fields["stratum"].choices = [("", "—")] + [(s.pk, f"v{s.draw.version} · {s.name}") for s in strata]

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == AgreementScope.DRAW and not data.get("draw"):
            self.add_error("draw", "Choose the draw.")
        if scope == AgreementScope.STRATUM and not data.get("stratum"):
            self.add_error("stratum", "Choose the stratum.")
        return data

    def start_arguments(self) -> dict:
        """The keyword arguments of ``agreement_run_start``."""
        data = self.cleaned_data
        scope = data["scope"]
        # A stratum names its draw (its choice reads "v2 · Server"), so the draw field is not needed then.
        draw = self.draws.get(data.get("draw")) if scope == AgreementScope.DRAW else None
        stratum = self.strata.get(data.get("stratum")) if scope == AgreementScope.STRATUM else None
        return {"scope": scope, "draw": draw, "stratum": stratum, "resamples": data["resamples"],
                "seed": data.get("seed"), "confidence": data["confidence"]}
