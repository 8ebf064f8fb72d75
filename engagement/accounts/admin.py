from django.contrib import admin

from .models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Read-only in the admin: roles change through the staff area, which audits it."""

    list_display = ["email", "name", "ward", "is_active", "date_joined"]
    list_filter = ["groups", "is_active"]
    search_fields = ["email", "name"]
    fields = ["email", "name", "ward", "groups", "is_active", "date_joined", "last_login"]
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
