"""Forms for the staff pages. They only collect and type the input; the rules live in
:mod:`webcast.services`, whose ValidationErrors are put back on the form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_no_control_characters, validate_single_line
from engagement.people.models import Committee, Councillor

from .models import Meeting, SpeakerMark

_local = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class MeetingForm(forms.Form):
    committee = forms.ModelChoiceField(label=_("Committee"), queryset=Committee.objects.all())
    title = forms.CharField(label=_("Title"), max_length=200, validators=[validate_single_line])
    starts_at = forms.DateTimeField(label=_("Date and time"), widget=_local)
    venue = forms.CharField(
        label=_("Venue"), max_length=200, required=False, validators=[validate_single_line]
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_control_characters],
    )
    source = forms.ChoiceField(
        label=_("Video source"), choices=Meeting.Source.choices, widget=forms.RadioSelect
    )
    pull_url = forms.CharField(
        label=_("Camera or server URL (for a pull)"),
        max_length=500,
        required=False,
        help_text=_("Such as rtsp://camera.chamber.local/stream1 or srt://10.0.0.5:9000"),
        validators=[validate_single_line],
    )
    ladder = forms.CharField(
        label=_("Video renditions"),
        max_length=40,
        initial="720,480,240",
        help_text=_("Heights in pixels, largest first, such as 720,480,240."),
        validators=[validate_single_line],
    )


class AgendaItemForm(forms.Form):
    number = forms.CharField(label=_("Number"), max_length=10, validators=[validate_single_line])
    title = forms.CharField(label=_("Title"), max_length=300, validators=[validate_single_line])
    description = forms.CharField(
        label=_("Description"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_control_characters],
    )
    position = forms.IntegerField(
        label=_("Order on the agenda"), min_value=0, max_value=10_000, required=False
    )
    petition = forms.ModelChoiceField(
        label=_("Petition debated under this item (optional)"),
        queryset=None,
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from consultations.models import Petition

        self.fields["petition"].queryset = Petition.objects.filter(
            state__in=[Petition.State.OPEN, Petition.State.CLOSED]
        ).order_by("-pk")


class DocumentForm(forms.Form):
    title = forms.CharField(
        label=_("Document title"), max_length=200, validators=[validate_single_line]
    )
    file = forms.FileField(label=_("PDF file"))


class SpeakerForm(forms.Form):
    councillor = forms.ModelChoiceField(
        label=_("Councillor"),
        queryset=Councillor.objects.filter(is_active=True),
        required=False,
    )
    name = forms.CharField(
        label=_("Or another speaker's name and title"),
        max_length=150,
        required=False,
        validators=[validate_single_line],
    )
    role = forms.ChoiceField(
        label=_("Speaking as"),
        choices=SpeakerMark.Role.choices,
        widget=forms.RadioSelect,
        initial=SpeakerMark.Role.COUNCILLOR,
    )


class CaptionsForm(forms.Form):
    file = forms.FileField(
        label=_("Captions file (WebVTT or SRT)"),
        required=False,
        help_text=_("Or edit the captions below."),
    )
    captions = forms.CharField(
        label=_("Captions (WebVTT)"),
        required=False,
        max_length=5_000_000,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "true"}),
        validators=[validate_no_control_characters],
    )

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > 5_000_000:
                raise forms.ValidationError(_("The captions file must be smaller than 5 MB."))
            try:
                data["captions"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError(
                    _("The captions file must be text (UTF-8), such as a .vtt or .srt file.")
                ) from exc
        if not data.get("captions", "").strip():
            raise forms.ValidationError(_("Choose a captions file or enter the captions."))
        return data


class MarkTimeForm(forms.Form):
    at = forms.TimeField(
        label=_("Time"),
        widget=forms.TimeInput(attrs={"type": "time", "step": "1"}, format="%H:%M:%S"),
    )


class RecordingUploadForm(forms.Form):
    video = forms.FileField(
        label=_("Recording of the meeting"),
        help_text=_("A video file: MP4, MOV, MKV, TS, WebM or AVI."),
    )


class RetentionForm(forms.Form):
    """How long recordings are kept: council-wide, then a field per committee."""

    archive_months = forms.IntegerField(
        label=_("Keep meeting recordings for (months)"),
        help_text=_("Leave empty to keep them for ever."),
        required=False,
        min_value=1,
        max_value=1200,
        widget=forms.NumberInput(attrs={"class": "govuk-input--width-4"}),
    )
    recording_days = forms.IntegerField(
        label=_("Keep safety recordings for (days)"),
        help_text=_(
            "Everything the webcast received, as received, including adjournments: for staff, "
            "for a short time."
        ),
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"class": "govuk-input--width-4"}),
    )

    def __init__(self, *args, committees=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.committees = list(committees)
        for committee in self.committees:
            self.fields[f"committee_{committee.pk}"] = forms.IntegerField(
                label=_("%(committee)s: keep recordings for (months)") % {"committee": committee},
                help_text=_(
                    "Leave empty to follow the council-wide setting; 0 keeps them for ever."
                ),
                required=False,
                min_value=0,
                max_value=1200,
                widget=forms.NumberInput(attrs={"class": "govuk-input--width-4"}),
            )

    def committee_months(self) -> dict[int, int | None]:
        return {c.pk: self.cleaned_data.get(f"committee_{c.pk}") for c in self.committees}
