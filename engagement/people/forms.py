from django import forms
from django.utils.translation import gettext_lazy as _


class CouncillorFilterForm(forms.Form):
    party = forms.SlugField(label=_("Party"), max_length=140, required=False)
    ward = forms.SlugField(label=_("Ward"), max_length=140, required=False)
