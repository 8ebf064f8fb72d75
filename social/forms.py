"""Forms for the inbox, the case page and the staff pages of social listening."""

import csv
import io
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_no_markup, validate_single_line
from engagement.people.models import Councillor

from .models import Case, Label, Network, RoutingRule, SavedReply, Source, Team


class InboxFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"), required=False, max_length=100, validators=[validate_single_line]
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), ("open_any", _("Not yet resolved")), *Case.State.choices],
    )
    network = forms.ChoiceField(
        label=_("Network"), required=False, choices=[("", _("Any network")), *Network.choices]
    )


class ReplyForm(forms.Form):
    saved_reply = forms.ModelChoiceField(
        label=_("Start from a saved reply"),
        queryset=SavedReply.objects.all(),
        required=False,
        empty_label=_("None"),
    )
    text = forms.CharField(
        label=_("Reply"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Posted publicly on the network as a reply to the resident's latest post."),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip():
            saved = data.get("saved_reply")
            if saved is None:
                raise forms.ValidationError(_("Write a reply or choose a saved reply."))
            data["text"] = saved.text
        return data


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Private note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_markup],
        help_text=_("Only councillors and staff see notes."),
    )


class StateForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=Case.State.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Case.Priority.choices, coerce=int
    )


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=Councillor.objects.filter(is_active=True),
        required=False,
        empty_label=_("No councillor"),
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )
    watchers = forms.ModelMultipleChoiceField(
        label=_("Watchers"),
        queryset=Councillor.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class LabelsForm(forms.Form):
    labels = forms.ModelMultipleChoiceField(
        label=_("Labels"),
        queryset=Label.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class LinkForm(forms.Form):
    petition = forms.ModelChoiceField(
        label=_("Petition"), queryset=None, required=False, empty_label=_("None")
    )
    budget_project = forms.ModelChoiceField(
        label=_("Budget project"), queryset=None, required=False, empty_label=_("None")
    )

    def __init__(self, *args, **kwargs):
        from budgets.models import Project
        from consultations.models import Petition

        super().__init__(*args, **kwargs)
        self.fields["petition"].queryset = Petition.objects.filter(
            state__in=["open", "closed"]
        ).order_by("-pk")
        self.fields["budget_project"].queryset = Project.objects.select_related("budget").order_by(
            "-pk"
        )


class MergeForm(forms.Form):
    into = forms.IntegerField(
        label=_("Merge this case into case number"), min_value=1, max_value=2**31 - 1
    )


class SourceForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Access token or app password"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the one saved."),
    )

    class Meta:
        model = Source
        fields = ["name", "network", "kind", "account", "query", "secret", "enabled"]

    def clean(self):
        data = super().clean()
        if data.get("kind") == Source.Kind.SEARCH and not data.get("query"):
            self.add_error("query", _("Enter the search terms for a search source."))
        elif (
            data.get("kind") == Source.Kind.SEARCH
            and data.get("network") == "mastodon"
            and not re.fullmatch(r"#?\w{1,100}", data.get("query", ""))
        ):
            self.add_error("query", _("On Mastodon a source follows one hashtag, like #ourtown."))
        if not data.get("secret") and not (self.instance.pk and self.instance.secret):
            self.add_error("secret", _("Enter the access token or app password."))
        return data

    def save(self, commit: bool = True):
        if not self.cleaned_data.get("secret") and self.instance.pk:
            self.instance.secret = Source.objects.values_list("secret", flat=True).get(
                pk=self.instance.pk
            )
        return super().save(commit=commit)


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = ["name", "keywords", "councillor", "team", "priority", "order", "enabled"]
        widgets = {"keywords": forms.Textarea(attrs={"rows": 4})}
        error_messages = {"keywords": {"required": _("Enter at least one keyword.")}}

    def clean_keywords(self):
        words = [w.strip() for w in self.cleaned_data["keywords"].splitlines() if w.strip()]
        if not words:
            raise forms.ValidationError(_("Enter at least one keyword."))
        if len(words) > 200:
            raise forms.ValidationError(_("Enter 200 keywords or fewer."))
        for word in words:
            validate_single_line(word)
            if len(word) > 80:
                raise forms.ValidationError(_("Each keyword must be 80 characters or fewer."))
        return "\n".join(words)

    def clean(self):
        data = super().clean()
        if not data.get("councillor") and not data.get("team"):
            raise forms.ValidationError(_("Choose a councillor or a team to send these cases to."))
        return data


class GazetteerImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: name, ward (the ward's name, slug or ONS code), kind (street or place)."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("The file must be 5 MB or smaller."))
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file must be UTF-8 text.")) from None
        reader = csv.DictReader(io.StringIO(text))
        fields = {f.strip().lower() for f in reader.fieldnames or []}
        if not {"name", "ward"} <= fields:
            raise forms.ValidationError(_("The first row must name the columns: name, ward, kind."))
        return [
            {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
        ]


class LinkAccountForm(forms.Form):
    network = forms.ChoiceField(
        label=_("Network"), choices=Network.choices, widget=forms.RadioSelect
    )
    handle = forms.CharField(
        label=_("Your handle"),
        max_length=190,
        validators=[validate_single_line],
        help_text=_("As it appears on the network, like jo_bloggs or jo.bsky.social."),
    )
