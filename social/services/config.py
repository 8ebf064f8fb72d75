"""Staff configuration (sources, rules, the gazetteer) and residents' personal data."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.core.validators import validate_no_markup
from social.models import (
    Case,
)

from .common import _own_handles

# --- staff configuration ------------------------------------------------------------------------


def config_save(*, form: Any, actor: Any, action: str) -> Any:
    """Save a staff form for a source, routing rule or saved reply, with an audit entry
    (secrets never go into the audit log)."""
    from social.routing import rules_forget

    with transaction.atomic():
        created = form.instance.pk is None
        changes = {
            name: str(form.cleaned_data.get(name)) for name in form.changed_data if name != "secret"
        }
        if "secret" in form.changed_data and form.cleaned_data.get("secret"):
            changes["secret"] = "(changed)"  # noqa: S105
        obj = form.save()
        audit_record(
            actor=actor,
            action=f"{action}.{'create' if created else 'update'}",
            target=obj,
            changes=changes,
        )
    rules_forget()
    _own_handles.forget()
    return obj


def gazetteer_import(*, rows: list[dict[str, str]], actor: Any) -> int:
    """Import street and place names from CSV rows (name, ward, kind). All or nothing: any bad
    row raises a ValidationError naming every bad line, and nothing is stored. Names already
    in the gazetteer for that ward are left as they are."""
    from engagement.places.models import Ward
    from social.models import GazetteerEntry
    from social.routing import gazetteer_forget, normalise_name

    wards: dict[str, int] = {}
    for pk, name, slug, code in Ward.objects.values_list("pk", "name", "slug", "ons_code"):
        for key in (name, slug, code):
            if key:
                wards[key.strip().lower()] = pk
    errors, entries = [], []
    if len(rows) > 50_000:
        raise ValidationError(_("Import 50,000 rows or fewer at a time."))
    for line, row in enumerate(rows, start=2):
        name = row.get("name", "")
        ward_id = wards.get(row.get("ward", "").lower())
        kind = (row.get("kind") or "street").lower()
        if not name or len(name) > 150:
            errors.append(
                _("Line %(line)s: enter a name of 150 characters or fewer.") % {"line": line}
            )
            continue
        try:
            validate_no_markup(name)
        except ValidationError:
            errors.append(
                _("Line %(line)s: the name has HTML or control characters.") % {"line": line}
            )
            continue
        if ward_id is None:
            errors.append(
                _("Line %(line)s: there is no ward called “%(ward)s”.")
                % {"line": line, "ward": row.get("ward", "")}
            )
            continue
        if kind not in GazetteerEntry.Kind.values:
            errors.append(_("Line %(line)s: the kind must be street or place.") % {"line": line})
            continue
        entries.append(
            GazetteerEntry(name=name, normalised=normalise_name(name), kind=kind, ward_id=ward_id)
        )
    if errors:
        raise ValidationError(errors[:20])
    with transaction.atomic():
        before = GazetteerEntry.objects.count()
        GazetteerEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=1000)
        added = GazetteerEntry.objects.count() - before
        audit_record(
            actor=actor,
            action="social.gazetteer.import",
            changes={"rows": len(entries), "added": added},
        )
    gazetteer_forget()
    return added


# --- personal data ------------------------------------------------------------------------------


def social_export(user: Any) -> dict[str, Any]:
    """A resident's linked network accounts and the cases made from their posts."""
    from social.models import SocialIdentity

    identities = list(SocialIdentity.objects.filter(user=user))
    handles = [(i.network, i.handle) for i in identities]
    from django.db.models import Q

    matching = Q(resident=user)
    for network, handle in handles:
        matching |= Q(network=network, author_handle__iexact=handle)
    cases = Case.objects.filter(matching).prefetch_related("posts").order_by("created_at")
    return {
        "accounts": [
            {
                "network": i.network,
                "handle": i.handle,
                "verified_at": i.verified_at.isoformat() if i.verified_at else None,
            }
            for i in identities
        ],
        "cases": [
            {
                "case": case.pk,
                "state": case.state,
                "created_at": case.created_at.isoformat(),
                "posts": [
                    {"text": p.text, "posted_at": p.posted_at.isoformat(), "url": p.url}
                    for p in case.posts.filter(is_outbound=False).order_by("posted_at")
                ],
            }
            for case in cases
        ],
    }


def social_anonymise(user: Any) -> None:
    """Unlink the resident from their network accounts and cases (the public posts stay, as
    posted on the network, but nothing in Moot points from them to the account)."""
    from social.models import SocialIdentity

    SocialIdentity.objects.filter(user=user).delete()
    Case.objects.filter(resident=user).update(resident=None)
