from django import forms
from django.utils.translation import gettext_lazy as _


class PostcodeSearchForm(forms.Form):
    postcode = forms.CharField(label=_("Postcode"), max_length=10)
