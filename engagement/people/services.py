"""Writes for councillors, parties and committees: the Popolo import and account links."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.core.validators import validate_no_control_characters
from engagement.places.importers import ImportErrors, ImportResult, describe_type, read_json
from engagement.places.models import Ward

from .models import Committee, Councillor, Membership, Party
from .popolo import (
    COMMITTEE_PREFIX,
    CONTACT_FIELDS,
    PARTY_PREFIX,
)

_CLASSIFICATIONS = ("council", "executive", "party", "committee")
# contact_details types read on import (Popolo and other producers use several names).
_CONTACT_ALIASES = {
    **CONTACT_FIELDS,
    "phone": "phone",
    "cell": "phone",
    "x": "x_handle",
}
_PERSON_FIELDS = [
    "name",
    "email",
    "phone",
    "x_handle",
    "mastodon_handle",
    "bluesky_handle",
    "portfolio",
    "is_active",
    "party_id",
]
_FIELD_LABELS = {
    "slug": "id",
    "phone": "contact_details voice",
    "x_handle": "contact_details twitter",
    "mastodon_handle": "contact_details mastodon",
    "bluesky_handle": "contact_details bluesky",
    "portfolio": "label (the cabinet portfolio)",
    "colour": "extras.colour",
}
_DESCRIPTION_MAX = 2000


@dataclass
class _OrgIn:
    where: str
    slug: str
    values: dict[str, Any]


@dataclass
class _PersonIn:
    where: str
    slug: str
    values: dict[str, Any]
    party: str | None = None
    portfolio: str = ""
    wards: set[str] = field(default_factory=set)
    committees: dict[str, tuple[str, date | None, date | None]] = field(default_factory=dict)


@dataclass
class _Plan:
    parties: list[_OrgIn] = field(default_factory=list)
    committees: list[_OrgIn] = field(default_factory=list)
    persons: dict[str, _PersonIn] = field(default_factory=dict)
    # Ids of persons and organizations already reported as invalid: their memberships are
    # skipped rather than reported again as unknown.
    invalid_persons: set[str] = field(default_factory=set)
    invalid_orgs: set[str] = field(default_factory=set)


def popolo_import(*, data: Any, actor: Any | None = None, source_name: str = "") -> ImportResult:
    """Import councillors, parties, committees and memberships from Popolo JSON.

    ``data`` is the parsed document, JSON text or bytes, or a file object; the shape is the one
    :func:`engagement.people.popolo.export_popolo` writes (see that module). Everything is checked
    first; on any problem a ValidationError lists them all and nothing changes.

    An upsert, keyed on slugs (a person's ``id``; an organization's id after ``party:`` /
    ``committee:``). For each person in the file, the file is the whole truth: their details,
    party, wards, portfolio and committee memberships become what it says. People, parties and
    committees not in the file are left alone; so are sign-in accounts. Wards are not created
    here (they come from the ONS boundaries): every area must already be imported. The council
    organization's name is not imported (it is a council setting). Audited as ``popolo.import``.
    """
    document = read_json(data)
    with transaction.atomic():
        plan = _validate(document)
        result = ImportResult()
        party_ids = _upsert_orgs(Party, plan.parties, "parties", result)
        committee_ids = _upsert_orgs(Committee, plan.committees, "committees", result)
        _upsert_persons(plan, party_ids, committee_ids, result)
        audit_record(
            actor=actor, action="popolo.import", changes={**result.as_dict(), "file": source_name}
        )
    return result


# --- Validation ---------------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.errors = ImportErrors()

    def add(self, where: str, message: str) -> None:
        self.errors.add(0, f"{where}: {message}")

    def text(self, obj: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
        """The stripped text at ``key`` ("" if absent and optional); None after an error."""
        value = obj.get(key)
        if value is None:
            if required:
                self.add(where, _('"%(key)s" is missing.') % {"key": key})
                return None
            return ""
        if not isinstance(value, str):
            self.add(
                where,
                _('"%(key)s" must be text, not %(type)s.')
                % {"key": key, "type": describe_type(value)},
            )
            return None
        return value.strip()

    def mapping(self, obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
        value = obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(
                where,
                _('"%(key)s" must be an object, not %(type)s.')
                % {"key": key, "type": describe_type(value)},
            )
            return None
        return value

    def date(self, obj: dict[str, Any], key: str, where: str) -> tuple[bool, date | None]:
        raw = self.text(obj, key, where, required=False)
        if raw is None:
            return False, None
        if not raw:
            return True, None
        try:
            if len(raw) != 10:
                raise ValueError
            return True, date.fromisoformat(raw)
        except ValueError:
            self.add(
                where,
                _('"%(key)s" must be a full date like 2024-05-23 (found "%(value)s").')
                % {"key": key, "value": raw[:20]},
            )
            return False, None

    def fields(self, model: type[models.Model], where: str, values: dict[str, Any]) -> bool:
        """Run the model fields' own validation on ``values``; add each problem."""
        ok = True
        for name, value in values.items():
            try:
                model._meta.get_field(name).clean(value, None)
            except ValidationError as exc:
                ok = False
                for message in exc.messages:
                    self.add(where, f"{_FIELD_LABELS.get(name, name)}: {message}")
        return ok


