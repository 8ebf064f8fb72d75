"""The staff page that runs the same imports as the management commands, from an upload."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from engagement.people.services import popolo_import
from engagement.places.services import postcodes_import, wards_import

from .permissions import staff_required

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class ImportKind:
    key: str
    label: Promise
    hint: Promise
    extensions: tuple[str, ...]
    run: Callable[..., Any]


def _run_popolo(*, source: Any, actor: Any, source_name: str) -> Any:
    return popolo_import(data=source, actor=actor, source_name=source_name)


KINDS = {
    kind.key: kind
    for kind in [
        ImportKind(
            "wards",
            gettext_lazy("Ward boundaries"),
            gettext_lazy(
                "ONS ward boundaries as GeoJSON (WGS84), with WDyyCD and WDyyNM properties."
            ),
            (".geojson", ".json"),
            wards_import,
        ),
        ImportKind(
            "postcodes",
            gettext_lazy("Postcodes"),
            gettext_lazy(
                "ONS Postcode Directory CSV with pcds, lat, long and osward columns. "
                "Import the ward boundaries first."
            ),
            (".csv",),
            postcodes_import,
        ),
        ImportKind(
            "popolo",
            gettext_lazy("Councillors and committees"),
            gettext_lazy("Popolo JSON, as exported from this page's download link."),
            (".json",),
            _run_popolo,
        ),
    ]
}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("What are you importing?"),
        choices=[(k.key, k.label) for k in KINDS.values()],
        widget=forms.RadioSelect,
    )
    file = forms.FileField(label=gettext_lazy("File"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = KINDS.get(data.get("kind", ""))
        upload = data.get("file")
        if kind and upload:
            if not upload.name.lower().endswith(kind.extensions):
                self.add_error(
                    "file",
                    _("The file must end in %(ext)s.") % {"ext": ", ".join(kind.extensions)},
                )
            elif upload.size > MAX_UPLOAD_BYTES:
                self.add_error("file", _("The file must be 100 MB or smaller."))
        return data


@staff_required
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest) -> HttpResponse:
    problems: list[str] = []
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            kind = KINDS[form.cleaned_data["kind"]]
            upload = form.cleaned_data["file"]
            try:
                result = kind.run(source=upload, actor=request.user, source_name=upload.name)
            except ValidationError as exc:
                problems = exc.messages
            else:
                summary = "; ".join(result.lines())
                messages.success(
                    request,
                    _("Imported %(file)s: %(summary)s") % {"file": upload.name, "summary": summary},
                )
                return redirect("staff_imports")
    else:
        form = ImportForm()
    return render(
        request,
        "core/imports.html",
        {"form": form, "problems": problems, "kinds": KINDS.values()},
        status=400 if (form.errors or problems) else 200,
    )
