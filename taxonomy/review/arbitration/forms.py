from django import forms

from .models import FinalKind


class DecideForm(forms.Form):
    kind = forms.ChoiceField(choices=FinalKind.choices, initial=FinalKind.CATEGORIES, widget=forms.RadioSelect,
                             label="Final label")
    categories = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Leaf categories",
                                                widget=forms.CheckboxSelectMultiple)
    # Not required here: the service refuses an empty reason, and its message is the one shown.
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, required=False,
                             help_text="Why this label: it is part of the published record.")

    def __init__(self, *args, leaf_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = list(leaf_choices)


class PendingResolveForm(forms.Form):
    items = forms.TypedMultipleChoiceField(coerce=int, label="Pending items", widget=forms.CheckboxSelectMultiple)
    category = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Existing leaf")
    new_name = forms.CharField(required=False, max_length=200, label="…or a new category named")
    new_parent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="under")
    new_definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Definition")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, required=False,
                             help_text="Why (for a final label), or a message to the raters (for a re-label).")

    def __init__(self, *args, item_choices=(), leaf_choices=(), parent_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = list(item_choices)
        self.fields["category"].choices = [("", "—"), *leaf_choices]
        self.fields["new_parent"].choices = [("", "(a new root)"), *parent_choices]


class StartForm(forms.Form):
    allow_incomplete = forms.BooleanField(required=False, label="Start even though some labels are missing")


class RootsForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Arbitrator")
    roots = forms.TypedMultipleChoiceField(coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
                                           label="Root categories (none: every item)")

    def __init__(self, *args, arbitrators=(), roots=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = list(arbitrators)
        self.fields["roots"].choices = list(roots)


class PilotDecisionForm(forms.Form):
    kind = forms.ChoiceField(choices=FinalKind.choices, initial=FinalKind.CATEGORIES, widget=forms.RadioSelect,
                             label="Decision")
    categories = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Leaf categories",
                                                widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, required=False,
                             label="Note", help_text="Optional: part of the published record.")
    # The decision being changed, as read (its time): a change made meanwhile is not overwritten.
    replaces = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, leaf_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = list(leaf_choices)