def _section(
    checker: _Checker, document: dict[str, Any], key: str
) -> list[tuple[int, dict[str, Any]]]:
    """The section's items that are objects (the others are reported)."""
    items = document.get(key, [])
    if items is None:
        return []
    if not isinstance(items, list):
        checker.add(key, _("must be a list, not %(type)s.") % {"type": describe_type(items)})
        return []
    out = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            out.append((index, item))
        else:
            checker.add(
                f"{key}[{index}]",
                _("must be an object, not %(type)s.") % {"type": describe_type(item)},
            )
    return out


def _validate(document: Any) -> _Plan:
    if not isinstance(document, dict) or not any(
        key in document for key in ("persons", "organizations", "memberships")
    ):
        raise ValidationError(
            _("The file is not Popolo JSON: it needs persons, organizations and memberships."),
            code="not_popolo",
        )
    checker = _Checker()
    plan = _Plan()
    ward_codes = set(Ward.objects.values_list("ons_code", flat=True))

    for index, area in _section(checker, document, "areas"):
        where = f"areas[{index}]"
        code = checker.text(area, "id", where, required=True)
        if code is not None and code not in ward_codes:
            checker.add(
                f"{where} ({code[:20]})",
                _("%(code)s is not an imported ward; import the ward boundaries first.")
                % {"code": code[:20]},
            )

    org_class: dict[str, str] = {}
    for index, org in _section(checker, document, "organizations"):
        _validate_org(checker, plan, org_class, index, org)
    _check_unique_names(checker, Party, plan.parties, _("party"))
    _check_unique_names(checker, Committee, plan.committees, _("committee"))

    post_areas: dict[str, str] = {}
    for index, post in _section(checker, document, "posts"):
        where = f"posts[{index}]"
        post_id = checker.text(post, "id", where, required=True)
        if post_id is None:
            continue
        where = f"posts[{index}] ({post_id[:40]})"
        if post_id in post_areas:
            checker.add(where, _("another post has the same id."))
            continue
        area = checker.text(post, "area_id", where, required=False)
        if area and area not in ward_codes:
            checker.add(
                where,
                _("area_id %(code)s is not an imported ward; import the ward boundaries first.")
                % {"code": area[:20]},
            )
        org_id = checker.text(post, "organization_id", where, required=False)
        if org_id and org_id not in org_class:
            checker.add(
                where,
                _("organization_id %(id)s is not among the organizations.") % {"id": org_id[:40]},
            )
        post_areas[post_id] = area or ""

    for index, person in _section(checker, document, "persons"):
        _validate_person(checker, plan, index, person)

    for index, membership in _section(checker, document, "memberships"):
        _validate_membership(checker, plan, org_class, post_areas, ward_codes, index, membership)

    checker.errors.raise_if_any()
    return plan


