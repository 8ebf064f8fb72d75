"""Reading import files: ONS ward boundaries (GeoJSON) and the ONS Postcode Directory (CSV).

This module parses and checks a file's own content, without touching the database; the
services in :mod:`engagement.places.services` add the checks that need the database and do the
writes. :class:`ImportResult` and :class:`ImportErrors` are shared by every importer (the
Popolo import in :mod:`engagement.people.services` uses them too).

Positions in error messages: JSON items are named by their 0-based path (``features[2]``, as
``jq '.features[2]'`` would find them); CSV rows by their 1-based line number in the file (the
header is line 1).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .geometry import GeometryError, clean_boundary
from .models import Postcode, Ward
from .selectors import normalise_postcode

# --- Shared by every importer --------------------------------------------------------------------

OUTCOMES = ("created", "updated", "unchanged", "deleted")


@dataclass
class ImportResult:
    """What an import did: per kind of record, how many were created, updated, unchanged or
    deleted; and, per reason, how many input records were skipped."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def tally(self, kind: str, outcome: str, n: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        per_kind = self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})
        per_kind[outcome] = per_kind.get(outcome, 0) + n

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    @property
    def changed(self) -> bool:
        """True when the import wrote anything."""
        return any(
            per_kind.get(outcome, 0)
            for per_kind in self.counts.values()
            for outcome in ("created", "updated", "deleted")
        )

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "skipped": self.skipped}

    def lines(self) -> list[str]:
        """One readable line per kind, then one for the skipped records (if any), in the
        active language (the keys themselves stay English in ``as_dict`` and the audit log)."""
        out = []
        for kind, per_kind in self.counts.items():
            parts = [f"{per_kind.get(o, 0)} {_label(o)}" for o in OUTCOMES if o in per_kind]
            out.append(f"{_label(kind)}: " + ", ".join(parts))
        if self.skipped:
            reasons = ", ".join(f"{n} {_label(reason)}" for reason, n in self.skipped.items())
            out.append(_("skipped: %(reasons)s") % {"reasons": reasons})
        return out


_LABELS = {
    "wards": gettext_lazy("wards"),
    "postcodes": gettext_lazy("postcodes"),
    "parties": gettext_lazy("parties"),
    "committees": gettext_lazy("committees"),
    "councillors": gettext_lazy("councillors"),
    "committee memberships": gettext_lazy("committee memberships"),
    "created": gettext_lazy("created"),
    "updated": gettext_lazy("updated"),
    "unchanged": gettext_lazy("unchanged"),
    "deleted": gettext_lazy("deleted"),
    "terminated": gettext_lazy("terminated"),
    "no grid reference": gettext_lazy("no grid reference"),
    "unknown ward": gettext_lazy("unknown ward"),
}


def _label(key: str) -> str:
    return str(_LABELS.get(key, key))


class ImportErrors:
    """Collects every problem in a file, so one run reports them all (in file order)."""

    SHOWN = 20

    def __init__(self) -> None:
        self._items: list[tuple[int, int, str]] = []

    def add(self, position: int, message: str) -> None:
        self._items.append((position, len(self._items), message))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        """Raise one ValidationError listing the first few problems (and how many more)."""
        if not self._items:
            return
        ordered = [message for _pos, _seq, message in sorted(self._items)]
        messages = ordered[: self.SHOWN]
        if len(ordered) > self.SHOWN:
            more = len(ordered) - self.SHOWN
            messages.append(
                ngettext(
                    "… and %(count)d more problem. Nothing was imported.",
                    "… and %(count)d more problems. Nothing was imported.",
                    more,
                )
                % {"count": more}
            )
        raise ValidationError(messages, code="import")


def describe_type(value: Any) -> str:
    """How a JSON value's type reads in an error message."""
    if value is None:
        return _("null")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, int | float):
        return _("a number")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, list):
        return _("a list")
    return _("an object")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def read_json(source: Any) -> Any:
    """Parse JSON from text, bytes or a (text or binary) file object; ValidationError if bad.

    Already-parsed data (a dict or list) is returned unchanged.
    """
    if isinstance(source, dict | list):
        return source
    raw = source.read() if hasattr(source, "read") else source
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                _("The file is not UTF-8 text (byte %(pos)d).") % {"pos": exc.start},
                code="encoding",
            ) from None
    if not isinstance(raw, str):
        raise ValidationError(_("Expected a JSON file."), code="invalid")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _("The file is not valid JSON (line %(line)d, column %(col)d: %(msg)s).")
            % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg},
            code="json",
        ) from None
    except ValueError as exc:
        raise ValidationError(
            _("The file is not valid JSON (%(msg)s).") % {"msg": exc}, code="json"
        ) from None
    except RecursionError:
        raise ValidationError(
            _("The file is not valid here: its JSON is nested far too deeply."), code="json"
        ) from None


# --- Ward boundaries (GeoJSON) ------------------------------------------------------------------

# ONS names the properties after the boundary year: WD24CD / WD24NM, WD23CD / WD23NM, ...
_CODE_KEY = re.compile(r"^wd\d\dcd$", re.IGNORECASE)
_NAME_KEY = re.compile(r"^wd\d\dnm$", re.IGNORECASE)


