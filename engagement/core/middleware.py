"""Project middleware: timing, the client address for the audit log, the council's languages."""

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from .request_context import reset_current_ip, set_current_ip


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>`` (read by the benchmarks) and records the client IP."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        token = set_current_ip(client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            reset_current_ip(token)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        return response


def client_ip(request: HttpRequest) -> str | None:
    """The client address; behind a proxy (SECURE_PROXY_SSL_HEADER set) the last X-Forwarded-For."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class CouncilLanguageMiddleware:
    """After LocaleMiddleware: when the council has Welsh switched off, everything is English."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from engagement.council.selectors import council_settings

        if not council_settings().welsh_enabled and translation.get_language() != "en-gb":
            translation.activate("en-gb")
            request.LANGUAGE_CODE = "en-gb"
        return self.get_response(request)
