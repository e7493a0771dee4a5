from django import forms

from .design import DrawDesign, StratumChoice
from .models import StratumMode
from .sample_size import ROUNDINGS

DEFAULTS = {"confidence": 0.95, "margin": 0.05, "proportion": 0.5, "rounding": "ceil"}


class SampleSizeForm(forms.Form):
    population = forms.IntegerField(label="Population N", help_text="questions in the set (stratum)")
    confidence = forms.FloatField(required=False, help_text="e.g. 0.95 (default)")
    margin = forms.FloatField(label="Margin of error", required=False, help_text="e.g. 0.05 for ±5 % (default)")
    proportion = forms.FloatField(label="Expected proportion p", required=False,
                                  help_text="0.5 (default) is the conservative choice")
    rounding = forms.ChoiceField(choices=[(r, r) for r in ROUNDINGS], required=False,
                                 help_text="ceil (default) is the conservative textbook rule")

    def clean(self):
        data = super().clean()
        for name, default in DEFAULTS.items():
            if data.get(name) in (None, ""):
                data[name] = default
        return data


class DrawDesignForm(forms.Form):
    """The design of a draw: global parameters, then one row per evaluated
    question set (use it as a stratum? in which order? how is n decided?)."""

    confidence = forms.FloatField(initial=0.95, help_text="e.g. 0.95")
    margin = forms.FloatField(label="Margin of error", initial=0.05, help_text="e.g. 0.05 for ±5 %")
    proportion = forms.FloatField(label="Expected proportion p", initial=0.5)
    rounding = forms.ChoiceField(choices=[(r, r) for r in ROUNDINGS], initial="ceil")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1,
                              help_text="leave empty for a fresh one; the same seed draws the same posts")
    pilot_share = forms.FloatField(label="Pilot share", initial=0.3, help_text="0.3 sets 30 % aside, per stratum")
    raters_per_item = forms.IntegerField(label="Raters per item", initial=2, min_value=1)
    raters = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                       help_text="the reliability items go to these raters")
    expected_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, sets, raters, **kwargs):
        super().__init__(*args, **kwargs)
        self.sets = list(sets)
        self.fields["raters"].choices = [(str(u.pk), u.username) for u in raters]
        if not self.is_bound:
            self.initial.setdefault("raters", [str(u.pk) for u in raters])
        for index, qs in enumerate(self.sets, start=1):
            # In the design table a row's fields sit under the column heads, with no label of their own:
            # each is named for assistive technology (aria-label) with its column and its set.
            def named(what: str, qs=qs) -> dict:
                return {"aria-label": f"{what} of “{qs.name}”"}

            self.fields[f"s{qs.pk}_use"] = forms.BooleanField(required=False, label=f"Use “{qs.name}” as a stratum")
            self.fields[f"s{qs.pk}_order"] = forms.IntegerField(
                required=False, initial=index, min_value=1, label="Order",
                widget=forms.NumberInput(attrs=named("Order")))
            self.fields[f"s{qs.pk}_mode"] = forms.ChoiceField(
                choices=StratumMode.choices, label="Size", initial=StratumMode.CALCULATED,
                widget=forms.Select(attrs=named("Size")))
            self.fields[f"s{qs.pk}_n"] = forms.IntegerField(required=False, min_value=1, label="n",
                                                            widget=forms.NumberInput(attrs=named("n (by hand)")))
            self.fields[f"s{qs.pk}_reason"] = forms.CharField(required=False, max_length=500, label="Reason",
                                                              widget=forms.TextInput(attrs=named("Reason for n")))

    def rows(self):
        """(set, bound fields) for the design table of the form."""
        return [(qs, {name: self[f"s{qs.pk}_{name}"] for name in ("use", "order", "mode", "n", "reason")})
                for qs in self.sets]

    def to_design(self):
        data = self.cleaned_data
        used = [(data.get(f"s{qs.pk}_order") or 10**6, qs.name, qs) for qs in self.sets if data.get(f"s{qs.pk}_use")]
        strata = tuple(StratumChoice(question_set_id=qs.pk, mode=data[f"s{qs.pk}_mode"], n=data.get(f"s{qs.pk}_n"),
                                     reason=data.get(f"s{qs.pk}_reason") or "")
                       for _, _, qs in sorted(used, key=lambda row: row[:2]))
        return DrawDesign(strata=strata, confidence=data["confidence"], margin=data["margin"],
                          proportion=data["proportion"], rounding=data["rounding"], seed=data.get("seed"),
                          pilot_share=data["pilot_share"], raters_per_item=data["raters_per_item"],
                          rater_ids=tuple(int(pk) for pk in data.get("raters") or ()))

    @classmethod
    def initial_from(cls, design) -> dict:
        initial = {name: getattr(design, name) for name in ("confidence", "margin", "proportion", "rounding",
                                                             "seed", "pilot_share", "raters_per_item")}
        if design.rater_ids:
            initial["raters"] = [str(pk) for pk in design.rater_ids]
        for order, choice in enumerate(design.strata, start=1):
            prefix = f"s{choice.question_set_id}_"
            initial.update({prefix + "use": True, prefix + "order": order, prefix + "mode": choice.mode,
                            prefix + "n": choice.n, prefix + "reason": choice.reason})
        return initial


class RedistributeForm(forms.Form):
    pilot_share = forms.FloatField(label="Pilot share", min_value=0, max_value=1)
    raters_per_item = forms.IntegerField(label="Raters per item", min_value=1)
    raters = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, raters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["raters"].choices = [(str(u.pk), u.username) for u in raters]
