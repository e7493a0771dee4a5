import re

from django import forms

from .models import ManualDecision, QuestionSet
from .selectors import question_set_names, question_set_reference_names


def _split(text: str) -> list[str]:
    """One entry a line, or separated by commas."""
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


class QuestionSetForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    all_questions = forms.BooleanField(
        required=False, label="All questions of the study",
        help_text="The set holds every question (a baseline of everything, or a single stratum); the steps below "
                  "are optional then (e.g. minus sets: every question but theirs).")
    within = forms.MultipleChoiceField(required=False, label="Within sets",
                                       help_text="Start from the union of these sets (empty: every question).")
    tags = forms.CharField(required=False, help_text="Keep questions carrying any of these tags (comma-separated).")
    words = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="Keep questions containing any of these words or phrases (one a line or "
                                      "comma-separated; taken literally, case-insensitive).")
    required_words = forms.CharField(required=False, label="Also required",
                                     help_text="…and at least one of these too (e.g. deploy).")
    whole_words = forms.BooleanField(required=False, initial=True, label="Whole words only",
                                     help_text="Unticked: any substring matches (ios would match studios).")
    search_title = forms.BooleanField(required=False, initial=True, label="Search titles")
    search_body = forms.BooleanField(required=False, initial=True, label="Search bodies (without code blocks)")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    union = forms.MultipleChoiceField(required=False, label="Plus sets")
    union_tags = forms.CharField(required=False, label="Plus tags",
                                 help_text="Add questions carrying any of these tags (e.g. tfserving, tflite).")
    minus = forms.MultipleChoiceField(required=False, label="Minus sets",
                                      help_text="Remove the members of these sets (baseline = B − (C ∪ D ∪ E)).")

    def __init__(self, *args, study, exclude: QuestionSet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(n, n) for n in question_set_names(study=study, exclude=exclude)]
        for name in ("within", "union", "minus"):
            self.fields[name].choices = choices
            self.fields[name].widget = forms.SelectMultiple(attrs={"size": min(6, max(2, len(choices)))})
            self.fields[name].widget.choices = choices

    @classmethod
    def initial_for(cls, question_set: QuestionSet) -> dict:
        refs = question_set_reference_names(question_set=question_set)
        return {
            "name": question_set.name, "description": question_set.description,
            "tags": ", ".join(question_set.tags), "words": "\n".join(question_set.words),
            "required_words": ", ".join(question_set.required_words), "whole_words": question_set.whole_words,
            "search_title": question_set.search_title, "search_body": question_set.search_body,
            "date_from": question_set.date_from, "date_to": question_set.date_to,
            "union_tags": ", ".join(question_set.union_tags), "all_questions": question_set.all_questions, **refs,
        }

    def rule_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "description": data["description"], "within": data["within"],
            "tags": _split(data["tags"]), "words": _split(data["words"]),
            "required_words": _split(data["required_words"]), "whole_words": data["whole_words"],
            "search_title": data["search_title"], "search_body": data["search_body"],
            "date_from": data["date_from"], "date_to": data["date_to"], "union": data["union"],
            "union_tags": _split(data["union_tags"]), "minus": data["minus"],
            "all_questions": data["all_questions"],
        }


class ManualDecisionForm(forms.Form):
    question = forms.CharField(
        label="Question id or link", help_text="e.g. 4711 or https://stackoverflow.com/questions/4711/…",
        widget=forms.TextInput(attrs={"placeholder": "question id or link", "aria-label": "Question id or link"}),
    )
    action = forms.ChoiceField(choices=ManualDecision.Action.choices,
                               widget=forms.Select(attrs={"aria-label": "Decision"}))
    reason = forms.CharField(max_length=1000, widget=forms.TextInput(
        attrs={"placeholder": "reason (kept with the set)", "aria-label": "Reason", "size": 40}))

    def clean_question(self):
        text = self.cleaned_data["question"].strip()
        m = re.search(r"(?:https?://(?P<site>[^/\s]+)/(?:questions|q)/)?(?P<id>\d+)", text)
        if not m:
            raise forms.ValidationError("Give the question's number on its site, or its link.")
        return {"so_id": int(m.group("id")), "site": (m.group("site") or "").lower()}
