"""Forms of the tree page: each one validates its input and leaves every rule to the services.

Category choices come from the view (paths of the categories the user may
see), so a form never offers another study's category.
"""

from __future__ import annotations

import re

from django import forms

ROOT = ""


def _category_choices(nodes, *, blank: str | None = None):
    choices = [(ROOT, blank)] if blank is not None else []
    return choices + [(str(node.id), node.path) for node in nodes]


class CategoryAddForm(forms.Form):
    name = forms.CharField(max_length=200)
    parent = forms.ChoiceField(required=False, label="Under")
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _category_choices(parents, blank="(a new root)")


class CategoryRenameForm(forms.Form):
    name = forms.CharField(max_length=200, label="New name")


class CategoryDescribeForm(forms.Form):
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    inclusion = forms.CharField(required=False, label="Inclusion notes", widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="What belongs here.")
    exclusion = forms.CharField(required=False, label="Exclusion notes", widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="What does not belong here (and where it goes instead).")
    examples = forms.CharField(required=False, label="Example posts",
                               help_text="Post numbers as in this site's post links (…/posts/123/), "
                                         "separated by commas or spaces.")

    def clean_examples(self) -> list[int]:
        raw = self.cleaned_data.get("examples") or ""
        parts = [p for p in re.split(r"[\s,;]+", raw.strip()) if p]
        bad = [p for p in parts if not p.isdigit()]
        if bad:
            raise forms.ValidationError(f"Not post numbers: {', '.join(bad[:5])}.")
        return [int(p) for p in parts]


class CategoryMoveForm(forms.Form):
    parent = forms.ChoiceField(required=False, label="Under")
    position = forms.IntegerField(required=False, min_value=1, label="Position",
                                  help_text="1 = first among its siblings; empty = last.")

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _category_choices(parents, blank="(make it a root)")


class CategoryTargetForm(forms.Form):
    """Merge into / reject into: one target category."""

    target = forms.ChoiceField(label="Into", required=False)

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = _category_choices(targets, blank="—")

    def clean_target(self) -> int:
        value = self.cleaned_data["target"]
        if not value:
            raise forms.ValidationError("Choose a category.")
        return int(value)


class CategorySplitForm(forms.Form):
    name = forms.CharField(max_length=200, label="New sibling's name")

    def __init__(self, *args, choices=(), **kwargs):
        """``choices``: for each kind of row a split moves as ticked (labels, final labels, codes, …:
        ``taxonomy.tree.dependents.split_choices``), the dependent and its (id, text) choices."""
        super().__init__(*args, **kwargs)
        for dependent, rows in choices:
            self.fields[dependent.name] = forms.MultipleChoiceField(
                required=False, widget=forms.CheckboxSelectMultiple, choices=[(str(pk), text) for pk, text in rows],
                label=f"{dependent.plural[:1].upper()}{dependent.plural[1:]} that go to the new category")
