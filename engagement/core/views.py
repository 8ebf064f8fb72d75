"""The site shell: home, information pages, the staff dashboard, branding CSS, health check."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from engagement.audit.selectors import audit_entries
from engagement.council.selectors import council_settings

from .home import home_sections
from .permissions import staff_required
from .selectors import staff_dashboard_counts


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"sections": home_sections(request)})


@require_GET
def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "core/accessibility.html")


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "core/privacy.html")


@require_GET
def cookies(request: HttpRequest) -> HttpResponse:
    return render(request, "core/cookies.html")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """A minimal view: load balancers' health check, and the benchmarks' baseline."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@cache_control(max_age=300, public=True)
def brand_css(request: HttpRequest) -> HttpResponse:
    """The council's colour as CSS custom properties (a file, so the CSP needs no inline style)."""
    colour = council_settings().brand_colour
    body = f":root{{--moot-brand:{colour};}}\n"
    return HttpResponse(body, content_type="text/css; charset=utf-8")


@staff_required
@require_GET
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    recent = audit_entries()[:10] if request.user.is_council_admin else []
    return render(
        request,
        "core/staff_dashboard.html",
        {"counts": staff_dashboard_counts(), "recent": recent},
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)
