from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from engagement.people.models import Councillor

from .forms import PostcodeSearchForm
from .geometry import boundary_svg_path
from .models import Ward
from .selectors import postcode_lookup, wards_with_counts


@require_GET
def ward_list(request: HttpRequest) -> HttpResponse:
    form = PostcodeSearchForm(request.GET or None)
    if form.is_bound and form.is_valid():
        try:
            postcode = postcode_lookup(form.cleaned_data["postcode"])
        except ValidationError as exc:
            form.add_error("postcode", exc)
        else:
            return redirect(postcode.ward)
    return render(
        request,
        "places/ward_list.html",
        {"wards": wards_with_counts(), "form": form},
        status=400 if form.errors else 200,
    )


@require_GET
def ward_detail(request: HttpRequest, slug: str) -> HttpResponse:
    ward = get_object_or_404(
        Ward.objects.prefetch_related(
            Prefetch(
                "councillors",
                queryset=Councillor.objects.filter(is_active=True).select_related("party"),
            )
        ),
        slug=slug,
    )
    return render(
        request,
        "places/ward_detail.html",
        {"ward": ward, "outline": boundary_svg_path(ward.boundary)},
    )
