"""Reads for wards and postcodes, including point-in-polygon with shapely."""

import re
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _
from shapely.geometry import Point, shape
from shapely.prepared import PreparedGeometry, prep

from engagement.core.memo import memo

from .models import Postcode, Ward

# The full UK format (including the special cases GIR 0AA and the BFPO-style oddities are not
# residential, so they are not accepted): outward code, space, inward code.
_POSTCODE = re.compile(
    r"^(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?) ?(?P<inward>[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(raw: str) -> str:
    """Return the canonical form ("CF10 1EP") or raise ValidationError with a clear message."""
    cleaned = re.sub(r"\s+", "", (raw or "").upper())
    if not cleaned:
        raise ValidationError(_("Enter a postcode."), code="required")
    if len(cleaned) > 7:
        raise ValidationError(
            _("Enter a real postcode, like CF10 1EP: it is too long."), code="too_long"
        )
    match = _POSTCODE.match(cleaned)
    if not match:
        raise ValidationError(_("Enter a real postcode, like CF10 1EP."), code="invalid")
    return f"{match['outward']} {match['inward']}"


def postcode_lookup(raw: str) -> Postcode:
    """The Postcode for ``raw``; ValidationError if malformed or not in this council's area.

    Kept a minute per process (every signature and vote looks one up); imports call
    ``postcode_forget()``. The ward comes without its boundary.
    """
    return _postcode(normalise_postcode(raw))


@memo(seconds=60, size=50_000)
def _postcode(canonical: str) -> Postcode:
    # A first lookup of each postcode is on the signing and voting paths too, so it is one
    # plain indexed read (no join: the ward comes from the per-process list of wards).
    with connection.cursor() as cursor:
        cursor.execute(_POSTCODE_ROW, [canonical])
        row = cursor.fetchone()
    ward = _wards().get(row[3]) if row else None
    if row is None or ward is None:
        raise ValidationError(
            _("%(postcode)s is not a postcode in this council's area.") % {"postcode": canonical},
            code="unknown_postcode",
        )
    found = Postcode(pk=row[0], postcode=canonical, latitude=row[1], longitude=row[2], ward=ward)
    found._state.adding, found._state.db = False, connection.alias
    return found


_POSTCODE_ROW = (
    f"SELECT id, latitude, longitude, ward_id FROM {Postcode._meta.db_table} "  # noqa: S608
    "WHERE postcode = %s"
)


@memo(seconds=60, size=1)
def _wards() -> dict[int, Ward]:
    """Every ward without its boundary, by id (a council has tens of them)."""
    return {ward.pk: ward for ward in Ward.objects.defer("boundary")}


def postcode_forget() -> None:
    _postcode.forget()
    _wards.forget()


@lru_cache(maxsize=512)
def _prepared(ward_id: int, updated_at: str) -> PreparedGeometry:
    """The ward's prepared boundary; ``updated_at`` is in the key so edits invalidate it."""
    ward = Ward.objects.only("boundary").get(pk=ward_id)
    return prep(shape(ward.boundary))


def ward_for_point(*, lon: float, lat: float) -> Ward | None:
    """The ward containing the point (boundary included), or None outside every ward.

    A bounding-box query narrows the candidates; prepared shapely geometries (cached per ward
    version) decide. Where two wards share an edge the first by ONS code wins, so the answer is
    stable.
    """
    point = Point(lon, lat)
    for ward in (
        Ward.objects.containing_bbox(lon, lat)
        .order_by("ons_code")
        .only("id", "updated_at", "name", "slug", "ons_code")
    ):
        geometry = _prepared(ward.pk, ward.updated_at.isoformat())
        if geometry.covers(point):
            return ward
    return None


def wards_with_counts():
    """Wards for a list page, with postcode and councillor counts in one query."""
    from django.db.models import Count

    return Ward.objects.annotate(
        postcode_count=Count("postcodes", distinct=True),
        councillor_count=Count("councillors", distinct=True),
    ).order_by("name")
