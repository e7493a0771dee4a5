from django import forms

from .models import Role

ROLE_CHOICES = [(Role.OWNER, "Owner"), (Role.RATER, "Rater"), (Role.ARBITRATOR, "Arbitrator")]


class StudyForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=80, required=False, help_text="Used in URLs and on the command line; "
                           "derived from the name when left empty.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberAddForm(forms.Form):
    user = forms.CharField(label="Username or e-mail", max_length=254)
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="No role: a viewer, who can read but not change anything.",
    )


class MemberRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple)