def _validate_org(
    checker: _Checker, plan: _Plan, org_class: dict[str, str], index: int, org: dict[str, Any]
) -> None:
    where = f"organizations[{index}]"
    org_id = checker.text(org, "id", where, required=True)
    if org_id is None:
        return
    where = f"organizations[{index}] ({org_id[:40]})"
    if org_id in org_class or org_id in plan.invalid_orgs:
        checker.add(where, _("another organization has the same id."))
        return
    classification = checker.text(org, "classification", where, required=True)
    if classification is None or classification not in _CLASSIFICATIONS:
        plan.invalid_orgs.add(org_id)
    if classification is None:
        return
    if classification not in _CLASSIFICATIONS:
        checker.add(
            where,
            _('"classification" must be one of %(allowed)s (found "%(value)s").')
            % {"allowed": ", ".join(_CLASSIFICATIONS), "value": classification[:40]},
        )
        return
    if classification in {"council", "executive"} and classification in org_class.values():
        checker.add(
            where, _("there can be only one %(kind)s organization.") % {"kind": classification}
        )
        return
    org_class[org_id] = classification
    name = checker.text(org, "name", where, required=True)
    extras = checker.mapping(org, "extras", where)
    if name is None or extras is None or classification in {"council", "executive"}:
        return
    if classification == "party":
        slug = org_id.removeprefix(PARTY_PREFIX)
        colour = extras.get("colour", Party._meta.get_field("colour").default)
        if not isinstance(colour, str):
            checker.add(
                where,
                _('"extras.colour" must be text, not %(type)s.') % {"type": describe_type(colour)},
            )
            return
        values = {"name": name, "colour": colour}
        if not checker.fields(Party, where, {"slug": slug, **values}):
            return
        target = plan.parties
    else:
        slug = org_id.removeprefix(COMMITTEE_PREFIX)
        description = checker.text(org, "description", where, required=False)
        if description is None:
            return
        values = {"name": name, "description": description}
        ok = checker.fields(Committee, where, {"slug": slug, "name": name})
        try:
            validate_no_control_characters(description)
        except ValidationError as exc:
            checker.add(where, f"description: {exc.messages[0]}")
            ok = False
        if len(description) > _DESCRIPTION_MAX:
            checker.add(
                where,
                _("description: Ensure this value has at most %(max)d characters (it has %(len)d).")
                % {"max": _DESCRIPTION_MAX, "len": len(description)},
            )
            ok = False
        if not ok:
            return
        target = plan.committees
    if any(other.slug == slug for other in target):
        checker.add(
            where,
            _("another %(kind)s has the slug %(slug)s.") % {"kind": classification, "slug": slug},
        )
        return
    target.append(_OrgIn(where, slug, values))


def _check_unique_names(
    checker: _Checker, model: type[Party] | type[Committee], incoming: list[_OrgIn], kind: str
) -> None:
    """Names are unique: check the file's names against each other and the rows it leaves."""
    final = dict(model.objects.values_list("slug", "name"))
    final.update({org.slug: org.values["name"] for org in incoming})
    slugs_by_name: dict[str, list[str]] = {}
    for slug, name in final.items():
        slugs_by_name.setdefault(name, []).append(slug)
    for org in incoming:
        others = [s for s in slugs_by_name[org.values["name"]] if s != org.slug]
        if others:
            checker.add(
                org.where,
                _('another %(kind)s (%(other)s) is already called "%(name)s".')
                % {"kind": kind, "other": others[0], "name": org.values["name"]},
            )


def _validate_person(checker: _Checker, plan: _Plan, index: int, person: dict[str, Any]) -> None:
    where = f"persons[{index}]"
    slug = checker.text(person, "id", where, required=True)
    if slug is None:
        return
    where = f"persons[{index}] ({slug[:40]})"
    if slug in plan.persons or slug in plan.invalid_persons:
        checker.add(where, _("another person has the same id."))
        return
    plan.invalid_persons.add(slug)  # until it proves valid
    name = checker.text(person, "name", where, required=True)
    email = checker.text(person, "email", where, required=False)
    extras = checker.mapping(person, "extras", where)
    if name is None or email is None or extras is None:
        return
    serving = extras.get("serving", True)
    if not isinstance(serving, bool):
        checker.add(
            where,
            _('"extras.serving" must be true or false, not %(type)s.')
            % {"type": describe_type(serving)},
        )
        return
    values: dict[str, Any] = {"name": name, "email": email, "is_active": serving}
    values.update(dict.fromkeys(CONTACT_FIELDS.values(), ""))
    contacts = person.get("contact_details") or []
    if not isinstance(contacts, list):
        checker.add(
            where,
            _('"contact_details" must be a list, not %(type)s.')
            % {"type": describe_type(contacts)},
        )
        return
    seen: set[str] = set()
    for n, contact in enumerate(contacts):
        here = f"{where} contact_details[{n}]"
        if not isinstance(contact, dict):
            checker.add(
                here, _("must be an object, not %(type)s.") % {"type": describe_type(contact)}
            )
            return
        kind = checker.text(contact, "type", here, required=True)
        value = checker.text(contact, "value", here, required=True)
        if kind is None or value is None:
            return
        field_name = _CONTACT_ALIASES.get(kind.lower())
        if field_name is None:
            continue  # a kind of contact Moot does not keep (fax, facebook, ...)
        if field_name in seen:
            checker.add(here, _("a second %(type)s contact; keep one.") % {"type": kind})
            return
        seen.add(field_name)
        values[field_name] = value
    if not checker.fields(Councillor, where, {"slug": slug, **values}):
        return
    plan.invalid_persons.discard(slug)
    plan.persons[slug] = _PersonIn(where, slug, values)


