from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "engagement.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from .roles import sync_role_groups

        # Permissions exist only after migrate creates them, so the groups are synced then.
        post_migrate.connect(sync_role_groups, dispatch_uid="moot-sync-role-groups")
