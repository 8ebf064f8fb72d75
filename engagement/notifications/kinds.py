"""The kinds of notification, each with its default delivery. Modules add theirs here."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import Delivery


@dataclass(frozen=True)
class Kind:
    key: str
    label: Promise | str
    default: str
    roles: frozenset[str] | None = None
    """Only users with one of these roles get (and see a preference for) this kind; None: all."""


KINDS: dict[str, Kind] = {}


def register(
    key: str,
    label: Promise | str,
    default: str = Delivery.IMMEDIATELY,
    *,
    roles: tuple[str, ...] | None = None,
) -> None:
    KINDS[key] = Kind(
        key=key, label=label, default=default, roles=frozenset(roles) if roles else None
    )


def kinds_for(user: object) -> list[Kind]:
    """The kinds this user can receive: those for everyone and those for their roles."""
    has_role = getattr(user, "has_role", None)
    return [
        kind
        for kind in KINDS.values()
        if kind.roles is None or (has_role is not None and has_role(*kind.roles))
    ]


register("account", _("Your account"), Delivery.IMMEDIATELY)
register("updates", _("Updates on things you follow"), Delivery.DAILY)
register("budget_ideas", _("What happens to your budget ideas"), Delivery.IMMEDIATELY)
