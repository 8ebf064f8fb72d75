from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from engagement.core.permissions import staff_required

from .forms import CouncilSettingsForm
from .models import CouncilSettings
from .services import council_settings_update


@staff_required(admin=True)
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest) -> HttpResponse:
    instance = CouncilSettings.objects.order_by("pk").first() or CouncilSettings()
    if request.method == "POST":
        form = CouncilSettingsForm(request.POST, request.FILES, instance=instance)
        if form.is_valid():
            values = {name: form.cleaned_data[name] for name in form.changed_data}
            try:
                council_settings_update(actor=request.user, **values)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, _("The council settings have been saved."))
                return redirect("council:edit")
    else:
        form = CouncilSettingsForm(instance=instance)
    return render(request, "council/edit.html", {"form": form}, status=400 if form.errors else 200)
