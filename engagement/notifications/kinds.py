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


KINDS: dict[str, Kind] = {}


def register(key: str, label: Promise | str, default: str = Delivery.IMMEDIATELY) -> None:
    KINDS[key] = Kind(key=key, label=label, default=default)


register("account", _("Your account"), Delivery.IMMEDIATELY)
register("updates", _("Updates on things you follow"), Delivery.DAILY)
register("budget_ideas", _("What happens to your budget ideas"), Delivery.IMMEDIATELY)
