"""Forms for voting and for staff running a round.

Ballot choices are not a Django form: :func:`submitted_choices` reads them from the POST data
exactly as sent, so a tampered or duplicated field is reported rather than silently dropped, and
:func:`budgets.ballots.ballot_clean` then checks them against the budget's rules.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from engagement.places.selectors import postcode_lookup

from . import services
from .ballots import BallotError
from .models import Budget, Project, Round, Voter


def submitted_choices(ballot_type: str, data: Any) -> list[tuple[int, int]]:
    """The ``(project id, value)`` pairs in a ballot's POST data, or BallotError.

    Approval and knapsack ballots send ``project`` once per ticked project; points ballots send
    ``points-<id>``; ranked ballots send ``rank-<id>`` (empty for an unranked project).
    """
    pairs: list[tuple[int, int]] = []
    try:
        if ballot_type in ("approval", "knapsack"):
            pairs = [(int(value), 1) for value in data.getlist("project")]
        else:
            prefix = "points-" if ballot_type == "cumulative" else "rank-"
            for name in data:
                if not name.startswith(prefix):
                    continue
                values = [v.strip() for v in data.getlist(name)]
                for value in values:
                    if value == "" or (prefix == "points-" and value == "0"):
                        continue
                    pairs.append((int(name.removeprefix(prefix)), int(value)))
    except ValueError:
        raise BallotError(
            [_("The ballot was not filled in correctly: use whole numbers.")]
        ) from None
    if any(value < 0 or value > 10_000 for _pid, value in pairs):
        raise BallotError([_("The ballot was not filled in correctly: use whole numbers.")])
    return pairs


class EligibilityForm(forms.Form):
    postcode = forms.CharField(
        label=_lazy("Postcode"),
        max_length=16,
        help_text=_lazy(
            "Where you live, work or study. It decides which area's budget you vote in."
        ),
    )
    connection = forms.ChoiceField(
        label=_lazy("Your connection to this postcode"),
        choices=Voter.Connection.choices,
        widget=forms.RadioSelect,
        initial=Voter.Connection.LIVES,
    )
    age = forms.BooleanField(label="", required=True)
    code = forms.CharField(
        label=_lazy("Voting code from your letter"),
        max_length=40,
        required=False,
        help_text=_lazy("12 letters and numbers, like K7QX-4M2P-9T3A."),
    )

    def __init__(self, *args: Any, round_: Round, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round = round_
        self.fields["age"].label = _("I am %(age)s or older.") % {"age": round_.minimum_age}
        self.fields["age"].error_messages["required"] = _(
            "You must be %(age)s or older to vote in this round."
        ) % {"age": round_.minimum_age}
        if not round_.verify_letter:
            del self.fields["code"]
        elif not (round_.verify_email or round_.verify_sms):
            self.fields["code"].required = True
            self.fields["code"].error_messages["required"] = _(
                "Enter the voting code from your letter."
            )

    def clean_postcode(self) -> Any:
        postcode = postcode_lookup(self.cleaned_data["postcode"])
        if postcode.ward is None:
            raise ValidationError(
                _("%(postcode)s is not in a ward of this council.") % {"postcode": postcode}
            )
        return postcode


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_lazy("Mobile number"),
        max_length=20,
        help_text=_lazy("We will text you a six-digit code. We keep only a scrambled copy."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )


class PhoneCodeForm(forms.Form):
    sms_code = forms.CharField(
        label=_lazy("The code from the text message"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ReceiptForm(forms.Form):
    receipt = forms.CharField(
        label=_lazy("Your receipt code"),
        max_length=40,
        help_text=_lazy("It was shown when you voted, like K7QX-4M2P-9T3A."),
    )


class ProposeForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["budget", "title", "description", "cost", "category", "location_name"]
        labels = {"cost": _lazy("Rough cost (£)")}

    def __init__(self, *args: Any, round_: Round, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["budget"].queryset = round_.budgets.all()
        self.fields["budget"].empty_label = None
        self.fields["description"].required = True


# --- staff ------------------------------------------------


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class RoundForm(forms.ModelForm):
    class Meta:
        model = Round
        fields = services.ROUND_FIELDS  # the service saves exactly these
        widgets = {
            "voting_opens_at": DateTimeInput(),
            "voting_closes_at": DateTimeInput(),
            "area_rule": forms.RadioSelect,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        opens, closes = data.get("voting_opens_at"), data.get("voting_closes_at")
        if opens and closes and closes <= opens:
            self.add_error("voting_closes_at", _("Voting must close after it opens."))
        if not any(data.get(f) for f in ("verify_email", "verify_sms", "verify_letter")):
            self.add_error(None, _("Choose at least one way for voters to prove who they are."))
        return data


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = services.BUDGET_FIELDS  # the service saves exactly these
        widgets = {"ballot_type": forms.RadioSelect, "rule": forms.RadioSelect}


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "reference",
            "title",
            "title_cy",
            "description",
            "description_cy",
            "cost",
            "category",
            "location_name",
            "latitude",
            "longitude",
            "image",
            "image_alt",
            "status",
            "review_note",
        ]


class ProjectUpdateForm(forms.Form):
    text = forms.CharField(label=_lazy("Update"), widget=forms.Textarea(attrs={"rows": 4}))
    progress = forms.IntegerField(label=_lazy("Progress (%)"), min_value=0, max_value=100)
    photo = forms.ImageField(label=_lazy("Photo"), required=False)
    photo_alt = forms.CharField(label=_lazy("Photo description"), max_length=250, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("photo") and not (data.get("photo_alt") or "").strip():
            self.add_error("photo_alt", _("Describe the photo for people who cannot see it."))
        return data


class CodesForm(forms.Form):
    batch = forms.CharField(label=_lazy("Batch name"), max_length=80)
    count = forms.IntegerField(label=_lazy("How many codes"), min_value=1, max_value=100_000)
    ward = forms.ModelChoiceField(
        label=_lazy("Ward (optional)"),
        queryset=None,
        required=False,
        help_text=_lazy("Codes for a ward's letters vote in that ward's budget."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from engagement.places.models import Ward

        super().__init__(*args, **kwargs)
        self.fields["ward"].queryset = Ward.objects.all()


class VoidCodesForm(forms.Form):
    codes = forms.CharField(
        label=_lazy("Codes to void"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_lazy("One per line."),
    )


class PaperIdentityForm(forms.Form):
    serial = forms.CharField(label=_lazy("Paper serial number"), max_length=40)
    identity = forms.CharField(
        label=_lazy("Voter"),
        max_length=254,
        help_text=_lazy("Their voting code, the email of their account, or a register reference."),
    )
    channel = forms.ChoiceField(
        label=_lazy("How they voted"),
        choices=[
            (Voter.Channel.PAPER, Voter.Channel.PAPER.label),
            (Voter.Channel.ASSISTED, Voter.Channel.ASSISTED.label),
        ],
        widget=forms.RadioSelect,
        initial=Voter.Channel.PAPER,
    )


class PabulibImportForm(forms.Form):
    file = forms.FileField(label=_lazy("pabulib file (.pb)"))
    slug = forms.SlugField(label=_lazy("Slug for the new round"), max_length=120)
