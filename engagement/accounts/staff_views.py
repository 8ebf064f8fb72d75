"""Admins find people and set their roles. Every change goes through ``user_set_roles``."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from engagement.core.permissions import staff_required

from .models import Role, User
from .selectors import users_for_admin
from .services import user_set_roles


class UserSearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Email or name contains"), max_length=254, required=False
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=[("", gettext_lazy("Any role")), *Role.choices],
        required=False,
    )


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "Staff and admins must set up two-factor authentication before they can use the "
            "staff area."
        ),
    )


@staff_required(admin=True)
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    users = users_for_admin(search=filters.get("q", ""), role=filters.get("role", ""))
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/staff/user_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_required(admin=True)
@require_http_methods(["GET", "POST"])
def user_roles(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk, anonymised_at__isnull=True)
    if request.method == "POST":
        form = RolesForm(request.POST)
        if form.is_valid():
            try:
                user_set_roles(actor=request.user, user=person, roles=form.cleaned_data["roles"])
            except ValidationError as exc:
                form.add_error("roles", exc)
            else:
                messages.success(request, _("Roles saved for %(email)s.") % {"email": person.email})
                return redirect("staff_users:list")
    else:
        form = RolesForm(initial={"roles": sorted(person.role_names())})
    return render(
        request,
        "accounts/staff/user_roles.html",
        {"form": form, "person": person},
        status=400 if form.errors else 200,
    )