@dataclass(frozen=True)
class WardFeature:
    index: int
    ons_code: str
    name: str
    boundary: dict[str, Any]
    bbox: tuple[float, float, float, float]


def _property(properties: dict[str, Any], pattern: re.Pattern[str], plain: str) -> tuple[Any, str]:
    """The value of the one property whose key matches ``pattern`` or equals ``plain``.

    Returns ``(value, "")`` or ``(None, problem)``.
    """
    keys = [k for k in properties if pattern.match(k) or k.lower() == plain]
    values = {json.dumps(properties[k], sort_keys=True) for k in keys}
    if not keys:
        return None, "missing"
    if len(values) > 1:
        return None, "ambiguous:" + ", ".join(sorted(keys))
    return properties[keys[0]], ""


def parse_ward_features(data: Any) -> list[WardFeature]:
    """Check a GeoJSON FeatureCollection of wards; return its features or raise ValidationError
    listing every problem (naming the feature's index and code)."""
    if isinstance(data, list):  # a bare list of features
        features = data
    elif not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        found = data.get("type") if isinstance(data, dict) else None
        raise ValidationError(
            _("The file is not a GeoJSON FeatureCollection (its type is %(type)s).")
            % {"type": json.dumps(found) if isinstance(found, str) else describe_type(data)},
            code="not_feature_collection",
        )
    else:
        features = data.get("features")
    if not isinstance(features, list):
        raise ValidationError(
            _("The FeatureCollection has no list of features."), code="no_features"
        )
    if not features:
        raise ValidationError(_("The file has no features: there are no wards in it."), "empty")

    errors = ImportErrors()
    parsed: list[WardFeature] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.add(index, _("%(where)s: this is not a GeoJSON Feature.") % {"where": where})
            continue
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            errors.add(index, _("%(where)s: the feature has no properties.") % {"where": where})
            continue
        code, problem = _property(properties, _CODE_KEY, "code")
        if problem == "missing":
            errors.add(
                index,
                _("%(where)s: no ward code (a property like WD24CD, wd24cd or code).")
                % {"where": where},
            )
            continue
        if problem:
            errors.add(
                index,
                _("%(where)s: several different ward codes (%(keys)s); keep one.")
                % {"where": where, "keys": problem.split(":", 1)[1]},
            )
            continue
        if not isinstance(code, str):
            errors.add(
                index,
                _("%(where)s: the ward code must be text, not %(type)s.")
                % {"where": where, "type": describe_type(code)},
            )
            continue
        code = code.strip()
        where = f"features[{index}] ({code[:20]})"
        name, problem = _property(properties, _NAME_KEY, "name")
        if problem == "missing":
            errors.add(
                index,
                _("%(where)s: no ward name (a property like WD24NM, wd24nm or name).")
                % {"where": where},
            )
            continue
        if problem:
            errors.add(
                index,
                _("%(where)s: several different ward names (%(keys)s); keep one.")
                % {"where": where, "keys": problem.split(":", 1)[1]},
            )
            continue
        if not isinstance(name, str):
            errors.add(
                index,
                _("%(where)s: the ward name must be text, not %(type)s.")
                % {"where": where, "type": describe_type(name)},
            )
            continue
        name = name.strip()
        # The model's own validators decide what a valid code and name are.
        try:
            Ward(name=name, ons_code=code).clean_fields(
                exclude=["slug", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"]
            )
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                label = _("code") if field_name == "ons_code" else _("name")
                for message in messages:
                    errors.add(
                        index,
                        _("%(where)s: %(field)s: %(message)s")
                        % {"where": where, "field": label, "message": message},
                    )
            continue
        try:
            geometry, bbox = clean_boundary(feature.get("geometry"))
        except GeometryError as exc:
            errors.add(index, f"{where}: {exc}")
            continue
        if code in first_index:
            errors.add(
                index,
                _(
                    "%(where)s: the code %(code)s is also used by features[%(first)d]; each "
                    "ward must appear once."
                )
                % {"where": where, "code": code, "first": first_index[code]},
            )
            continue
        first_index[code] = index
        # Store the geometry alone, in its JSON form, so comparisons with stored rows are exact.
        boundary = json.loads(
            json.dumps({"type": geometry["type"], "coordinates": geometry["coordinates"]})
        )
        parsed.append(WardFeature(index, code, name, boundary, bbox))
    errors.raise_if_any()
    return parsed


# --- Postcodes (ONS Postcode Directory CSV) ----------------------------------------------------

POSTCODE_COLUMNS = ("pcds", "lat", "long", "osward")
# ONSPD's latitude for a postcode without a grid reference (its longitude is then 0.000000).
NO_GRID_LATITUDE = 99.999999


def _limits(field_name: str) -> tuple[float, float]:
    """The model's own bounds for a coordinate, so the import and the model agree."""
    validators = Postcode._meta.get_field(field_name).validators
    low = next(v.limit_value for v in validators if isinstance(v, MinValueValidator))
    high = next(v.limit_value for v in validators if isinstance(v, MaxValueValidator))
    return float(low), float(high)


LATITUDE_RANGE = _limits("latitude")
LONGITUDE_RANGE = _limits("longitude")


@dataclass(frozen=True)
class PostcodeRow:
    line: int
    postcode: str
    latitude: float
    longitude: float
    ward_code: str  # "" when the file leaves it to be derived from the point


def _text_lines(source: IO[str] | IO[bytes] | Iterable[str]) -> Iterable[str]:
    """Text lines from a text or binary file object (UTF-8, with or without BOM) or lines."""
    if hasattr(source, "read") and isinstance(source.read(0), bytes):
        return io.TextIOWrapper(source, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    return source  # type: ignore[return-value]


def _strip_bom(lines: Iterable[str]) -> Iterator[str]:
    first = True
    for line in lines:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


def _coordinate(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_postcode_csv(
    source: IO[str] | IO[bytes] | Iterable[str], errors: ImportErrors, result: ImportResult
) -> list[PostcodeRow]:
    """Read an ONSPD-style CSV: return its rows, add problems to ``errors`` (by line number) and
    count skipped rows (terminated, no grid reference) in ``result``.

    Raises ValidationError at once for problems with the file as a whole (encoding, columns).
    """
    reader = csv.reader(_strip_bom(_text_lines(source)))
    rows: list[PostcodeRow] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationError(
                _("The file is empty: it needs a header row with the columns %(cols)s.")
                % {"cols": ", ".join(POSTCODE_COLUMNS)},
                code="empty",
            )
        columns = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
        if "osward" not in columns:
            # Some ONS extracts name the ward column by its vintage (wd24cd, wd25cd...).
            vintage = sorted(c for c in columns if re.fullmatch(r"wd\d\dcd", c))
            if vintage:
                columns["osward"] = columns[vintage[-1]]
        missing = [c for c in POSTCODE_COLUMNS if c not in columns]
        if missing:
            raise ValidationError(
                _("The file is missing the column(s) %(missing)s (it needs %(cols)s).")
                % {"missing": ", ".join(missing), "cols": ", ".join(POSTCODE_COLUMNS)},
                code="columns",
            )
        i_pcds, i_lat, i_long, i_ward = (columns[c] for c in POSTCODE_COLUMNS)
        i_doterm = columns.get("doterm")
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue

            def cell(i: int | None, row: list[str] = row) -> str:
                return row[i].strip() if i is not None and i < len(row) else ""

            if cell(i_doterm):
                result.skip("terminated")
                continue
            raw_postcode = cell(i_pcds)
            try:
                postcode = normalise_postcode(raw_postcode)
            except ValidationError as exc:
                errors.add(
                    line,
                    _("Line %(line)d: %(value)s is not a valid postcode: %(message)s")
                    % {
                        "line": line,
                        "value": json.dumps(raw_postcode[:20]),
                        "message": exc.messages[0],
                    },
                )
                continue
            latitude, longitude = _coordinate(cell(i_lat)), _coordinate(cell(i_long))
            if latitude is None or longitude is None:
                errors.add(
                    line,
                    _(
                        "Line %(line)d (%(postcode)s): lat and long must be numbers (found "
                        "%(lat)s, %(long)s)."
                    )
                    % {
                        "line": line,
                        "postcode": postcode,
                        "lat": json.dumps(cell(i_lat)[:20]),
                        "long": json.dumps(cell(i_long)[:20]),
                    },
                )
                continue
            if latitude == NO_GRID_LATITUDE:
                result.skip("no grid reference")
                continue
            if not (
                LATITUDE_RANGE[0] <= latitude <= LATITUDE_RANGE[1]
                and LONGITUDE_RANGE[0] <= longitude <= LONGITUDE_RANGE[1]
            ):
                errors.add(
                    line,
                    _(
                        "Line %(line)d (%(postcode)s): the point %(lat)s, %(long)s is outside "
                        "the UK (lat %(lat_lo)s to %(lat_hi)s, long %(long_lo)s to %(long_hi)s)."
                    )
                    % {
                        "line": line,
                        "postcode": postcode,
                        "lat": latitude,
                        "long": longitude,
                        "lat_lo": LATITUDE_RANGE[0],
                        "lat_hi": LATITUDE_RANGE[1],
                        "long_lo": LONGITUDE_RANGE[0],
                        "long_hi": LONGITUDE_RANGE[1],
                    },
                )
                continue
            if postcode in first_line:
                errors.add(
                    line,
                    _("Line %(line)d: %(postcode)s appears again (first on line %(first)d).")
                    % {"line": line, "postcode": postcode, "first": first_line[postcode]},
                )
                continue
            first_line[postcode] = line
            rows.append(PostcodeRow(line, postcode, latitude, longitude, cell(i_ward)))
    except UnicodeDecodeError:
        raise ValidationError(
            _("The file is not UTF-8 text (after line %(line)d).") % {"line": reader.line_num},
            code="encoding",
        ) from None
    except csv.Error as exc:
        raise ValidationError(
            _("The file is not a readable CSV file (line %(line)d: %(msg)s).")
            % {"line": reader.line_num, "msg": exc},
            code="csv",
        ) from None
    return rows
