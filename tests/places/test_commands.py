"""The import_wards and import_postcodes commands: output, and every kind of bad file refused
with a specific message and nothing changed."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engagement.audit.models import AuditEntry
from engagement.places.models import Postcode, Ward
from tests.factories import PostcodeFactory, WardFactory, square

from .factories import collection, feature, onspd_csv, onspd_row, write_json

pytestmark = pytest.mark.django_db

BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[-3.2, 51.48], [-3.1, 51.49], [-3.1, 51.48], [-3.2, 51.49], [-3.2, 51.48]]],
}


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def state() -> tuple:
    """Everything an import may touch."""
    return (
        list(Ward.objects.order_by("pk").values()),
        list(Postcode.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


# --- import_wards -------------------------------------------------------------------------------


def test_import_wards_prints_the_counts(tmp_path):
    path = write_json(
        tmp_path / "wards.geojson",
        collection(feature("E05000001", "Abbey"), feature("W05000002", "Bute")),
    )

    assert run("import_wards", str(path)) == "wards: 2 created, 0 updated, 0 unchanged\n"
    assert run("import_wards", str(path)) == "wards: 0 created, 0 updated, 2 unchanged\n"
    assert Ward.objects.count() == 2
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["ward.import"] * 2


@pytest.fixture
def existing_ward():
    return WardFactory(
        ons_code="E05000001", name="Abbey", slug="abbey", boundary=square(-3.2, 51.5)
    )


def _with_good_update(bad: dict) -> dict:
    """A file that would also rename the existing ward, to show the good part is not applied."""
    return collection(feature("E05000001", "Abbey Renamed"), bad)


WARD_FILE_ERRORS = [
    pytest.param(
        '{"type": "FeatureCollection", "features": [',
        "The file is not valid JSON (line 1, column 44: Expecting value).",
        id="malformed-json",
    ),
    pytest.param(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"WD24CD": "E05000002", "WD24NM": "X"}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[NaN, 51.4], [-3.1, 51.4], [-3.1, 51.5], [NaN, 51.4]]]}}]}',
        "The file is not valid JSON (NaN is not allowed in JSON).",
        id="nan",
    ),
    pytest.param(
        json.dumps({"type": "Feature", "properties": {}, "geometry": None}),
        'The file is not a GeoJSON FeatureCollection (its type is "Feature").',
        id="not-a-feature-collection",
    ),
    pytest.param(
        json.dumps({"type": "FeatureCollection", "features": []}),
        "The file has no features: there are no wards in it.",
        id="no-features",
    ),
    pytest.param(
        json.dumps({"type": "FeatureCollection", "features": {"a": 1}}),
        "The FeatureCollection has no list of features.",
        id="features-not-a-list",
    ),
]


@pytest.mark.parametrize(("content", "message"), WARD_FILE_ERRORS)
def test_import_wards_refuses_a_bad_file(tmp_path, existing_ward, content, message):
    path = tmp_path / "wards.geojson"
    path.write_text(content, encoding="utf-8")
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_wards", str(path))

    assert str(exc.value) == f"Nothing was imported:\n  {message}"
    assert state() == before


WARD_FEATURE_ERRORS = [
    pytest.param(
        {"type": "Feature", "properties": {"WD24NM": "Bute"}, "geometry": square(-3.1, 51.5)},
        "features[1]: no ward code (a property like WD24CD, wd24cd or code).",
        id="missing-code",
    ),
    pytest.param(
        {"type": "Feature", "properties": {"WD24CD": "E05000002"}, "geometry": square(-3, 51)},
        "features[1] (E05000002): no ward name (a property like WD24NM, wd24nm or name).",
        id="missing-name",
    ),
    pytest.param(
        feature("E06000002", "Bute"),
        "features[1] (E06000002): code: Enter an ONS ward code: E05 or W05 followed by six "
        "digits, like E05011234.",
        id="code-not-a-ward-code",
    ),
    pytest.param(
        feature("E0500000", "Bute"),
        "features[1] (E0500000): code: Enter an ONS ward code: E05 or W05 followed by six "
        "digits, like E05011234.",
        id="code-too-short",
    ),
    pytest.param(
        feature(5000002, "Bute"),
        "features[1]: the ward code must be text, not a number.",
        id="code-is-a-number",
    ),
    pytest.param(
        feature("E05000002", None),
        "features[1] (E05000002): the ward name must be text, not null.",
        id="name-is-null",
    ),
    pytest.param(
        feature("E05000002", "  "),
        "features[1] (E05000002): name: This field cannot be blank.",
        id="name-blank",
    ),
    pytest.param(
        feature("E05000002", "B" * 121),
        "features[1] (E05000002): name: Ensure this value has at most 120 characters (it has 121).",
        id="name-too-long",
    ),
    pytest.param(
        feature("E05000002", "Bute\u202eEast"),
        "features[1] (E05000002): name: Remove the hidden control character (U+202E) from this "
        "text.",
        id="name-bidi-override",
    ),
    pytest.param(
        feature("E05000002", "Bute\x00"),
        "features[1] (E05000002): name: Remove the hidden control character (U+0000) from this "
        "text.",
        id="name-nul",
    ),
    pytest.param(
        feature("E05000002", "Bute\nEast"),
        "features[1] (E05000002): name: Enter this on a single line.",
        id="name-two-lines",
    ),
    pytest.param(
        feature("E05000002", "Bute", BOWTIE),
        "features[1] (E05000002): the boundary is not a valid polygon "
        "(Self-intersection[-3.15 51.485])",
        id="self-intersecting",
    ),
    pytest.param(
        feature("E05000002", "Bute", {"type": "Point", "coordinates": [-3.1, 51.5]}),
        "features[1] (E05000002): the boundary must be a GeoJSON Polygon or MultiPolygon",
        id="point-geometry",
    ),
    pytest.param(
        feature("E05000002", "Bute", {"type": "Polygon", "coordinates": [[[-3.1, 51.5]]]}),
        "features[1] (E05000002): the boundary's coordinates are malformed (A linearring "
        "requires at least 4 coordinates.)",
        id="malformed-coordinates",
    ),
    pytest.param(
        feature("E05000002", "Bute", square(318000, 176000, 500)),
        "features[1] (E05000002): the boundary is not in longitude/latitude (WGS84); re-export "
        "it as EPSG:4326",
        id="british-national-grid",
    ),
    pytest.param(
        feature("E05000001", "Abbey again"),
        "features[1] (E05000001): the code E05000001 is also used by features[0]; each ward "
        "must appear once.",
        id="duplicate-code",
    ),
    pytest.param(
        {
            "type": "Feature",
            "properties": {"WD23CD": "E05000002", "WD24CD": "E05000003", "WD24NM": "Bute"},
            "geometry": square(-3.1, 51.5),
        },
        "features[1]: several different ward codes (WD23CD, WD24CD); keep one.",
        id="two-codes",
    ),
    pytest.param(
        ["not", "a", "feature"],
        "features[1]: this is not a GeoJSON Feature.",
        id="not-a-feature",
    ),
    pytest.param(
        {"type": "Feature", "properties": None, "geometry": square(-3.1, 51.5)},
        "features[1]: the feature has no properties.",
        id="no-properties",
    ),
]


@pytest.mark.parametrize(("bad", "message"), WARD_FEATURE_ERRORS)
def test_import_wards_refuses_a_bad_feature(tmp_path, existing_ward, bad, message):
    path = write_json(tmp_path / "wards.geojson", _with_good_update(bad))
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_wards", str(path))

    assert str(exc.value) == f"Nothing was imported:\n  {message}"
    assert state() == before
    assert Ward.objects.get().name == "Abbey"


def test_import_wards_refuses_a_file_that_is_not_utf8(tmp_path, existing_ward):
    path = tmp_path / "wards.geojson"
    path.write_bytes(b'{"name": "Caerdydd \xff"}')
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_wards", str(path))

    assert str(exc.value) == "Nothing was imported:\n  The file is not UTF-8 text (byte 19)."
    assert state() == before


def test_import_wards_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError) as exc:
        run("import_wards", str(tmp_path / "nope.geojson"))

    assert str(exc.value) == f"Cannot read {tmp_path / 'nope.geojson'}: No such file or directory"


# --- import_postcodes ---------------------------------------------------------------------------


@pytest.fixture
def wards():
    return (
        WardFactory(ons_code="W05000001", name="West", boundary=square(-3.20, 51.48)),
        WardFactory(ons_code="W05000002", name="East", boundary=square(-3.19, 51.48)),
    )


def test_import_postcodes_prints_the_counts(tmp_path, wards):
    path = tmp_path / "onspd.csv"
    path.write_text(
        onspd_csv(
            [
                onspd_row("CF10 1AA", "51.485", "-3.195", "W05000001"),
                onspd_row("CF10 1AB", "51.486", "-3.185", "W05000002"),
                onspd_row("CF10 1AD", "51.486", "-3.185", "W05000002", doterm="201912"),
                onspd_row("CF10 1AE", "99.999999", "0.000000", ""),
                onspd_row("CF10 1AF", "51.486", "-3.185", "S13002516"),
            ]
        ),
        encoding="utf-8",
    )

    output = run("import_postcodes", str(path), "--skip-unknown-wards")

    assert output == (
        "postcodes: 2 created, 0 updated, 0 unchanged\n"
        "skipped: 1 terminated, 1 no grid reference, 1 unknown ward\n"
    )
    assert list(Postcode.objects.values_list("postcode", flat=True)) == ["CF10 1AA", "CF10 1AB"]
    assert AuditEntry.objects.get().action == "postcode.import"


@pytest.fixture
def existing_postcode(wards):
    return PostcodeFactory(postcode="CF10 1AA", ward=wards[0], latitude=51.485, longitude=-3.195)


GOOD_ROW = onspd_row("CF10 1AA", "51.486", "-3.185", "W05000002")  # would move the existing one

POSTCODE_ROW_ERRORS = [
    pytest.param(
        onspd_row("CF10 ZZZ", "51.485", "-3.195", "W05000001"),
        'Line 3: "CF10 ZZZ" is not a valid postcode: Enter a real postcode, like CF10 1EP.',
        id="invalid-postcode",
    ),
    pytest.param(
        onspd_row("CF10 1ABCD", "51.485", "-3.195", "W05000001"),
        'Line 3: "CF10 1ABCD" is not a valid postcode: Enter a real postcode, like CF10 1EP: '
        "it is too long.",
        id="postcode-too-long",
    ),
    pytest.param(
        onspd_row("", "51.485", "-3.195", "W05000001"),
        'Line 3: "" is not a valid postcode: Enter a postcode.',
        id="postcode-empty",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "fifty-one", "-3.195", "W05000001"),
        'Line 3 (CF10 1AB): lat and long must be numbers (found "fifty-one", "-3.195").',
        id="lat-not-a-number",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "51.485", "", "W05000001"),
        'Line 3 (CF10 1AB): lat and long must be numbers (found "51.485", "").',
        id="long-empty",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "nan", "-3.195", "W05000001"),
        'Line 3 (CF10 1AB): lat and long must be numbers (found "nan", "-3.195").',
        id="lat-nan",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "48.5", "-3.195", "W05000001"),
        "Line 3 (CF10 1AB): the point 48.5, -3.195 is outside the UK (lat 49.0 to 61.5, long "
        "-8.7 to 2.0).",
        id="lat-south-of-the-uk",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "51.485", "2.35", "W05000001"),
        "Line 3 (CF10 1AB): the point 51.485, 2.35 is outside the UK (lat 49.0 to 61.5, long "
        "-8.7 to 2.0).",
        id="long-in-france",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "51.485", "-3.195", "W05999999"),
        "Line 3 (CF10 1AB): the ward code W05999999 is not among the imported wards. Import "
        "the ward boundaries first, or skip postcodes in unknown wards.",
        id="unknown-ward",
    ),
    pytest.param(
        onspd_row("CF10 1AB", "51.6", "-3.3", ""),
        "Line 3 (CF10 1AB): osward is empty and the point 51.6, -3.3 is in none of the imported "
        "wards.",
        id="no-ward-and-outside-every-ward",
    ),
    pytest.param(
        onspd_row("cf10 1aa", "51.485", "-3.195", "W05000001"),
        "Line 3: CF10 1AA appears again (first on line 2).",
        id="duplicate-postcode",
    ),
]


@pytest.mark.parametrize(("bad", "message"), POSTCODE_ROW_ERRORS)
def test_import_postcodes_refuses_a_bad_row(tmp_path, existing_postcode, bad, message):
    path = tmp_path / "onspd.csv"
    path.write_text(onspd_csv([GOOD_ROW, bad]), encoding="utf-8")
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_postcodes", str(path))

    assert str(exc.value) == f"Nothing was imported:\n  {message}"
    assert state() == before


POSTCODE_FILE_ERRORS = [
    pytest.param(
        "pcds,lat,osward\nCF10 1AB,51.485,W05000001\n",
        "The file is missing the column(s) long (it needs pcds, lat, long, osward).",
        id="missing-column",
    ),
    pytest.param(
        "pcd,lat,long\nCF10 1AB,51.485,-3.195\n",
        "The file is missing the column(s) pcds, osward (it needs pcds, lat, long, osward).",
        id="missing-columns",
    ),
    pytest.param(
        "",
        "The file is empty: it needs a header row with the columns pcds, lat, long, osward.",
        id="empty-file",
    ),
]


@pytest.mark.parametrize(("content", "message"), POSTCODE_FILE_ERRORS)
def test_import_postcodes_refuses_a_bad_file(tmp_path, existing_postcode, content, message):
    path = tmp_path / "onspd.csv"
    path.write_text(content, encoding="utf-8")
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_postcodes", str(path))

    assert str(exc.value) == f"Nothing was imported:\n  {message}"
    assert state() == before


def test_import_postcodes_lists_every_bad_row_in_line_order(tmp_path, existing_postcode):
    path = tmp_path / "onspd.csv"
    path.write_text(
        onspd_csv(
            [
                onspd_row("CF10 1AB", "51.485", "-3.195", "W05999999"),
                GOOD_ROW,
                onspd_row("CF10 ZZZ", "51.485", "-3.195", "W05000001"),
            ]
        ),
        encoding="utf-8",
    )
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_postcodes", str(path))

    assert str(exc.value).splitlines() == [
        "Nothing was imported:",
        "  Line 2 (CF10 1AB): the ward code W05999999 is not among the imported wards. Import "
        "the ward boundaries first, or skip postcodes in unknown wards.",
        '  Line 4: "CF10 ZZZ" is not a valid postcode: Enter a real postcode, like CF10 1EP.',
    ]
    assert state() == before


def test_import_postcodes_refuses_a_file_that_is_not_utf8(tmp_path, existing_postcode):
    path = tmp_path / "onspd.csv"
    path.write_bytes(b"pcds,lat,long,osward\nCF10 1AB,51.485,-3.195,W05000001\nCF10 1AD,\xff\n")
    before = state()

    with pytest.raises(CommandError) as exc:
        run("import_postcodes", str(path))

    assert str(exc.value).startswith("Nothing was imported:\n  The file is not UTF-8 text")
    assert state() == before
