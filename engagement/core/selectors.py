"""Reads for the site shell."""

from django.contrib.auth import get_user_model

from engagement.accounts.models import Role
from engagement.people.models import Committee, Councillor
from engagement.places.models import Postcode, Ward


def staff_dashboard_counts() -> dict[str, int]:
    return {
        "wards": Ward.objects.count(),
        "postcodes": Postcode.objects.count(),
        "councillors": Councillor.objects.filter(is_active=True).count(),
        "committees": Committee.objects.count(),
        "residents": get_user_model()
        .objects.filter(groups__name=Role.RESIDENT, is_active=True)
        .count(),
    }
