"""Pages that carry live streams: rendered from one snapshot of the database.

A live page shows some state and, in a hidden marker, the number of the last event of each
stream it follows; the page then applies every event after that number. That is only right if
the state and the number were read at the same moment. Read one after the other, an event
committed in between is either applied twice or, worse, never: the page read the state before
the change, then a marker that already counts the event, so it waits for later events only
(a question approved in that instant never appears; a vote count stays behind while its
snapshot carries only what changed since the last one).

:func:`live_page` runs a view in one ``REPEATABLE READ`` transaction on PostgreSQL: every query
of the page, the markers included, sees the database as it was at the first one. A change
committed after that comes as an event numbered after the marker. (SQLite, the demo, allows one
writer at a time and reads inside a transaction from one snapshot anyway.)
"""

import functools
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse


def live_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or connection.in_atomic_block:
            return view(request, *args, **kwargs)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            response = view(request, *args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render) and not getattr(response, "is_rendered", True):
                response = render()  # a TemplateResponse reads as it renders
        return response

    return wrapper
