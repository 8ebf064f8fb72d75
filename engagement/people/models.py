"""Councillors, their parties, committees and committee memberships."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_hex_colour, validate_single_line

_line = [validate_single_line]


class Party(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, validators=_line)
    slug = models.SlugField(max_length=140, unique=True)
    colour = models.CharField(
        _("colour"), max_length=7, default="#505a5f", validators=[validate_hex_colour]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


class Councillor(models.Model):
    name = models.CharField(_("name"), max_length=150, validators=_line)
    slug = models.SlugField(max_length=170, unique=True)
    party = models.ForeignKey(
        Party,
        verbose_name=_("party"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="councillors",
    )
    wards = models.ManyToManyField(
        "places.Ward", verbose_name=_("wards"), related_name="councillors", blank=True
    )
    portfolio = models.CharField(
        _("cabinet portfolio"), max_length=200, blank=True, validators=_line
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, validators=_line)
    x_handle = models.CharField(_("X handle"), max_length=50, blank=True, validators=_line)
    mastodon_handle = models.CharField(
        _("Mastodon handle"), max_length=120, blank=True, validators=_line
    )
    bluesky_handle = models.CharField(
        _("Bluesky handle"), max_length=120, blank=True, validators=_line
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sign-in account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="councillor",
    )
    is_active = models.BooleanField(_("serving"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("councillor")
        verbose_name_plural = _("councillors")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("people:councillor", kwargs={"slug": self.slug})


class Committee(models.Model):
    name = models.CharField(_("name"), max_length=150, unique=True, validators=_line)
    slug = models.SlugField(max_length=170, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    members = models.ManyToManyField(Councillor, through="Membership", related_name="committees")

    class Meta:
        ordering = ["name"]
        verbose_name = _("committee")
        verbose_name_plural = _("committees")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("people:committee", kwargs={"slug": self.slug})


class Membership(models.Model):
    class Role(models.TextChoices):
        CHAIR = "chair", _("Chair")
        VICE_CHAIR = "vice-chair", _("Vice-chair")
        MEMBER = "member", _("Member")

    councillor = models.ForeignKey(Councillor, on_delete=models.CASCADE, related_name="memberships")
    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    start_date = models.DateField(_("from"), null=True, blank=True)
    end_date = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        ordering = ["committee", "role", "councillor__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["councillor", "committee"], name="unique_committee_membership"
            )
        ]
        verbose_name = _("committee membership")
        verbose_name_plural = _("committee memberships")

    def __str__(self) -> str:
        return f"{self.councillor} \u2013 {self.committee} ({self.get_role_display()})"
