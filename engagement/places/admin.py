from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import Postcode, Ward


@admin.register(Ward)
class WardAdmin(AuditedModelAdmin):
    list_display = ["name", "ons_code"]
    search_fields = ["name", "ons_code"]
    readonly_fields = ["min_lon", "min_lat", "max_lon", "max_lat"]


@admin.register(Postcode)
class PostcodeAdmin(AuditedModelAdmin):
    list_display = ["postcode", "ward"]
    list_select_related = ["ward"]
    search_fields = ["postcode"]
    raw_id_fields = ["ward"]
