from django import forms


class CodeTextForm(forms.Form):
    """A code's text; cleaning (whitespace, length, empty) is the service's, so that
    pages and API give the same messages."""

    text = forms.CharField(required=False, strip=False)


class CodeFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    ungrouped = forms.BooleanField(required=False)


class CodesGroupForm(forms.Form):
    """Selected codes → a new category ("new": name + parent) or an existing one ("add": category)."""

    ACTIONS = [("new", "Create category from these"), ("add", "Add to category")]

    action = forms.ChoiceField(choices=ACTIONS)
    codes = forms.TypedMultipleChoiceField(coerce=int, required=False)
    name = forms.CharField(required=False, max_length=200)
    parent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    category = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(c.id, c.path) for c in categories]
        self.fields["parent"].choices = [("", "— none: a new root —"), *choices]
        self.fields["category"].choices = [("", "— choose —"), *choices]
        # Any integer is accepted here; the selector decides whether each id is one of the study's codes.
        self.fields["codes"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        data = super().clean()
        if not data.get("codes"):
            self.add_error("codes", "Select at least one code.")
        if data.get("action") == "add" and not data.get("category"):
            self.add_error("category", "Choose the category to add the codes to.")
        if data.get("action") == "new" and not (data.get("name") or "").strip():
            self.add_error("name", "A category needs a name.")
        return data
