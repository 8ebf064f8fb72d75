"""The petition scheme and its rejection reasons, edited by admins (every change audited)."""

from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import PetitionScheme, RejectionReason


@admin.register(PetitionScheme)
class PetitionSchemeAdmin(AuditedModelAdmin):
    list_display = ["__str__", "sponsors_needed", "response_threshold", "debate_threshold"]

    def save_model(self, request, obj, form, change) -> None:
        from .petitions.services import scheme

        super().save_model(request, obj, form, change)
        scheme.forget()  # this process at once; the others within five seconds

    def has_add_permission(self, request) -> bool:
        return not PetitionScheme.objects.exists()


@admin.register(RejectionReason)
class RejectionReasonAdmin(AuditedModelAdmin):
    list_display = ["code", "label", "hides_text"]
    search_fields = ["code", "label"]
