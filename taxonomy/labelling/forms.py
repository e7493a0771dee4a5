from django import forms

from .models import HOTKEYS, LabelKind
from .services import NOTE_MAX


class IdListField(forms.Field):
    """Category ids as posted by the checkboxes. Which of them may be used is the
    service's decision (it names a retired one), not a choice list's."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            return [int(v) for v in value]
        except (TypeError, ValueError):
            raise forms.ValidationError("Categories are given by their ids.") from None


class LabelForm(forms.Form):
    kind = forms.ChoiceField(choices=LabelKind.choices, initial=LabelKind.CATEGORIES, widget=forms.RadioSelect)
    categories = IdListField(required=False)
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3}))


class ProposeForm(forms.Form):
    name = forms.CharField(label="New category", max_length=200)
    parent = forms.TypedChoiceField(label="Under", coerce=int, choices=())
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "— choose a parent —"), *((c.id, c.path) for c in parents)]


class HotkeysForm(forms.Form):
    """The rater's keys 1–9, each a leaf or empty (a category on one key: the service says so)."""

    def __init__(self, *args, leaves=(), **kwargs):
        super().__init__(*args, **kwargs)
        # The leaf's name first (a long path would hide it at the select's end), then where it is.
        choices = [("", "— no category —"), *((c.id, _leaf_first(c)) for c in leaves if c.is_leaf)]
        for key in HOTKEYS:
            self.fields[f"key_{key}"] = forms.TypedChoiceField(label=f"Key {key}", choices=choices, coerce=int,
                                                               empty_value=None, required=False)

    def keys(self) -> dict[int, int | None]:
        return {key: self.cleaned_data[f"key_{key}"] for key in HOTKEYS}


def _leaf_first(choice) -> str:
    """"Leaf (Root › Inner)" for "Root › Inner › Leaf"."""
    parents = choice.path.rsplit(" › ", 1)
    return f"{choice.name} ({parents[0]})" if len(parents) == 2 else choice.name
