"""Project middleware: timing, the client address for the audit log, the council's languages,
and the Content-Security-Policy header."""

import functools
import time
from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
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


class CSPMiddleware(DjangoCSPMiddleware):
    """django-csp's middleware, with the policy built once a process (and again when the CSP
    settings change, as in tests) for a response with no policy of its own: building both
    headers from the settings for every response cost about 0.1 ms. A response that a
    ``csp_update``/``csp_replace``/``csp`` decorator marked, or a request that used
    ``csp_nonce``, goes through django-csp's own ``process_response``; the headers are set under
    the same conditions as there (not already set, not exempt, not an excluded path)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _OWN_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # Django's debug pages carry inline styles
        for header, report_only, exempt in (
            (HEADER, False, "_csp_exempt"),
            (HEADER_REPORT_ONLY, True, "_csp_exempt_ro"),
        ):
            policy, excluded = _policy(report_only)
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for after the header went out is an error, not a no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


_OWN_POLICY = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace") for suffix in ("", "_ro")
)


@functools.cache
def _policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    """The header built from the settings, and the path prefixes it is left off."""
    name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
    config = getattr(settings, name, None) or {}
    return build_policy(report_only=report_only), tuple(config.get("EXCLUDE_URL_PREFIXES") or ())


@receiver(setting_changed)
def _forget_policy(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policy.cache_clear()
