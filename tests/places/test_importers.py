import pytest
from django.core.exceptions import ValidationError

from engagement.places.importers import ImportErrors, ImportResult


def test_import_result_lines_and_changed():
    result = ImportResult()
    result.tally("wards", "created", 0)
    result.tally("wards", "unchanged", 3)
    assert result.changed is False

    result.tally("memberships", "deleted", 2)
    result.skip("terminated")
    result.skip("terminated")

    assert result.changed is True
    assert result.lines() == [
        "wards: 0 created, 0 updated, 3 unchanged",
        "memberships: 0 created, 0 updated, 0 unchanged, 2 deleted",
        "skipped: 2 terminated",
    ]
    assert result.as_dict() == {
        "counts": {
            "wards": {"created": 0, "updated": 0, "unchanged": 3},
            "memberships": {"created": 0, "updated": 0, "unchanged": 0, "deleted": 2},
        },
        "skipped": {"terminated": 2},
    }


def test_import_result_refuses_an_unknown_outcome():
    with pytest.raises(ValueError, match="unknown outcome 'moved'"):
        ImportResult().tally("wards", "moved")


def test_import_errors_are_raised_in_position_order():
    errors = ImportErrors()
    errors.raise_if_any()  # nothing to raise
    errors.add(9, "Line 9: late")
    errors.add(2, "Line 2: early")
    errors.add(2, "Line 2: second problem")

    with pytest.raises(ValidationError) as exc:
        errors.raise_if_any()

    assert exc.value.messages == ["Line 2: early", "Line 2: second problem", "Line 9: late"]


def test_a_ward_column_named_by_its_vintage_is_accepted():
    from engagement.places.importers import ImportErrors, ImportResult, parse_postcode_csv

    text = "PCDS,LAT,LONG,WD24CD,DOTERM\nCF10 1EP,51.48,-3.18,W05001000,\n"
    errors, result = ImportErrors(), ImportResult()
    rows = parse_postcode_csv(text.splitlines(keepends=True), errors, result)
    assert [(r.postcode, r.ward_code) for r in rows] == [("CF10 1EP", "W05001000")]


def test_absurdly_nested_json_is_a_clear_error():
    import pytest
    from django.core.exceptions import ValidationError

    from engagement.places.importers import read_json

    with pytest.raises(ValidationError, match="nested far too deeply"):
        read_json("[" * 100_000)
