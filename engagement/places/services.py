"""Writes for wards and postcodes: the ONS imports.

Both imports check the whole file first and write nothing unless every record is good; the
writes then happen in one transaction with one audit entry, so a failure part-way changes
nothing either. Both are upserts keyed on the ONS code / the postcode: records not in the file
are left alone, and importing the same file twice changes nothing the second time.
"""

from collections.abc import Iterable
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record

from .importers import (
    ImportErrors,
    ImportResult,
    PostcodeRow,
    WardFeature,
    parse_postcode_csv,
    parse_ward_features,
    read_json,
)
from .models import Postcode, Ward
from .selectors import postcode_forget, ward_for_point

_WARD_FIELDS = ["name", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"]
_BATCH = 1000
_LOOKUP_CHUNK = 500  # under SQLite's limit on query parameters


def wards_import(*, source: Any, actor: Any | None = None, source_name: str = "") -> ImportResult:
    """Import ONS ward boundaries from a GeoJSON FeatureCollection.

    ``source`` is the parsed data (a dict, or a list of features), JSON text or bytes, or a
    file object. Raises ValidationError listing every problem, having changed nothing.

    Wards are matched by ONS code. A new ward's slug comes from its name (with the code added if
    another ward has that slug already); an existing ward keeps its slug, so its web address
    survives a rename. Audited as ``ward.import``.
    """
    features = parse_ward_features(read_json(source))
    result = ImportResult()
    result.tally("wards", "created", 0)
    with transaction.atomic():
        transaction.on_commit(postcode_forget)  # cached postcodes carry their ward
        existing = {ward.ons_code: ward for ward in Ward.objects.all()}
        taken = {ward.slug for ward in existing.values()}
        now = timezone.now()
        to_create: list[Ward] = []
        to_update: list[Ward] = []
        for feature in features:
            ward = existing.get(feature.ons_code)
            values = _ward_values(feature)
            if ward is None:
                slug = _unique_slug(feature, taken)
                taken.add(slug)
                to_create.append(Ward(ons_code=feature.ons_code, slug=slug, **values))
                result.tally("wards", "created")
            elif any(getattr(ward, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(ward, name, value)
                # bulk_update skips auto_now; the point-in-polygon cache keys on updated_at.
                ward.updated_at = now
                to_update.append(ward)
                result.tally("wards", "updated")
            else:
                result.tally("wards", "unchanged")
        Ward.objects.bulk_create(to_create, batch_size=_BATCH)
        Ward.objects.bulk_update(to_update, [*_WARD_FIELDS, "updated_at"], batch_size=_BATCH)
        audit_record(
            actor=actor, action="ward.import", changes={**result.as_dict(), "file": source_name}
        )
    return result


def _ward_values(feature: WardFeature) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = feature.bbox
    return {
        "name": feature.name,
        "boundary": feature.boundary,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
    }


def _unique_slug(feature: WardFeature, taken: set[str]) -> str:
    base = slugify(feature.name)[:120] or feature.ons_code.lower()
    candidates = [base, f"{base}-{feature.ons_code.lower()}"]
    candidates += [f"{base}-{feature.ons_code.lower()}-{n}" for n in range(2, 100)]
    return next(slug for slug in candidates if slug not in taken)


def postcodes_import(
    *,
    source: IO[str] | IO[bytes] | Iterable[str],
    actor: Any | None = None,
    skip_unknown_wards: bool = False,
    source_name: str = "",
) -> ImportResult:
    """Import postcodes from an ONS Postcode Directory CSV (columns pcds, lat, long, osward and
    optionally doterm; other columns are ignored).

    Terminated postcodes (doterm set) and those without a grid reference (lat 99.999999) are
    skipped and counted. A postcode whose ward (osward) is not an imported ward is an error,
    or is skipped and counted when ``skip_unknown_wards``. An empty osward is derived from the
    point with :func:`ward_for_point` (one query per such row; ONSPD rows almost always carry
    the ward). Raises ValidationError listing the problems by line number, having changed
    nothing. Writes in batches; audited as ``postcode.import``.
    """
    result = ImportResult()
    result.tally("postcodes", "created", 0)
    errors = ImportErrors()
    rows = parse_postcode_csv(source, errors, result)
    with transaction.atomic():
        transaction.on_commit(postcode_forget)
        ward_ids = dict(Ward.objects.values_list("ons_code", "id"))
        resolved: list[tuple[PostcodeRow, int]] = []
        for row in rows:
            ward_id = _ward_id_for(row, ward_ids)
            if ward_id is not None:
                resolved.append((row, ward_id))
            elif skip_unknown_wards:
                result.skip("unknown ward")
            elif row.ward_code:
                errors.add(
                    row.line,
                    _(
                        "Line %(line)d (%(postcode)s): the ward code %(code)s is not among the "
                        "imported wards. Import the ward boundaries first, or skip postcodes in "
                        "unknown wards."
                    )
                    % {"line": row.line, "postcode": row.postcode, "code": row.ward_code[:20]},
                )
            else:
                errors.add(
                    row.line,
                    _(
                        "Line %(line)d (%(postcode)s): osward is empty and the point %(lat)s, "
                        "%(long)s is in none of the imported wards."
                    )
                    % {
                        "line": row.line,
                        "postcode": row.postcode,
                        "lat": row.latitude,
                        "long": row.longitude,
                    },
                )
        errors.raise_if_any()

        # What is stored now, as (lat, long, ward id), fetched in chunks.
        existing: dict[str, tuple[float, float, int]] = {}
        names = [row.postcode for row, _ward_id in resolved]
        for start in range(0, len(names), _LOOKUP_CHUNK):
            chunk = names[start : start + _LOOKUP_CHUNK]
            for name, *stored in Postcode.objects.filter(postcode__in=chunk).values_list(
                "postcode", "latitude", "longitude", "ward_id"
            ):
                existing[name] = tuple(stored)
        to_create: list[Postcode] = []
        to_update: list[Postcode] = []
        for row, ward_id in resolved:
            found = existing.get(row.postcode)
            if found == (row.latitude, row.longitude, ward_id):
                result.tally("postcodes", "unchanged")
                continue
            postcode = Postcode(
                postcode=row.postcode,
                latitude=row.latitude,
                longitude=row.longitude,
                ward_id=ward_id,
            )
            (to_create if found is None else to_update).append(postcode)
        Postcode.objects.bulk_create(to_create, batch_size=_BATCH)
        # An upsert on the postcode: bulk_update's CASE expressions cost milliseconds per row in
        # Python, which 100,000 rows cannot afford; INSERT ... ON CONFLICT DO UPDATE does not.
        Postcode.objects.bulk_create(
            to_update,
            batch_size=_BATCH,
            update_conflicts=True,
            unique_fields=["postcode"],
            update_fields=["latitude", "longitude", "ward"],
        )
        result.tally("postcodes", "created", len(to_create))
        result.tally("postcodes", "updated", len(to_update))
        audit_record(
            actor=actor,
            action="postcode.import",
            changes={**result.as_dict(), "file": source_name},
        )
    return result


def _ward_id_for(row: PostcodeRow, ward_ids: dict[str, int]) -> int | None:
    if row.ward_code:
        return ward_ids.get(row.ward_code)
    ward = ward_for_point(lon=row.longitude, lat=row.latitude)
    return ward.pk if ward is not None else None
