from django import forms
from django.utils.translation import gettext_lazy as _

from webcast.models import AgendaItem, Meeting

from .models import MAX_LENGTH, QuestionSettings


class _ItemChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: AgendaItem) -> str:
        return f"{obj.number}. {obj.title}"


def _item_field(meeting: Meeting, label: str) -> _ItemChoice:
    return _ItemChoice(
        label=label,
        queryset=meeting.items.order_by("position", "pk"),
        required=False,
        empty_label=_("The meeting in general"),
        error_messages={"invalid_choice": _("Choose an item on this meeting's agenda.")},
    )


class AskForm(forms.Form):
    text = forms.CharField(
        label=_("Your question"),
        help_text=_("Up to 280 characters, as plain text. Links are shown as text."),
        max_length=MAX_LENGTH * 4,  # the service gives the precise message for 281 and more
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Enter your question.")},
    )
    display_name = forms.CharField(
        label=_("Name to show with your question"), max_length=200, required=False
    )
    anonymous = forms.BooleanField(
        label=_("Show my question as “Anonymous” (council staff still see who asked)"),
        required=False,
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"] = _item_field(meeting, _("Which part of the meeting is it about?"))
        self.order_fields(["text", "item", "display_name", "anonymous"])


class FilterForm(forms.Form):
    order = forms.ChoiceField(
        label=_("Order"),
        choices=[("top", _("Most votes first")), ("newest", _("Newest first"))],
        required=False,
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"] = _item_field(meeting, _("Agenda item"))
        self.fields["item"].empty_label = _("All items")


class EditForm(forms.Form):
    text = forms.CharField(
        label=_("Question"),
        max_length=MAX_LENGTH * 4,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Enter the question.")},
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"] = _item_field(meeting, _("Agenda item"))


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason (only staff see it)"), max_length=500, required=False)


class SettingsForm(forms.Form):
    moderation = forms.ChoiceField(
        label=_("Moderation"),
        choices=QuestionSettings.Moderation.choices,
        widget=forms.RadioSelect,
    )
    accepting = forms.BooleanField(label=_("Take questions"), required=False)
    closes_at = forms.DateTimeField(
        label=_("Stop taking questions at (optional)"),
        required=False,
        help_text=_("For example 2026-12-01 18:00. Questions also close when the meeting ends."),
    )
    hashtag = forms.CharField(
        label=_("Hashtag for social media questions"), max_length=60, required=False
    )


class StaffAddForm(forms.Form):
    text = forms.CharField(
        label=_("Question received another way (email, phone, in the room)"),
        max_length=MAX_LENGTH * 4,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Enter the question.")},
    )
    display_name = forms.CharField(
        label=_("Name to show (leave empty for “Anonymous”)"), max_length=200, required=False
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"] = _item_field(meeting, _("Agenda item"))
        self.order_fields(["text", "item", "display_name"])
