"""Views for tests/core/test_asgi.py: a streamed body that reads the database, a slow view."""

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


urlpatterns = [path("streamed/", streamed), path("slow/", slow)]
