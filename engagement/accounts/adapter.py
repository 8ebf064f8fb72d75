"""allauth hooks: new sign-ups become residents; emails use the council's name."""

from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth.models import Group

from .models import Role


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: Any, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            group, _ = Group.objects.get_or_create(name=Role.RESIDENT)
            user.groups.add(group)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth's emails name the council ("Hello from Llanfair Council!"), not the host."""
        from urllib.parse import urlsplit

        from django.conf import settings

        from engagement.council.selectors import council_settings

        site = SimpleNamespace(
            name=council_settings().display_name, domain=urlsplit(settings.SITE_URL).netloc
        )
        super().send_mail(template_prefix, email, {"current_site": site, **context})

    def format_email_subject(self, subject: str) -> str:
        from engagement.council.selectors import council_settings

        return f"[{council_settings().display_short_name}] {subject}"
