from django import forms
from django.utils.translation import gettext_lazy as _


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Who"), max_length=254, required=False)
    action = forms.CharField(label=_("Action starts with"), max_length=80, required=False)
    target_type = forms.ChoiceField(label=_("Object type"), required=False)
    since = forms.DateField(label=_("From (YYYY-MM-DD)"), required=False)
    until = forms.DateField(label=_("To (YYYY-MM-DD)"), required=False)

    def __init__(self, *args: object, target_types: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_type"].choices = [("", _("Any"))] + [(t, t) for t in target_types]
