"""Views for tests/core/test_asgi.py: a streamed body that reads the database, a slow view, a
view that counts how many requests run it at once."""

import threading
import time

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from engagement.places.models import Ward

finished: list[str] = []


def streamed(request):
    def rows():
        for ward in Ward.objects.order_by("name"):  # the query runs while the body streams
            yield f"{ward.name}\n"
        finished.append("streamed")

    return StreamingHttpResponse(rows(), content_type="text/plain")


def slow(request):
    time.sleep(0.3)
    finished.append("slow")
    return HttpResponse("late")


running = {"now": 0, "most": 0}
_changed = threading.Condition()


def busy(request):
    """Stays until three requests run it at once, or for half a second: long enough for
    requests sent together to meet here, as many as are let in."""
    with _changed:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        _changed.notify_all()
        _changed.wait_for(lambda: running["now"] >= 3, timeout=0.5)
        running["now"] -= 1
    return HttpResponse("done")


urlpatterns = [path("streamed/", streamed), path("slow/", slow), path("busy/", busy)]