def _validate_membership(
    checker: _Checker,
    plan: _Plan,
    org_class: dict[str, str],
    post_areas: dict[str, str],
    ward_codes: set[str],
    index: int,
    membership: dict[str, Any],
) -> None:
    where = f"memberships[{index}]"
    person_id = checker.text(membership, "person_id", where, required=True)
    org_id = checker.text(membership, "organization_id", where, required=True)
    if person_id is None or org_id is None:
        return
    where = f"memberships[{index}] ({person_id[:40]} in {org_id[:40]})"
    if person_id in plan.invalid_persons or org_id in plan.invalid_orgs:
        return
    person = plan.persons.get(person_id)
    if person is None:
        checker.add(where, _("person_id %(id)s is not among the persons.") % {"id": person_id[:40]})
        return
    classification = org_class.get(org_id)
    if classification is None:
        checker.add(
            where,
            _("organization_id %(id)s is not among the organizations.") % {"id": org_id[:40]},
        )
        return
    if classification == "party":
        if person.party is not None:
            checker.add(where, _("a second party membership; a councillor has one party."))
            return
        person.party = org_id.removeprefix(PARTY_PREFIX)
    elif classification == "council":
        area = checker.text(membership, "area_id", where, required=False)
        post_id = checker.text(membership, "post_id", where, required=False)
        if area is None or post_id is None:
            return
        if post_id:
            if post_id not in post_areas:
                checker.add(
                    where, _("post_id %(id)s is not among the posts.") % {"id": post_id[:40]}
                )
                return
            if area and post_areas[post_id] and area != post_areas[post_id]:
                checker.add(
                    where,
                    _("area_id %(area)s does not match the post's area %(post_area)s.")
                    % {"area": area[:20], "post_area": post_areas[post_id]},
                )
                return
            area = area or post_areas[post_id]
        if not area:
            checker.add(where, _('a council membership needs an "area_id" (the ward).'))
            return
        if area not in ward_codes:
            checker.add(
                where,
                _("area_id %(code)s is not an imported ward; import the ward boundaries first.")
                % {"code": area[:20]},
            )
            return
        if area in person.wards:
            checker.add(where, _("a second membership for ward %(code)s.") % {"code": area})
            return
        person.wards.add(area)
    elif classification == "executive":
        portfolio = checker.text(membership, "label", where, required=True)
        if portfolio is None or not checker.fields(Councillor, where, {"portfolio": portfolio}):
            return
        if not portfolio:
            checker.add(where, _('"label" (the cabinet portfolio) is empty.'))
            return
        if person.portfolio:
            checker.add(where, _("a second cabinet membership; a councillor has one portfolio."))
            return
        person.portfolio = portfolio
    else:
        slug = org_id.removeprefix(COMMITTEE_PREFIX)
        raw_role = checker.text(membership, "role", where, required=False)
        ok_start, start = checker.date(membership, "start_date", where)
        ok_end, end = checker.date(membership, "end_date", where)
        if raw_role is None or not (ok_start and ok_end):
            return
        role = raw_role.lower().replace(" ", "-").replace("_", "-") or Membership.Role.MEMBER
        if role not in Membership.Role.values:
            checker.add(
                where,
                _('"role" must be one of %(allowed)s (found "%(value)s").')
                % {"allowed": ", ".join(Membership.Role.values), "value": raw_role[:40]},
            )
            return
        if start and end and end < start:
            checker.add(where, _("end_date is before start_date."))
            return
        if slug in person.committees:
            checker.add(where, _("a second membership of the same committee."))
            return
        person.committees[slug] = (role, start, end)


# --- Writing ------------------------------------------------------------------------------------


