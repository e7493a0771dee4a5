from django import forms

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
