"""Resident pages for petitions: the list, a petition, signing, confirming, creating, JSON."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from consultations.models import Petition
from engagement.realtime.pages import live_page

from . import selectors, services
from .forms import PetitionForm, SignForm


def _client_ip(request: HttpRequest) -> str | None:
    from engagement.core.middleware import client_ip

    return client_ip(request)


def _signer(request: HttpRequest, data: dict) -> services.Signer:
    return services.Signer(
        name=data["name"],
        email=data["email"],
        postcode=data["postcode"],
        connection=data["connection"],
        notify=data.get("notify", False),
        ip=_client_ip(request),
    )


def _add_errors(form, exc: Exception) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, str(exc) if not isinstance(exc, ValidationError) else exc.messages[0])


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Public petitions by state (open by default), most signed first."""
    states = {state: Petition.State(state).label for state in selectors.PUBLIC_STATES}
    state = request.GET.get("state", Petition.State.OPEN)
    if state not in states:
        state = Petition.State.OPEN
    petitions = (
        selectors.public_petitions().filter(state=state).order_by("-signature_count", "-pk")[:100]
    )
    return render(
        request,
        "petitions/index.html",
        {"petitions": petitions, "states": states, "state": state, "state_label": states[state]},
    )


@require_http_methods(["GET", "POST"])
@live_page
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The busy path reads nothing first: the insert checks the petition is open. Only a
        # refusal needs the petition (a 404 if it is not public, else the page with the error).
        try:
            services.signature_create(petition=pk, signer=_signer(request, form.cleaned_data))
        except (ValidationError, services.PetitionError) as exc:
            _add_errors(form, exc)
        else:
            return redirect("petitions:thanks", pk=pk)
    petition = get_object_or_404(selectors.public_petitions(), pk=pk)
    context = {
        "petition": petition,
        "form": form,
        "scheme": services.scheme(),
        "by_ward": selectors.signatures_by_ward(petition),
        "map": selectors.ward_map(petition),
        "debates": selectors.debate_items(petition),
        "stream": f"petition.{petition.pk}",
    }
    return render(request, "petitions/detail.html", context, status=400 if form.errors else 200)


@require_GET
def thanks(request: HttpRequest, pk: int) -> HttpResponse:
    # Also where sponsors land: a petition not yet published (or rejected with its text hidden)
    # is named nowhere public, so this page, open to anyone who tries ids, does not name it.
    petition = get_object_or_404(Petition.objects.select_related("rejection"), pk=pk)
    public = petition.state in selectors.PUBLIC_STATES and not petition.text_hidden
    return render(request, "petitions/thanks.html", {"petition": petition, "public": public})


@require_GET
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        signature = services.signature_confirm(token=token)
    except services.PetitionError as exc:
        return render(request, "petitions/confirm_failed.html", {"error": str(exc)}, status=400)
    return render(
        request,
        "petitions/confirmed.html",
        {"signature": signature, "petition": signature.petition},
    )


@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    form = PetitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.petition_create(
                action=data["action"],
                background=data["background"],
                details=data["details"],
                signer=_signer(request, data),
                user=request.user,
            )
        except (ValidationError, services.PetitionError) as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, _("Check your email: click the link in it to confirm your petition.")
            )
            return redirect("petitions:index")
    return render(
        request,
        "petitions/create.html",
        {"form": form, "scheme": services.scheme()},
        status=400 if form.errors else 200,
    )


@require_GET
def petition_json(request: HttpRequest, pk: int) -> JsonResponse:
    petition = get_object_or_404(selectors.public_petitions(), pk=pk)
    if petition.text_hidden:
        raise Http404
    return JsonResponse(selectors.petition_json(petition))


@require_http_methods(["GET", "POST"])
def sponsor(request: HttpRequest, token: str) -> HttpResponse:
    """The sponsor link the creator shares: sign before the petition is published."""
    petition = get_object_or_404(Petition.objects.select_related("rejection"), sponsor_token=token)
    if petition.text_hidden:
        raise Http404
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.sponsor_sign(petition=petition, signer=_signer(request, form.cleaned_data))
        except (ValidationError, services.PetitionError) as exc:
            _add_errors(form, exc)
        else:
            return redirect("petitions:thanks", pk=petition.pk)
    context = {"petition": petition, "form": form, "scheme": services.scheme()}
    return render(request, "petitions/sponsor.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, token: str) -> HttpResponse:
    """The creator makes the changes moderation asked for (the link came by email)."""
    from .forms import EditForm

    try:
        petition = services.petition_to_change(token)
    except services.PetitionError as exc:
        return render(request, "petitions/confirm_failed.html", {"error": str(exc)}, status=400)
    initial = {"action": petition.action, "background": petition.background}
    form = EditForm(request.POST or None, initial=initial | {"details": petition.details})
    if request.method == "POST" and form.is_valid():
        try:
            services.petition_edit(token=token, **form.cleaned_data)
        except (ValidationError, services.PetitionError) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Thank you: your petition goes back to council staff."))
            return redirect("petitions:index")
    return render(
        request,
        "petitions/edit.html",
        {"form": form, "petition": petition},
        status=400 if form.errors else 200,
    )


@require_GET
def similar(request: HttpRequest) -> HttpResponse:
    """Open petitions like the one being typed (an htmx fragment on the create page)."""
    found = services.similar_petitions(request.GET.get("action", "")[:200])
    return render(request, "petitions/includes/_similar.html", {"similar": found})


@require_GET
def petitions_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"petitions": selectors.petitions_json()})
