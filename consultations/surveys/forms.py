"""Forms for consultations. Questions themselves are not Django form fields: each page reads its
answers through ``answers.raw_from_post`` and checks them with ``answers.clean_answer``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.places.models import Ward

from .models import Consultation, Question, Response, Section


def posted(request: Any) -> Any:
    """The POST data of a POST (even an empty one, so the form is bound and says what is
    missing), else None."""
    return request.POST if request.method == "POST" else None


class CheckForm(forms.Form):
    """The "check your answers" page: where to send a copy and the outcome."""

    email = forms.CharField(
        label=_("Email address (optional)"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text=_("We use it only to send what you ask for below."),
    )
    wants_copy = forms.BooleanField(label=_("Email me a copy of my response"), required=False)
    wants_outcome = forms.BooleanField(
        label=_("Email me the outcome of this consultation"), required=False
    )


class SaveForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text=_("We will email you a link to come back to your answers."),
    )


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class ConsultationForm(forms.ModelForm):
    wards = forms.ModelMultipleChoiceField(
        label=_("Wards (when only their residents may respond)"),
        queryset=Ward.objects.defer("boundary"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    class Meta:
        model = Consultation
        fields = [
            "title",
            "title_cy",
            "summary",
            "summary_cy",
            "description",
            "description_cy",
            "audience",
            "wards",
            "layout",
            "opens_at",
            "closes_at",
            "retention_days",
        ]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "summary_cy": forms.Textarea(attrs={"rows": 4}),
            "description": forms.Textarea(attrs={"rows": 8}),
            "description_cy": forms.Textarea(attrs={"rows": 8}),
            "audience": forms.RadioSelect,
            "layout": forms.RadioSelect,
            "opens_at": DateTimeInput,
            "closes_at": DateTimeInput,
        }

    def _post_clean(self) -> None:
        """Model validation runs in the service, which reports field errors back."""


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=150)
    title_cy = forms.CharField(label=_("Title (Welsh)"), max_length=150, required=False)
    file = forms.FileField(label=_("PDF file, up to 20 MB"))


class SectionForm(forms.ModelForm):
    class Meta:
        model = Section
        fields = ["title", "title_cy", "intro", "intro_cy", "equality"]
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "intro_cy": forms.Textarea(attrs={"rows": 3}),
        }

    def _post_clean(self) -> None:
        """Validated by the service."""


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type of question"), choices=Question.Kind.choices)
    text = forms.CharField(label=_("Question"), max_length=300)
    text_cy = forms.CharField(label=_("Question (Welsh)"), max_length=300, required=False)
    help_text = forms.CharField(
        label=_("Hint"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    help_text_cy = forms.CharField(
        label=_("Hint (Welsh)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    required = forms.BooleanField(label=_("An answer is required"), required=False)
    options = forms.CharField(
        label=_("Options (choice, dropdown, ranking; the columns of a matrix)"),
        help_text=_("One a line. Add the Welsh after a bar: Yes | Ie"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    rows = forms.CharField(
        label=_("Rows (matrix only)"),
        help_text=_("One a line, with the Welsh after a bar."),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    min_choices = forms.IntegerField(
        label=_("Fewest options to choose (multiple choice)"), min_value=1, required=False
    )
    max_choices = forms.IntegerField(
        label=_("Most options to choose (multiple choice)"), min_value=1, required=False
    )
    min_value = forms.DecimalField(
        label=_("Lowest number allowed"), max_digits=14, decimal_places=4, required=False
    )
    max_value = forms.DecimalField(
        label=_("Highest number allowed"), max_digits=14, decimal_places=4, required=False
    )
    max_length = forms.IntegerField(
        label=_("Most characters (text)"), min_value=1, max_value=5000, required=False
    )
    condition = forms.MultipleChoiceField(
        label=_("Show this question only when"),
        help_text=_("Leave all unticked to show it to everyone. Tick answers of one question."),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, earlier: list[Question] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = condition_choices(earlier or [])

    def clean_condition(self) -> dict:
        return condition_from(self.cleaned_data["condition"])


def condition_choices(earlier: list[Question]) -> list[tuple[str, str]]:
    choices = []
    for q in earlier:
        if q.kind in (Question.Kind.SINGLE, Question.Kind.DROPDOWN, Question.Kind.MULTIPLE):
            choices += [(f"{q.key}:{value}", f"{q.text}: {label}") for value, label in q.choices]
        elif q.kind == Question.Kind.CONSENT:
            choices.append((f"{q.key}:yes", f"{q.text}: {_('agreed')}"))
    return choices


def condition_from(ticked: list[str]) -> dict:
    if not ticked:
        return {}
    keys = {item.split(":", 1)[0] for item in ticked}
    if len(keys) != 1:
        raise forms.ValidationError(_("Tick answers of one question only."))
    return {"question": keys.pop(), "values": [item.split(":", 1)[1] for item in ticked]}


def condition_initial(condition: dict) -> list[str]:
    if not condition:
        return []
    return [f"{condition['question']}:{value}" for value in condition.get("values", [])]


class SectionConditionForm(forms.Form):
    condition = forms.MultipleChoiceField(
        label=_("Show this section only when"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, earlier: list[Question] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = condition_choices(earlier or [])

    def clean_condition(self) -> dict:
        return condition_from(self.cleaned_data["condition"])


class EntryForm(forms.Form):
    """Who a staff-entered response came from and how (the answers come from the questions)."""

    channel = forms.ChoiceField(
        label=_("How the response came in"),
        choices=[c for c in Response.Channel.choices if c[0] not in ("online", "import")],
        widget=forms.RadioSelect,
    )
    email = forms.CharField(
        label=_("Respondent's email (optional)"), max_length=254, required=False
    )
    wants_outcome = forms.BooleanField(
        label=_("They want to hear the outcome by email"), required=False
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class FilterForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Any"))] + list(Response.Channel.choices),
        required=False,
    )
    ward = forms.ChoiceField(label=_("Ward"), required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    words = forms.CharField(label=_("Words in an answer"), max_length=100, required=False)
    theme = forms.ChoiceField(label=_("Theme"), required=False)

    def __init__(self, *args, consultation: Consultation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ward"].choices = [("", _("Any"))] + list(
            Ward.objects.values_list("slug", "name")
        )
        self.fields["theme"].choices = [("", _("Any"))] + [
            (str(pk), name) for pk, name in consultation.themes.values_list("pk", "name")
        ]


class ThemeForm(forms.Form):
    name = forms.CharField(label=_("New theme"), max_length=80)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


class OutcomeForm(forms.Form):
    you_said = forms.CharField(
        label=_("You said"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6})
    )
    you_said_cy = forms.CharField(
        label=_("You said (Welsh)"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    we_did = forms.CharField(
        label=_("We did"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6})
    )
    we_did_cy = forms.CharField(
        label=_("We did (Welsh)"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class VersionForm(forms.Form):
    note = forms.CharField(label=_("What will change"), max_length=200, required=False)
