"""The Django admin obeys the same rules as the staff area: a staff role with two-factor."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from engagement.audit.services import audit_record

from .permissions import has_staff_access


def _has_permission(request: HttpRequest) -> bool:
    return has_staff_access(request.user) and request.user.is_active


def _login(request: HttpRequest, extra_context: Any = None) -> Any:
    # The admin's own login form would skip two-factor: send everyone through allauth, and
    # refuse signed-in users who lack the role or two-factor.
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or "/django-admin/")


admin.site.has_permission = _has_permission  # type: ignore[method-assign]
admin.site.login = _login  # type: ignore[method-assign]


class AuditedModelAdmin(admin.ModelAdmin):
    """Every add, change and delete made in the admin lands in the audit log."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{'update' if change else 'create'}",
            target=obj,
            changes={"fields": sorted(form.changed_data)} if change else {},
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj)
        super().delete_queryset(request, queryset)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            audit_record(
                actor=request.user,
                action=f"{form.instance._meta.model_name}.update_related",
                target=form.instance,
                changes={"related": formset.model._meta.model_name},
            )
