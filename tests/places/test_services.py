import io
import json

import pytest
from django.core.exceptions import ValidationError

from engagement.audit.models import AuditEntry
from engagement.places.models import Postcode, Ward
from engagement.places.services import postcodes_import, wards_import
from tests.factories import WardFactory, square

from .factories import collection, feature, onspd_csv, onspd_row

pytestmark = pytest.mark.django_db

MULTI = {
    "type": "MultiPolygon",
    "coordinates": [square(-3.1, 51.5)["coordinates"], square(-3.08, 51.5)["coordinates"]],
}


# --- wards_import -------------------------------------------------------------------------------


def test_wards_import_creates_wards_with_slug_bbox_and_boundary():
    result = wards_import(
        source=collection(feature("E05000001", "Abbey"), feature("W05000002", "Maes-y-Dŵr", MULTI)),
        source_name="wards.geojson",
    )

    assert result.counts == {"wards": {"created": 2, "updated": 0, "unchanged": 0}}
    assert result.skipped == {}
    abbey, maes = Ward.objects.order_by("ons_code")
    assert (abbey.name, abbey.slug) == ("Abbey", "abbey")
    assert (abbey.min_lon, abbey.min_lat, abbey.max_lon, abbey.max_lat) == (
        -3.2,
        51.48,
        -3.2 + 0.01,
        51.48 + 0.01,
    )
    assert abbey.boundary == square(-3.2, 51.48)
    assert (maes.name, maes.slug) == ("Maes-y-Dŵr", "maes-y-dwr")
    assert maes.boundary == MULTI
    assert (maes.min_lon, maes.max_lon) == (-3.1, -3.08 + 0.01)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_label) == ("ward.import", "system")
    assert entry.changes == {
        "counts": {"wards": {"created": 2, "updated": 0, "unchanged": 0}},
        "skipped": {},
        "file": "wards.geojson",
    }


@pytest.mark.parametrize(
    ("code_key", "name_key"),
    [("WD23CD", "WD23NM"), ("wd22cd", "wd22nm"), ("code", "name"), ("Code", "Name")],
)
def test_wards_import_finds_the_code_and_name_whatever_the_year_or_case(code_key, name_key):
    wards_import(source=collection(feature(code_key=code_key, name_key=name_key)))

    assert list(Ward.objects.values_list("ons_code", "name")) == [("E05000001", "Abbey")]


def test_wards_import_reads_json_bytes_and_a_bare_list_of_features():
    wards_import(source=json.dumps(collection(feature("E05000009", "Nine"))).encode())
    wards_import(source=[feature("E05000010", "Ten")])

    assert list(Ward.objects.order_by("ons_code").values_list("ons_code", flat=True)) == [
        "E05000009",
        "E05000010",
    ]


def test_wards_import_updates_by_code_keeps_the_slug_and_bumps_updated_at():
    wards_import(source=collection(feature("E05000001", "Abbey"), feature("E05000002", "Bute")))
    abbey = Ward.objects.get(ons_code="E05000001")
    moved = square(-3.0, 51.6, 0.02)

    result = wards_import(
        source=collection(
            feature("E05000001", "Abbey and Docks", moved), feature("E05000002", "Bute")
        )
    )

    assert result.counts == {"wards": {"created": 0, "updated": 1, "unchanged": 1}}
    updated = Ward.objects.get(ons_code="E05000001")
    assert (updated.pk, updated.name, updated.slug) == (abbey.pk, "Abbey and Docks", "abbey")
    assert updated.boundary == moved
    assert (updated.min_lon, updated.min_lat, updated.max_lon, updated.max_lat) == (
        -3.0,
        51.6,
        -3.0 + 0.02,
        51.6 + 0.02,
    )
    assert updated.updated_at > abbey.updated_at
    assert Ward.objects.count() == 2


def test_importing_the_same_file_again_changes_nothing():
    data = collection(feature("E05000001", "Abbey"), feature("E05000002", "Bute", MULTI))
    wards_import(source=data)
    before = list(Ward.objects.order_by("pk").values())

    result = wards_import(source=data)

    assert result.counts == {"wards": {"created": 0, "updated": 0, "unchanged": 2}}
    assert result.changed is False
    assert list(Ward.objects.order_by("pk").values()) == before


def test_slugs_are_disambiguated_with_the_code():
    WardFactory(name="Central", slug="central", ons_code="E05000100")

    wards_import(
        source=collection(feature("E05000001", "Central"), feature("E05000002", "Central!"))
    )

    assert dict(Ward.objects.values_list("ons_code", "slug")) == {
        "E05000100": "central",
        "E05000001": "central-e05000001",
        "E05000002": "central-e05000002",
    }


def test_a_name_with_no_latin_letters_gets_the_code_as_slug():
    wards_import(source=collection(feature("E05000001", "—")))

    assert Ward.objects.get().slug == "e05000001"


def test_wards_import_lists_every_problem_and_stores_nothing():
    data = collection(
        feature("E05000001", "Good"),
        feature("E5", "Bad code"),
        feature("E05000003", 42),
    )

    with pytest.raises(ValidationError) as exc:
        wards_import(source=data)

    assert exc.value.messages == [
        "features[1] (E5): code: Enter an ONS ward code: E05 or W05 followed by six digits, "
        "like E05011234.",
        "features[2] (E05000003): the ward name must be text, not a number.",
    ]
    assert Ward.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_wards_import_shows_twenty_problems_and_counts_the_rest():
    data = collection(*(feature(f"X{n}", "Bad") for n in range(25)))

    with pytest.raises(ValidationError) as exc:
        wards_import(source=data)

    assert len(exc.value.messages) == 21
    assert exc.value.messages[0].startswith("features[0] (X0): code: Enter an ONS ward code")
    assert exc.value.messages[-1] == "… and 5 more problems. Nothing was imported."


