"""Welsh: the catalogue is complete and the shell really renders in Welsh."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "engagement" / "locale" / "cy" / "LC_MESSAGES" / "django.po"


def test_every_string_has_a_welsh_translation():
    catalogue = polib.pofile(str(CATALOGUE))
    missing = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert (missing, fuzzy) == ([], [])


def test_placeholders_survive_translation():
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|\{\{ ?\w+ ?\}\}")
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.msgid_plural:
            continue
        assert sorted(pattern.findall(entry.msgid)) == sorted(pattern.findall(entry.msgstr)), (
            entry.msgid
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "welsh"),
    [
        ("/", "Neidio i'r prif gynnwys"),
        ("/accessibility/", "Datganiad hygyrchedd"),
        ("/accounts/login/", "Mewngofnodi"),
        ("/wards/", "Wardiau"),
    ],
)
def test_pages_render_in_welsh(client, path, welsh):
    client.cookies["django_language"] = "cy"
    content = client.get(path).content.decode()
    assert welsh in content
    assert 'lang="cy"' in content
    assert "Skip to main content" not in content
