from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_single_line


class ProfileForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        required=False,
        validators=[validate_single_line],
        help_text=_("Optional. Shown with your questions and petitions."),
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=10,
        required=False,
        help_text=_("Optional. We use it to find your ward and councillors."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language for emails"),
        choices=[("en-gb", _("English")), ("cy", _("Welsh"))],
        widget=forms.RadioSelect,
    )


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand my account will be closed and my details removed"),
        required=True,
        error_messages={"required": _("Tick the box to confirm you want to delete your account.")},
    )
