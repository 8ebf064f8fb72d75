from django import forms

from .models import CouncilSettings
from .services import EDITABLE_FIELDS


class CouncilSettingsForm(forms.ModelForm):
    class Meta:
        model = CouncilSettings
        fields = EDITABLE_FIELDS
        widgets = {"brand_colour": forms.TextInput(attrs={"type": "color"})}
