from django import forms
from django.utils.translation import gettext_lazy as _

from consultations.models import Signature


class SignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    postcode = forms.CharField(label=_("Postcode"), max_length=16)
    connection = forms.ChoiceField(
        label=_("Your connection to the area"),
        choices=Signature.Connection.choices,
        widget=forms.RadioSelect,
        initial=Signature.Connection.LIVES,
    )
    eligible = forms.BooleanField(
        label=_("I meet the conditions above to sign this petition."),
        error_messages={"required": _("Confirm that you may sign this petition.")},
    )
    notify = forms.BooleanField(label=_("Email me about this petition"), required=False)


class PetitionForm(SignForm):
    action = forms.CharField(label=_("What do you want the council to do?"), max_length=80)
    background = forms.CharField(
        label=_("Why"), max_length=300, widget=forms.Textarea(attrs={"rows": 4})
    )
    details = forms.CharField(
        label=_("More details (optional)"),
        max_length=800,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    field_order = ["action", "background", "details", "name", "email", "postcode", "connection"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("notify")
        self.fields["eligible"].label = _("I meet the conditions above to start a petition.")
        self.fields["eligible"].error_messages["required"] = _(
            "Confirm that you may start this petition."
        )


class EditForm(forms.Form):
    action = forms.CharField(label=_("What do you want the council to do?"), max_length=80)
    background = forms.CharField(
        label=_("Why"), max_length=300, widget=forms.Textarea(attrs={"rows": 4})
    )
    details = forms.CharField(
        label=_("More details (optional)"),
        max_length=800,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
