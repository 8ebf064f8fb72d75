from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffArea(models.Model):
    """No table: carries the permission that opens the staff area."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("access_staff_area", _("Can use the staff area"))]

    def __str__(self) -> str:
        return "staff area"
