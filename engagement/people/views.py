import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from engagement.core.permissions import staff_required

from .forms import CouncillorFilterForm
from .popolo import export_popolo
from .selectors import (
    committee_detail,
    committees_for_list,
    councillor_detail,
    councillor_filter_choices,
    councillors_for_list,
)


@require_GET
def councillor_list(request: HttpRequest) -> HttpResponse:
    form = CouncillorFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {"party": "", "ward": ""}
    return render(
        request,
        "people/councillor_list.html",
        {
            "councillors": councillors_for_list(**filters),
            **councillor_filter_choices(),
            "party": filters["party"],
            "ward": filters["ward"],
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@require_GET
def councillor(request: HttpRequest, slug: str) -> HttpResponse:
    found = councillor_detail(slug).first()
    if found is None:
        raise Http404
    return render(request, "people/councillor_detail.html", {"councillor": found})


@require_GET
def committee_list(request: HttpRequest) -> HttpResponse:
    return render(request, "people/committee_list.html", {"committees": committees_for_list()})


@require_GET
def committee(request: HttpRequest, slug: str) -> HttpResponse:
    found = committee_detail(slug).first()
    if found is None:
        raise Http404
    return render(request, "people/committee_detail.html", {"committee": found})


@staff_required
@require_GET
def popolo_export(request: HttpRequest) -> HttpResponse:
    """Councillors, parties, committees, memberships and wards as one Popolo JSON file."""
    data = export_popolo()
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="councillors.popolo.json"'
    return response
