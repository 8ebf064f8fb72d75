from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import Committee, Councillor, Membership, Party


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["councillor"]


@admin.register(Party)
class PartyAdmin(AuditedModelAdmin):
    list_display = ["name", "colour"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Councillor)
class CouncillorAdmin(AuditedModelAdmin):
    list_display = ["name", "party", "portfolio", "is_active"]
    list_filter = ["party", "is_active"]
    list_select_related = ["party"]
    search_fields = ["name", "email"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["wards"]
    raw_id_fields = ["user"]


@admin.register(Committee)
class CommitteeAdmin(AuditedModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