# --- postcodes_import ---------------------------------------------------------------------------


@pytest.fixture
def wards():
    """Two side-by-side 0.01-degree wards near Cardiff."""
    return (
        WardFactory(ons_code="W05000001", name="West", boundary=square(-3.20, 51.48)),
        WardFactory(ons_code="W05000002", name="East", boundary=square(-3.19, 51.48)),
    )


def test_postcodes_import_creates_normalises_skips_and_derives(wards):
    west, east = wards
    text = onspd_csv(
        [
            onspd_row("CF10 1AA", "51.485", "-3.195", "W05000001"),
            onspd_row("cf101ab", "51.486", "-3.185", "W05000002"),
            onspd_row("CF10 1AD", "51.487", "-3.184", ""),  # ward from the point: East
            onspd_row("CF10 1AE", "51.485", "-3.195", "W05000001", doterm="202001"),
            onspd_row("CF10 1AF", "99.999999", "0.000000", ""),
        ]
    )

    result = postcodes_import(source=io.StringIO(text), source_name="onspd.csv")

    assert result.counts == {"postcodes": {"created": 3, "updated": 0, "unchanged": 0}}
    assert result.skipped == {"terminated": 1, "no grid reference": 1}
    assert list(Postcode.objects.values_list("postcode", "latitude", "longitude", "ward")) == [
        ("CF10 1AA", 51.485, -3.195, west.pk),
        ("CF10 1AB", 51.486, -3.185, east.pk),
        ("CF10 1AD", 51.487, -3.184, east.pk),
    ]
    entry = AuditEntry.objects.get()
    assert entry.action == "postcode.import"
    assert entry.changes == {
        "counts": {"postcodes": {"created": 3, "updated": 0, "unchanged": 0}},
        "skipped": {"terminated": 1, "no grid reference": 1},
        "file": "onspd.csv",
    }


def test_postcodes_import_reads_a_binary_file_with_a_bom_and_upper_case_headers(wards):
    text = "\ufeffPCDS,LAT,LONG,OSWARD\nCF10 1AA,51.485,-3.195,W05000001\n"

    postcodes_import(source=io.BytesIO(text.encode("utf-8")))

    assert list(Postcode.objects.values_list("postcode", flat=True)) == ["CF10 1AA"]


def test_postcodes_import_updates_and_leaves_unchanged(wards):
    west, east = wards
    first = onspd_csv(
        [
            onspd_row("CF10 1AA", "51.485", "-3.195", "W05000001"),
            onspd_row("CF10 1AB", "51.486", "-3.185", "W05000002"),
        ]
    )
    postcodes_import(source=io.StringIO(first))
    ids = dict(Postcode.objects.values_list("postcode", "id"))
    second = onspd_csv(
        [
            onspd_row("CF10 1AA", "51.485", "-3.195", "W05000001"),
            onspd_row("CF10 1AB", "51.4861", "-3.1951", "W05000001"),
            onspd_row("CF10 1AD", "51.487", "-3.184", "W05000002"),
        ]
    )

    result = postcodes_import(source=io.StringIO(second))

    assert result.counts == {"postcodes": {"created": 1, "updated": 1, "unchanged": 1}}
    moved = Postcode.objects.get(postcode="CF10 1AB")
    assert (moved.pk, moved.latitude, moved.longitude, moved.ward_id) == (
        ids["CF10 1AB"],
        51.4861,
        -3.1951,
        west.pk,
    )
    assert Postcode.objects.count() == 3


def test_skip_unknown_wards_counts_them_and_imports_the_rest(wards):
    text = onspd_csv(
        [
            onspd_row("CF10 1AA", "51.485", "-3.195", "W05000001"),
            onspd_row("NP20 1AA", "51.58", "-2.99", "W05000999"),
            onspd_row("CF5 1AA", "51.60", "-3.30", ""),  # outside both wards
        ]
    )

    result = postcodes_import(source=io.StringIO(text), skip_unknown_wards=True)

    assert result.counts == {"postcodes": {"created": 1, "updated": 0, "unchanged": 0}}
    assert result.skipped == {"unknown ward": 2}
    assert list(Postcode.objects.values_list("postcode", flat=True)) == ["CF10 1AA"]


def test_postcodes_import_writes_in_batches_not_per_row(wards, django_assert_max_num_queries):
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    codes = [
        f"CF{d} {s}{a}{b}" for d in (10, 11) for s in range(8) for a in letters for b in letters
    ]
    rows = [
        onspd_row(code, f"{51.481 + (n % 9) * 0.001:.3f}", "-3.195", "W05000001")
        for n, code in enumerate(codes)
    ]
    assert len(rows) == 6400

    # Batched: at most one query per hundred rows (SQLite caps a batch at 999 parameters).
    with django_assert_max_num_queries(len(rows) // 100):
        result = postcodes_import(source=io.StringIO(onspd_csv(rows)))
    assert result.counts == {"postcodes": {"created": 6400, "updated": 0, "unchanged": 0}}

    moved = [{**row, "osward": "W05000002"} for row in rows]
    with django_assert_max_num_queries(len(rows) // 100):
        result = postcodes_import(source=io.StringIO(onspd_csv(moved)))
    assert result.counts == {"postcodes": {"created": 0, "updated": 6400, "unchanged": 0}}
    assert Postcode.objects.filter(ward=wards[1]).count() == 6400
