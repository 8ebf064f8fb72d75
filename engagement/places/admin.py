from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import Postcode, Ward


@admin.register(Ward)
class WardAdmin(AuditedModelAdmin):
    list_display = ["name", "ons_code"]
    search_fields = ["name", "ons_code"]
    # Codes and boundaries change only through the ONS import, which validates the geometry and
    # keeps the bounding box in step; here staff may correct a name.
    readonly_fields = ["ons_code", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Postcode)
class PostcodeAdmin(AuditedModelAdmin):
    list_display = ["postcode", "ward"]
    list_select_related = ["ward"]
    search_fields = ["postcode"]
    raw_id_fields = ["ward"]
