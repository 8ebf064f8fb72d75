"""Who may open what. Every staff view goes through :func:`staff_required`.

Staff and admins must have TOTP two-factor set up and must have passed it when they signed in
(allauth asks for the code at sign-in once an authenticator exists). Without it they are sent to
set it up; without the role they get a 403; signed out, they are sent to sign in.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission


def has_staff_access(user: Any, *, admin: bool = False) -> bool:
    """The role check (admin-only when ``admin``) plus TOTP set up."""
    if not getattr(user, "is_authenticated", False):
        return False
    role_ok = user.is_council_admin if admin else user.is_council_staff
    return role_ok and is_mfa_enabled(user)


def staff_required(view: Callable[..., HttpResponse] | None = None, *, admin: bool = False):
    def decorator(fn: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(fn)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            role_ok = user.is_council_admin if admin else user.is_council_staff
            if not role_ok:
                raise PermissionDenied
            if not is_mfa_enabled(user):
                messages.warning(
                    request,
                    _("Staff accounts must use two-factor authentication. Set it up to continue."),
                )
                return redirect("mfa_activate_totp")
            return fn(request, *args, **kwargs)

        return wrapped

    return decorator(view) if view is not None else decorator


class IsCouncilStaff(BasePermission):
    """API permission: staff or admin with two-factor set up."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_staff_access(request.user)
