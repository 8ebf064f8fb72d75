"""The council's own settings: one row, edited by admins in the UI."""

from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagement.core.i18n import localised
from engagement.core.validators import (
    validate_hex_colour,
    validate_no_control_characters,
    validate_single_line,
)


def _retention(default: int, label: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        label,
        default=default,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
        help_text=_("Days, between 30 and 3650."),
    )


class CouncilSettings(models.Model):
    """A singleton: use :func:`engagement.council.selectors.council_settings` to read it."""

    name = models.CharField(
        _("council name"),
        max_length=120,
        default="Moot Demo Council",
        validators=[validate_single_line],
    )
    short_name = models.CharField(
        _("short name"),
        max_length=40,
        default="Moot",
        validators=[validate_single_line],
        help_text=_("Shown in the header, e.g. ‘Llanfair Council’."),
    )
    name_cy = models.CharField(
        _("council name in Welsh"),
        max_length=120,
        blank=True,
        validators=[validate_single_line],
        help_text=_("Shown on Welsh pages. Leave blank to use the English name."),
    )
    short_name_cy = models.CharField(
        _("short name in Welsh"),
        max_length=40,
        blank=True,
        validators=[validate_single_line],
    )
    logo = models.FileField(
        _("logo"),
        upload_to="council/",
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp"])],
        help_text=_("PNG, JPEG or WebP, up to 1 MB. Shown in the header."),
    )
    brand_colour = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#1d70b8",
        validators=[validate_hex_colour],
        help_text=_("Used for the header stripe and links; must contrast with white text."),
    )
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(
        _("contact phone"), max_length=40, blank=True, validators=[validate_single_line]
    )
    contact_address = models.TextField(
        _("postal address"),
        max_length=500,
        blank=True,
        validators=[validate_no_control_characters],
    )
    website = models.URLField(_("council website"), blank=True)
    welsh_enabled = models.BooleanField(
        _("offer Welsh"), default=True, help_text=_("Show the English/Welsh language switch.")
    )
    retention_inactive_account_days = _retention(1095, _("delete inactive resident accounts after"))
    retention_question_days = _retention(730, _("keep residents' meeting questions for"))
    retention_social_case_days = _retention(730, _("keep social inbox cases for"))
    retention_audit_days = _retention(2555, _("keep the audit log for"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("council settings")
        verbose_name_plural = _("council settings")

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the page's language (Welsh if given and the page is in Welsh)."""
        return localised(self.name, self.name_cy)

    @property
    def display_short_name(self) -> str:
        return localised(self.short_name, self.short_name_cy)
