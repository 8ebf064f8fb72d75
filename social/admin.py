"""What the council decides about listening, edited in the admin (every change audited): its
settings and response targets, teams, labels, saved replies, gazetteer entries and resident
links. Sources and routing rules have their own staff pages (``/inbox/sources/``, ``/rules/``)."""

from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import GazetteerEntry, Label, ListeningSettings, SavedReply, SocialIdentity, Team
from .routing import gazetteer_forget, normalise_name


@admin.register(ListeningSettings)
class ListeningSettingsAdmin(AuditedModelAdmin):
    list_display = ["__str__", "first_response_hours", "resolution_hours", "replies_need_approval"]

    def save_model(self, request, obj, form, change) -> None:
        from .services import _own_handles, listening_settings

        super().save_model(request, obj, form, change)
        listening_settings.forget()
        _own_handles.forget()

    def has_add_permission(self, request) -> bool:
        return not ListeningSettings.objects.exists()


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "is_triage"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


@admin.register(Label)
class LabelAdmin(AuditedModelAdmin):
    search_fields = ["name"]


@admin.register(SavedReply)
class SavedReplyAdmin(AuditedModelAdmin):
    list_display = ["title"]
    search_fields = ["title", "text"]


@admin.register(GazetteerEntry)
class GazetteerEntryAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "ward"]
    list_filter = ["kind", "ward"]
    search_fields = ["name"]
    exclude = ["normalised"]

    def save_model(self, request, obj, form, change) -> None:
        obj.normalised = normalise_name(obj.name)
        super().save_model(request, obj, form, change)
        gazetteer_forget()


@admin.register(SocialIdentity)
class SocialIdentityAdmin(AuditedModelAdmin):
    list_display = ["handle", "network", "user", "verified_at"]
    search_fields = ["handle", "user__email"]
    raw_id_fields = ["user"]
