from django import forms

from .dump_parser import parse_tag_list


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".xml,text/xml,application/xml"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ImportForm(forms.Form):
    files = MultipleFileField(
        label="Dump files", help_text="Posts.xml, and optionally Comments.xml and Users.xml (for the authors' "
                                    "names), from a Stack Exchange data dump."
    )
    only_tags = forms.CharField(
        label="Only tags", required=False,
        help_text="Keep questions carrying any of these tags (comma-separated), with their answers and comments. "
                  "Empty: keep everything.",
    )
    site = forms.CharField(
        required=False, max_length=100,
        help_text="Site the dump comes from, for links to the original posts. Empty: from the file name "
                  "(genai.stackexchange.com-Posts.xml), else stackoverflow.com.",
    )

    def clean_only_tags(self):
        try:
            return ",".join(parse_tag_list(self.cleaned_data["only_tags"]))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class PostFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    tag = forms.CharField(required=False, max_length=100)
    year = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=forms.Select(attrs={"aria-label": "Year"})
    )
    type = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=forms.Select(attrs={"aria-label": "Post type"}),
        choices=[("1", "Questions"), ("2", "Answers"), ("0", "Questions and answers")],
    )

    def __init__(self, *args, years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "Any year")] + [(str(y), str(y)) for y in years]
