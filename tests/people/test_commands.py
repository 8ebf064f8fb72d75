"""The export_popolo and import_popolo commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engagement.audit.models import AuditEntry
from engagement.people.models import Councillor
from engagement.people.popolo import export_popolo
from tests.factories import CouncillorFactory, WardFactory

from .test_services import document

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ward():
    return WardFactory(ons_code="W05000001", name="Abbey")


def test_export_popolo_prints_the_document(ward):
    CouncillorFactory(name="Gwen Price", slug="gwen-price", wards=[ward])

    assert json.loads(run("export_popolo")) == export_popolo()


def test_export_popolo_writes_a_file(tmp_path, ward):
    CouncillorFactory(name="Gwen Price", slug="gwen-price", wards=[ward])
    path = tmp_path / "people.json"

    output = run("export_popolo", "--out", str(path))

    assert output == f"Wrote {path}: 1 persons, 3 organizations, 2 memberships, 1 areas.\n"
    assert json.loads(path.read_text(encoding="utf-8")) == export_popolo()


def test_export_popolo_reports_an_unwritable_file(tmp_path):
    path = tmp_path / "missing-folder" / "people.json"

    with pytest.raises(CommandError) as exc:
        run("export_popolo", "--out", str(path))

    assert str(exc.value) == f"Cannot write {path}: No such file or directory"


def test_import_popolo_prints_the_counts(tmp_path, ward):
    path = tmp_path / "people.json"
    path.write_text(json.dumps(document()), encoding="utf-8")

    assert run("import_popolo", str(path)) == (
        "parties: 1 created, 0 updated, 0 unchanged\n"
        "committees: 1 created, 0 updated, 0 unchanged\n"
        "councillors: 1 created, 0 updated, 0 unchanged\n"
        "committee memberships: 1 created, 0 updated, 0 unchanged\n"
    )
    assert AuditEntry.objects.get().changes["file"] == "people.json"


def test_import_popolo_refuses_a_bad_file_and_changes_nothing(tmp_path, ward):
    data = document()
    data["persons"][0]["name"] = 42
    data["memberships"][3]["role"] = "secretary"
    path = tmp_path / "people.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(CommandError) as exc:
        run("import_popolo", str(path))

    assert str(exc.value) == (
        'Nothing was imported:\n  persons[0] (gwen-price): "name" must be text, not a number.'
    )
    assert (Councillor.objects.count(), AuditEntry.objects.count()) == (0, 0)


def test_import_popolo_refuses_malformed_json(tmp_path, ward):
    path = tmp_path / "people.json"
    path.write_text('{"persons": []', encoding="utf-8")

    with pytest.raises(CommandError) as exc:
        run("import_popolo", str(path))

    assert str(exc.value) == (
        "Nothing was imported:\n"
        "  The file is not valid JSON (line 1, column 15: Expecting ',' delimiter)."
    )
    assert AuditEntry.objects.count() == 0
