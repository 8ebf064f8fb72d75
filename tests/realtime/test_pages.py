"""Live pages are rendered from one database snapshot (engagement.realtime.pages.live_page)."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory

from engagement.realtime.pages import live_page


@live_page
def _isolation(request):
    level = "one writer"  # SQLite
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            level = cursor.fetchone()[0]
    return HttpResponse(f"{level} {connection.in_atomic_block}")


@pytest.mark.django_db(transaction=True)
def test_a_live_page_reads_from_one_snapshot_and_a_post_does_not():
    factory = RequestFactory()
    page = _isolation(factory.get("/")).content.decode()
    if connection.vendor == "postgresql":
        assert page == "repeatable read True"
    else:
        assert page.endswith("True")
    posted = _isolation(factory.post("/")).content.decode()
    assert posted.endswith("False")