def _upsert_orgs(
    model: type[Party] | type[Committee], incoming: list[_OrgIn], kind: str, result: ImportResult
) -> dict[str, int]:
    """Create or update parties/committees by slug; return every slug's id.

    Updates go first, so a name another row gives up can be taken by a new row.
    """
    result.tally(kind, "created", 0)
    existing = {obj.slug: obj for obj in model.objects.all()}
    for org in incoming:
        obj = existing.get(org.slug)
        if obj is None:
            continue
        if any(getattr(obj, k) != v for k, v in org.values.items()):
            for k, v in org.values.items():
                setattr(obj, k, v)
            obj.save(update_fields=list(org.values))
            result.tally(kind, "updated")
        else:
            result.tally(kind, "unchanged")
    for org in incoming:
        if org.slug not in existing:
            existing[org.slug] = model.objects.create(slug=org.slug, **org.values)
            result.tally(kind, "created")
    return {slug: obj.pk for slug, obj in existing.items()}


def _upsert_persons(
    plan: _Plan, party_ids: dict[str, int], committee_ids: dict[str, int], result: ImportResult
) -> None:
    result.tally("councillors", "created", 0)
    result.tally("committee memberships", "created", 0)
    ward_ids = dict(Ward.objects.values_list("ons_code", "id"))
    existing = {
        c.slug: c
        for c in Councillor.objects.filter(slug__in=list(plan.persons)).prefetch_related(
            "wards", "memberships"
        )
    }
    for person in plan.persons.values():
        values = {
            **person.values,
            "portfolio": person.portfolio,
            "party_id": party_ids[person.party] if person.party else None,
        }
        wanted_wards = {ward_ids[code] for code in person.wards}
        councillor = existing.get(person.slug)
        if councillor is None:
            councillor = Councillor.objects.create(slug=person.slug, **values)
            councillor.wards.set(wanted_wards)
            current_memberships: dict[int, Membership] = {}
            result.tally("councillors", "created")
        else:
            changed = [k for k in _PERSON_FIELDS if getattr(councillor, k) != values[k]]
            for k in changed:
                setattr(councillor, k, values[k])
            if changed:
                councillor.save(update_fields=[k.removesuffix("_id") for k in changed])
            current_wards = {ward.pk for ward in councillor.wards.all()}
            if current_wards != wanted_wards:
                councillor.wards.remove(*(current_wards - wanted_wards))
                councillor.wards.add(*(wanted_wards - current_wards))
            current_memberships = {m.committee_id: m for m in councillor.memberships.all()}
            result.tally(
                "councillors",
                "updated" if changed or current_wards != wanted_wards else "unchanged",
            )
        _sync_memberships(councillor, person, committee_ids, current_memberships, result)


def _sync_memberships(
    councillor: Councillor,
    person: _PersonIn,
    committee_ids: dict[str, int],
    current: dict[int, Membership],
    result: ImportResult,
) -> None:
    kind = "committee memberships"
    wanted = {committee_ids[slug]: spec for slug, spec in person.committees.items()}
    stale = [m.pk for committee_id, m in current.items() if committee_id not in wanted]
    if stale:
        Membership.objects.filter(pk__in=stale).delete()
        result.tally(kind, "deleted", len(stale))
    for committee_id, (role, start, end) in wanted.items():
        membership = current.get(committee_id)
        if membership is None:
            Membership.objects.create(
                councillor=councillor,
                committee_id=committee_id,
                role=role,
                start_date=start,
                end_date=end,
            )
            result.tally(kind, "created")
        elif (membership.role, membership.start_date, membership.end_date) != (role, start, end):
            membership.role, membership.start_date, membership.end_date = role, start, end
            membership.save(update_fields=["role", "start_date", "end_date"])
            result.tally(kind, "updated")
        else:
            result.tally(kind, "unchanged")


def councillor_link_user(
    *, councillor: Councillor, user: Any | None, actor: Any | None = None
) -> Councillor:
    """Link (or, with ``user=None``, unlink) the councillor's sign-in account. Idempotent:
    linking the account already linked changes nothing and records nothing."""
    if councillor.user_id == (user.pk if user is not None else None):
        return councillor
    with transaction.atomic():
        if user is not None:
            other = Councillor.objects.filter(user=user).exclude(pk=councillor.pk).first()
            if other is not None:
                raise ValidationError(
                    _("That account is already linked to %(name)s.") % {"name": other.name},
                    code="already_linked",
                )
        before = councillor.user.email if councillor.user is not None else None
        councillor.user = user
        councillor.save(update_fields=["user"])
        audit_record(
            actor=actor,
            action="councillor.link_user",
            target=councillor,
            changes={"user": [before, user.email if user is not None else None]},
        )
    return councillor
