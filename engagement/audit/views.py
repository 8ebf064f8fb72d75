from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from engagement.core.permissions import staff_required
from engagement.realtime.pages import live_page

from .forms import AuditFilterForm
from .selectors import audit_entries, audit_filter_choices


@staff_required(admin=True)
@require_GET
@live_page
def audit_log(request: HttpRequest) -> HttpResponse:
    choices = audit_filter_choices()
    form = AuditFilterForm(request.GET or None, target_types=choices["target_types"])
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    entries = audit_entries(**{k: v for k, v in filters.items() if v}).select_related(None)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "audit/includes/_results.html" if request.htmx else "audit/log.html"
    response = render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            # Live updates only where a new entry belongs: the first page, unfiltered.
            "live": page.number == 1 and not any(filters.values()),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
    response["Vary"] = "HX-Request"
    return response
