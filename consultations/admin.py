"""The petition scheme, its rejection reasons and the block and allow rules, edited by admins
(every change audited)."""

from django import forms
from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import BlockRule, PetitionScheme, RejectionReason


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


class BlockRuleForm(forms.ModelForm):
    class Meta:
        model = BlockRule
        fields = ["kind", "value", "action", "note"]

    def clean(self) -> dict:
        from .petitions.services import PetitionError, block_rule_value

        data = super().clean()
        if data.get("kind") and data.get("value"):
            try:
                data["value"] = self.instance.value = block_rule_value(data["kind"], data["value"])
            except PetitionError as exc:
                self.add_error("value", str(exc))
        return data


@admin.register(BlockRule)
class BlockRuleAdmin(AuditedModelAdmin):
    form = BlockRuleForm
    list_display = ["value", "kind", "action", "note", "created_at"]
    list_filter = ["kind", "action"]
    search_fields = ["value", "note"]

    def save_model(self, request, obj, form, change) -> None:
        from .petitions.services import block_rules_changed

        super().save_model(request, obj, form, change)
        block_rules_changed()

    def delete_model(self, request, obj) -> None:
        from .petitions.services import block_rules_changed

        super().delete_model(request, obj)
        block_rules_changed()
