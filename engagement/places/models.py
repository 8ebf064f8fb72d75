"""Wards (with GeoJSON boundaries) and postcodes (with a point and a ward)."""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_single_line

ONS_WARD_CODE = RegexValidator(
    r"^[EW]05\d{6}$",
    _("Enter an ONS ward code: E05 or W05 followed by six digits, like E05011234."),
    code="ons_code",
)


class WardQuerySet(models.QuerySet["Ward"]):
    def containing_bbox(self, lon: float, lat: float) -> "WardQuerySet":
        """Wards whose bounding box contains the point: the cheap pre-filter before shapely."""
        return self.filter(min_lon__lte=lon, max_lon__gte=lon, min_lat__lte=lat, max_lat__gte=lat)


class Ward(models.Model):
    name = models.CharField(_("name"), max_length=120, validators=[validate_single_line])
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    ons_code = models.CharField(
        _("ONS code"), max_length=9, unique=True, validators=[ONS_WARD_CODE]
    )
    boundary = models.JSONField(_("boundary (GeoJSON geometry)"))
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)

    objects = WardQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("ward")
        verbose_name_plural = _("wards")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("places:ward", kwargs={"slug": self.slug})


class Postcode(models.Model):
    """A postcode in its canonical form ("CF10 1EP") with its point and its ward."""

    postcode = models.CharField(_("postcode"), max_length=8, unique=True)
    latitude = models.FloatField(validators=[MinValueValidator(49.0), MaxValueValidator(61.5)])
    longitude = models.FloatField(validators=[MinValueValidator(-8.7), MaxValueValidator(2.0)])
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="postcodes")

    class Meta:
        ordering = ["postcode"]
        verbose_name = _("postcode")
        verbose_name_plural = _("postcodes")

    def __str__(self) -> str:
        return self.postcode
