"""Writes to the council settings; every change is audited and the cache refreshed."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record, model_changes, snapshot

from .models import CouncilSettings
from .selectors import council_settings_forget

EDITABLE_FIELDS = [
    "name",
    "short_name",
    "name_cy",
    "short_name_cy",
    "logo",
    "brand_colour",
    "contact_email",
    "contact_phone",
    "contact_address",
    "website",
    "welsh_enabled",
    "retention_inactive_account_days",
    "retention_question_days",
    "retention_social_case_days",
    "retention_audit_days",
]
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_PIXELS = 4000 * 4000


def council_settings_update(*, actor: Any, **values: Any) -> CouncilSettings:
    """Update the singleton (creating it on first use). Raises ValidationError, changing nothing."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown setting: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    if values.get("logo") is False:  # the form's "clear" box: remove the logo
        values["logo"] = ""
    logo = values.get("logo")
    if logo and getattr(logo, "size", 0) > LOGO_MAX_BYTES:
        raise ValidationError({"logo": _("The logo must be 1 MB or smaller.")})
    if logo:
        _check_image(logo)
    with transaction.atomic():
        obj = CouncilSettings.objects.select_for_update().order_by("pk").first()
        if obj is None:
            obj = CouncilSettings()
        before = snapshot(obj, EDITABLE_FIELDS)
        old_logo = obj.logo.name if obj.logo else ""
        for name, value in values.items():
            setattr(obj, name, value)
        obj.full_clean()
        obj.save()
        audit_record(
            actor=actor,
            action="council_settings.update",
            target=obj,
            changes=model_changes(obj, EDITABLE_FIELDS, before),
        )
        transaction.on_commit(council_settings_forget)
        if old_logo and old_logo != (obj.logo.name or ""):
            storage = obj.logo.storage
            transaction.on_commit(lambda: storage.delete(old_logo))
    return obj


def _check_image(upload: Any) -> None:
    """Open the upload with Pillow: the extension alone does not make a file an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        upload.seek(0)
        with Image.open(upload) as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise ValidationError({"logo": _("The logo must be at most 4000 by 4000 pixels.")})
            image.verify()
            if image.format not in {"PNG", "JPEG", "WEBP"}:
                raise ValidationError({"logo": _("The logo must be a PNG, JPEG or WebP image.")})
    except Image.DecompressionBombError:
        raise ValidationError({"logo": _("The logo image is far too large in pixels.")}) from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationError({"logo": _("The logo file is not a readable image.")}) from None
    finally:
        upload.seek(0)
