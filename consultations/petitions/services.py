"""Every write to petitions: create, confirm, sponsor, moderate, sign, count, respond, invalidate.

Signing is the busy path. A signature is stored pending and counts only when its emailed link is
clicked (:func:`signature_confirm`), which adds one to the petition's counter with an atomic
update and pushes the new count live (coalesced). Anti-fraud follows e-petitions: over the per-IP
limits, or from a blocked address or domain, a signature is quietly stored as fraudulent and
never counted, and its signer gets the same email as anyone else, so a script learns nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from consultations.models import (
    BlockRule,
    Petition,
    PetitionScheme,
    PetitionTally,
    RejectionReason,
    Signature,
)
from engagement.audit.services import audit_record
from engagement.core.memo import memo
from engagement.core.sql import insert_parts, mark_saved
from engagement.places.selectors import postcode_lookup
from engagement.realtime.services import publish_soon
from engagement.tasks import drain_started, enqueue, enqueue_drain

from .emails import email_domain, normalise_email

logger = logging.getLogger(__name__)

LINK_GRACE = timedelta(hours=24)
"""Confirmation links keep working this long after a petition closes."""


class PetitionError(ValueError):
    """A request that cannot be taken; the message says why and nothing was stored."""


@memo(seconds=5)
def scheme() -> PetitionScheme:
    """The scheme (kept five seconds per process: every signature reads its limits)."""
    return PetitionScheme.objects.order_by("pk").first() or PetitionScheme()


def _token_hash(token: str) -> str:
    key = f"moot.petitions.token:{settings.SECRET_KEY}".encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def _link_token(nonce: str) -> str:
    """A signature's confirmation link token, made from its random ``link_nonce``."""
    key = f"moot.petitions.link:{settings.SECRET_KEY}".encode()
    digest = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


@dataclass(frozen=True)
class Signer:
    name: str
    email: str
    postcode: str
    connection: str = Signature.Connection.LIVES
    notify: bool = False
    ip: str | None = None


def _clean_signer(signer: Signer) -> tuple[str, str, Any]:
    """``(normalised email, canonical postcode, ward)`` or ValidationError naming the field."""
    errors: dict[str, str] = {}
    name = signer.name.strip()
    if not name:
        errors["name"] = _("Enter your name.")
    elif len(name) > 100:
        errors["name"] = _("Your name must be 100 characters or fewer.")
    elif any(ch in name for ch in "<>&") or not name.isprintable():
        errors["name"] = _("Enter your name without symbols like < or >.")
    try:
        validate_email(signer.email.strip())
    except ValidationError:
        errors["email"] = _("Enter an email address like name@example.com.")
    postcode = ward = None
    try:
        found = postcode_lookup(signer.postcode)
        postcode, ward = found.postcode, found.ward
    except ValidationError as exc:
        errors["postcode"] = exc.messages[0]
    if signer.connection not in Signature.Connection.values:
        errors["connection"] = _("Choose how you are connected to the area.")
    if errors:
        raise ValidationError(errors)
    return normalise_email(signer.email), postcode, ward


def _new_signature(signer: Signer, *, email: str, **fields: Any) -> Signature:
    """A signature to store, its email (``email``: "sign" or "creator") queued with it."""
    normalised, postcode, ward = _clean_signer(signer)
    nonce = secrets.token_urlsafe(24)
    return Signature(
        name=signer.name.strip(),
        email=signer.email.strip(),
        normalised_email=normalised,
        postcode=postcode,
        ward=ward,
        connection=signer.connection,
        notify=signer.notify,
        link_nonce=nonce,
        token_hash=_token_hash(_link_token(nonce)),
        email_due=email,
        ip_address=signer.ip,
        **fields,
    )


def _emails_soon() -> None:
    """Have the confirmation emails due sent (after commit; one queued job drains them all)."""
    from .tasks import send_signature_emails

    enqueue_drain(send_signature_emails)


def signature_emails_send(*, batch: int = 100) -> int:
    """Send every confirmation email due, oldest first; the number sent.

    Safe to run in several workers at once (each takes rows the others have not locked) and to
    retry: a row is marked sent in the transaction that locked it, after its email went. An
    address the mail server refuses outright is logged and not tried again (it would hold up
    the queue for ever); any other failure (the server is down) stops the run with the rest
    still due, and raises so that the job is retried.
    """
    from . import emails_out
    from .tasks import send_signature_emails

    drain_started(send_signature_emails)
    sent = 0
    while True:
        failure: Exception | None = None
        with transaction.atomic():
            due = list(
                Signature.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("petition")
                .exclude(email_due="")
                .order_by("pk")[:batch]
            )
            done = []
            for signature in due:
                try:
                    if signature.anonymised_at is None and signature.link_nonce:
                        emails_out.signature_email(
                            signature,
                            token=_link_token(signature.link_nonce),
                            kind=signature.email_due,
                        )
                        sent += 1
                except smtplib.SMTPRecipientsRefused:
                    logger.warning(
                        "Petition signature %s: the mail server refused its address",
                        signature.pk,
                    )
                except Exception as exc:  # noqa: BLE001 - the sent ones are marked, then re-raised
                    failure = exc
                    break
                done.append(signature.pk)
            if done:
                Signature.objects.filter(pk__in=done).update(email_due="")
        if failure is not None:
            raise failure
        if len(due) < batch:
            return sent


# --- creating and sponsoring ------------------------------------------------------------------


def petition_create(
    *, action: str, background: str, details: str, signer: Signer, user: Any = None
) -> Petition:
    """A new petition, waiting for its creator to confirm their email address."""
    petition = Petition(
        action=action.strip(),
        background=background.strip(),
        details=details.strip(),
        creator=user if getattr(user, "is_authenticated", False) else None,
        sponsor_token=secrets.token_urlsafe(16)[:32],
    )
    errors: dict[str, list[str]] = {}
    try:
        petition.full_clean(exclude=["sponsor_token"])
    except ValidationError as exc:
        errors |= exc.message_dict
    try:
        signature = _new_signature(signer, email="creator", petition=petition, creator=True)
    except ValidationError as exc:
        errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        petition.save()
        signature.petition = petition
        signature.save()
        _emails_soon()
    return petition


def sponsor_sign(*, petition: Petition, signer: Signer) -> Signature | None:
    """A sponsor's signature (counted like any other once the petition opens)."""
    if petition.state not in (Petition.State.VALIDATED, Petition.State.SPONSORED):
        raise PetitionError(_("This petition is not gathering sponsors."))
    return _sign(petition.pk, signer, sponsor=True)


# --- signing --------------------------------------------------------------------------------


@memo(seconds=5)
def _rules() -> dict[tuple[str, str], str]:
    """Every block and allow rule as ``{(kind, value): action}``, kept five seconds per process
    (a new rule applies everywhere within that)."""
    return {
        (kind, value): action
        for kind, value, action in BlockRule.objects.values_list("kind", "value", "action")
    }


def _listed(kind: str, value: str | None, action: str) -> bool:
    return bool(value) and _rules().get((kind, value or "")) == action


def _looks_fraudulent(petition_id: int, signer: Signer, rules: PetitionScheme) -> bool:
    """Blocked, or over a per-IP rate limit for this petition (allow-listed IPs are exempt)."""
    from engagement.core import ratelimit

    domain = email_domain(signer.email)
    if (
        _listed("ip", signer.ip, "block")
        or _listed("domain", domain, "block")
        or _listed("email", normalise_email(signer.email), "block")
    ):
        return True
    if not signer.ip or _listed("ip", signer.ip, "allow"):
        return False
    short = ratelimit.hit(
        f"petition-{petition_id}-60", signer.ip, limit=rules.ip_short_limit, window=60
    )
    long = ratelimit.hit(
        f"petition-{petition_id}-300", signer.ip, limit=rules.ip_long_limit, window=300
    )
    return not (short and long)


def signature_create(*, petition: Petition | int, signer: Signer) -> Signature | None:
    """Sign an open petition. Returns the new pending signature, or None when this person has
    signed already (the caller shows the same neutral message either way: whether an address
    has signed is nobody else's business).

    ``petition``: the petition, or only its id (the busy path: on PostgreSQL the insert itself
    checks that the petition is open, so nothing is read first)."""
    if isinstance(petition, Petition) and not _open_for_signing(petition):
        raise PetitionError(_("This petition is not open for signatures."))
    petition_id = petition.pk if isinstance(petition, Petition) else petition
    signature = _sign(petition_id, signer, open_only=True)
    if signature is None:  # signed already, or (given an id) the petition is not open
        found = Petition.objects.filter(pk=petition_id).only("state", "closes_at").first()
        if found is None or not _open_for_signing(found):
            raise PetitionError(_("This petition is not open for signatures."))
    return signature


def _open_for_signing(petition: Petition, now: Any = None) -> bool:
    return petition.state == Petition.State.OPEN and (
        petition.closes_at is None or petition.closes_at > (now or timezone.now())
    )


# The signature goes in only if its petition is open, checked by the same statement. On a
# conflict (this person has signed already: one signature per normalised email) nothing is stored
# and no id comes back.
_INSERT_IF_OPEN = """
    INSERT INTO {table} ({columns}) SELECT {typed_marks}
    WHERE EXISTS (
        SELECT 1 FROM {petition} p
        WHERE p.id = %s AND p.state = %s AND (p.closes_at IS NULL OR p.closes_at > %s)
    )
    ON CONFLICT DO NOTHING RETURNING {pk}
"""


def _sign(
    petition_id: int, signer: Signer, *, open_only: bool = False, **flags: Any
) -> Signature | None:
    """Store a pending signature and queue its email; None if nothing was stored (signed
    already, or, with ``open_only``, the petition is not open)."""
    signature = _new_signature(signer, email="sign", petition_id=petition_id, **flags)
    if _looks_fraudulent(petition_id, signer, scheme()):
        signature.state = Signature.State.FRAUDULENT
    if connection.vendor == "postgresql":
        parts = insert_parts(signature, with_pk=False)
        params = list(parts.values)
        if open_only:
            sql = _INSERT_IF_OPEN.format(
                table=parts.table,
                columns=parts.columns,
                typed_marks=parts.typed_marks,
                petition=connection.ops.quote_name(Petition._meta.db_table),
                pk=parts.pk_column,
            )
            params += [petition_id, Petition.State.OPEN, timezone.now()]
        else:
            sql = (
                f"INSERT INTO {parts.table} ({parts.columns}) VALUES ({parts.marks}) "  # noqa: S608
                f"ON CONFLICT DO NOTHING RETURNING {parts.pk_column}"
            )
        # In autocommit (unless a caller holds a transaction): one statement, one commit, and
        # the email is queued straight after it.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        mark_saved(signature, row[0])
        _emails_soon()
        return signature
    # SQLite (the demo: one writer at a time): look, then insert.
    if open_only:
        found = Petition.objects.filter(pk=petition_id).only("state", "closes_at").first()
        if found is None or not _open_for_signing(found):
            return None
    try:
        with transaction.atomic():
            signature.save()
            _emails_soon()
    except IntegrityError:
        return None  # signed already (one per normalised email): nothing stored twice
    return signature


def signature_confirm(*, token: str, now: Any = None) -> Signature:
    """Confirm a signature by its emailed link. Idempotent: a second click changes nothing.

    Raises PetitionError for an unknown (or tampered) link, or one more than 24 hours after the
    petition closed. Confirming the creator's signature sends the petition to its sponsors;
    enough confirmed sponsors send it to moderation; an open petition's signature is counted.
    """
    now = now or timezone.now()
    token_hash = _token_hash(token)
    if connection.vendor == "postgresql":
        # The busy path: a pending signature on a petition still counting is found, validated
        # and counted by one statement. Anything else (a second click, a creator or sponsor
        # before the petition opens, a dead link) takes the path below, which reads first.
        counted = _confirm_and_count(now, token_hash=token_hash)
        if counted is not None:
            return counted
    signature = Signature.objects.select_related("petition").filter(token_hash=token_hash).first()
    if signature is None:
        raise PetitionError(_("That link is not valid. Check it is the whole link from the email."))
    petition = signature.petition
    if petition.closes_at is not None and now > petition.closes_at + LINK_GRACE:
        raise PetitionError(_("This petition has closed, so the link no longer works."))
    if signature.state != Signature.State.PENDING:
        return signature  # already counted, or quietly never to be (fraud): same answer
    if petition.state in (Petition.State.OPEN, Petition.State.CLOSED):
        if _confirm_and_count(now, signature_id=signature.pk) is None:
            # a concurrent click counted it, or the petition stopped counting meanwhile
            signature.refresh_from_db(fields=["state", "validated_at"])
        else:
            signature.state, signature.validated_at = Signature.State.VALIDATED, now
        return signature
    with transaction.atomic():
        validated = Signature.objects.filter(pk=signature.pk, state=Signature.State.PENDING).update(
            state=Signature.State.VALIDATED, validated_at=now
        )
        if not validated:
            return signature  # confirmed by a concurrent click
        signature.state, signature.validated_at = Signature.State.VALIDATED, now
        petition = Petition.objects.select_for_update().get(pk=petition.pk)
        if signature.creator and petition.state == Petition.State.PENDING:
            Petition.objects.filter(pk=petition.pk).update(state=Petition.State.VALIDATED)
        elif signature.sponsor and petition.state == Petition.State.VALIDATED:
            sponsors = petition.signatures.filter(
                sponsor=True, state=Signature.State.VALIDATED
            ).count()
            if sponsors >= scheme().sponsors_needed:
                Petition.objects.filter(pk=petition.pk).update(state=Petition.State.SPONSORED)
    return signature


# Validate a pending signature and count it in one statement, committed on its own. The count
# goes to one of the petition's tally shards (by the signature's id), not to the petition's row:
# every confirmation used to update that one row, and each waited for the one before it to
# commit. The petition's ``signature_count`` is the shards' sum, folded in by the count's tick
# job (:func:`petition_count_fold`). ``state = pending`` makes a concurrent second click count
# nothing; a petition no longer open or in its grace period counts nothing (the signature stays
# pending). The signature is picked by id or by its link's hash. A data-modifying WITH runs to
# completion whether or not the main query reads it. SQLite (the demo: one writer at a time
# anyway) runs the same statements one by one in a transaction.
_VALIDATE = """
    UPDATE {signature} SET state = %(validated)s, validated_at = %(now)s
    WHERE {which} AND state = %(pending)s
      AND EXISTS (
          SELECT 1 FROM {petition} p
          WHERE p.id = {signature}.petition_id
            AND (p.state = %(open)s OR p.state = %(closed)s)
            AND (p.closes_at IS NULL OR p.closes_at >= %(grace)s)
      )
"""
_TALLY = """
    INSERT INTO {tally} (petition_id, shard, confirmed) {rows}
    ON CONFLICT (petition_id, shard)
    DO UPDATE SET confirmed = {tally}.confirmed + EXCLUDED.confirmed
"""
_CONFIRM_AND_COUNT_PG = (
    "WITH confirmed AS ("  # noqa: S608 - our tables and columns; every value is a parameter
    + _VALIDATE
    + " RETURNING {signature_columns}), counted AS ("
    + _TALLY.replace("{rows}", "SELECT petition_id, id %% {shards}, 1 FROM confirmed")
    + ") SELECT {returning} FROM confirmed JOIN {petition} ON {petition}.id = confirmed.petition_id"
)


def _in_model_order(model: type[Model], names: set[str]) -> tuple[str, ...]:
    """Column names in the model's field order, as ``Model.from_db`` takes its values."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


# What the confirmation page needs back, so nothing is read again.
_SIGNATURE_BACK = _in_model_order(
    Signature, {"id", "petition_id", "creator", "sponsor", "state", "validated_at"}
)
_PETITION_BACK = _in_model_order(Petition, {"id", "signature_count", "sponsor_token"})


def _tables() -> dict[str, Any]:
    quote = connection.ops.quote_name
    return {
        "signature": quote(Signature._meta.db_table),
        "petition": quote(Petition._meta.db_table),
        "tally": quote(PetitionTally._meta.db_table),
        "shards": PetitionTally.SHARDS,
    }


def _tally_add(petition_id: int, shard: int, amount: int) -> None:
    """Add ``amount`` (negative to take off) to one shard of a petition's count."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TALLY.format(rows="VALUES (%s, %s, %s)", **_tables()),
            [petition_id, shard, amount],
        )


def _confirm_and_count(
    now: Any, *, signature_id: int | None = None, token_hash: str | None = None
) -> Signature | None:
    """Validate and count the pending signature (by id or link hash) if its petition still
    counts; the signature, with its petition attached, or None if nothing was counted."""
    tables = _tables()
    tables |= {
        "which": "id = %(signature_id)s" if token_hash is None else "token_hash = %(token_hash)s",
        "signature_columns": ", ".join(_SIGNATURE_BACK),
        "returning": ", ".join(
            [f"{tables['petition']}.{c}" for c in _PETITION_BACK]
            + [f"confirmed.{c}" for c in _SIGNATURE_BACK]
        ),
    }
    params = {
        "validated": Signature.State.VALIDATED,
        "pending": Signature.State.PENDING,
        "open": Petition.State.OPEN,
        "closed": Petition.State.CLOSED,
        "now": now,
        "grace": now - LINK_GRACE,
        "signature_id": signature_id,
        "token_hash": token_hash,
    }
    if connection.vendor == "postgresql":
        # In autocommit (unless a caller holds a transaction): one statement, one commit.
        with connection.cursor() as cursor:
            cursor.execute(_CONFIRM_AND_COUNT_PG.format(**tables), params)
            row = cursor.fetchone()
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _VALIDATE.format(**tables) + " RETURNING " + tables["signature_columns"], params
            )
            confirmed = cursor.fetchone()
            row = None
            if confirmed is not None:
                signature_pk, petition_pk = confirmed[0], confirmed[1]
                _tally_add(petition_pk, signature_pk % PetitionTally.SHARDS, 1)
                columns = ", ".join(_PETITION_BACK)
                cursor.execute(
                    f"SELECT {columns} FROM {tables['petition']} WHERE id = %s",  # noqa: S608
                    [petition_pk],
                )
                row = (*cursor.fetchone(), *confirmed)
    if row is None:
        return None
    petition = Petition.from_db(connection.alias, _PETITION_BACK, row[: len(_PETITION_BACK)])
    signature = Signature.from_db(connection.alias, _SIGNATURE_BACK, row[len(_PETITION_BACK) :])
    signature.petition = petition
    publish_soon(stream=f"petition.{petition.pk}")
    return signature


def petition_count_fold(petition_id: int, *, now: Any = None) -> Petition:
    """Bring ``Petition.signature_count`` up to the sum of its tally shards and act on the
    thresholds the count reaches; the petition, with the count and threshold times read.

    Run by the count's tick job before it publishes (so the count shown live, in lists and in the
    JSON is at most a tick behind the confirmations). Folds are serialised on the petition's row,
    each summing after it holds the lock, so a slower fold never writes an older sum over a newer
    one."""
    now = now or timezone.now()
    with transaction.atomic():
        petition = (
            Petition.objects.select_for_update()
            .only("signature_count", "paper_count", "response_threshold_at", "debate_threshold_at")
            .get(pk=petition_id)
        )
        total = (
            PetitionTally.objects.filter(petition_id=petition_id).aggregate(n=Sum("confirmed"))["n"]
            or 0
        )
        if total != petition.signature_count:
            Petition.objects.filter(pk=petition_id).update(signature_count=total)
            petition.signature_count = total
    _thresholds(petition, total, now)
    return petition


def _thresholds(petition: Petition, count: int, now: Any) -> None:
    """Record (once: the ``IS NULL`` guard picks one winner) each threshold ``count`` reaches and
    queue its emails. A threshold the petition had already reached when it was read costs no
    query."""
    rules = scheme()
    for field, threshold in (
        ("response_threshold_at", rules.response_threshold),
        ("debate_threshold_at", rules.debate_threshold),
    ):
        if count >= threshold and getattr(petition, field) is None:
            reached = Petition.objects.filter(pk=petition.pk, **{f"{field}__isnull": True}).update(
                **{field: now}
            )
            if reached:
                from .tasks import petition_threshold_reached

                enqueue(petition_threshold_reached, petition.pk, field)


# --- moderation and the council's answer ---------------------------------------------------


def petition_moderate(
    *,
    petition: Petition,
    actor: Any,
    decision: str,
    reason: RejectionReason | None = None,
    details: str = "",
    now: Any = None,
) -> Petition:
    """``approve`` (opens it for ``open_months``), ``reject`` (with a reason) or ``changes``."""
    now = now or timezone.now()
    if petition.state not in (
        Petition.State.SPONSORED,
        Petition.State.CHANGES,
        Petition.State.VALIDATED,
    ):
        raise PetitionError(_("Only a petition waiting for moderation can be moderated."))
    before = petition.state
    if decision == "approve":
        if petition.state == Petition.State.VALIDATED:
            raise PetitionError(_("This petition does not have enough sponsors yet."))
        months = scheme().open_months
        petition.state = Petition.State.OPEN
        petition.opened_at = now
        petition.closes_at = now + timedelta(days=round(months * 30.44))
        # Sponsors' confirmed signatures count from the opening.
        petition.signature_count = petition.signatures.filter(
            state=Signature.State.VALIDATED
        ).count()
    elif decision == "reject":
        if reason is None:
            raise PetitionError(_("Choose a reason for rejecting the petition."))
        petition.state = Petition.State.REJECTED
        petition.rejection = reason
        petition.rejection_details = details.strip()
    elif decision == "changes":
        if not details.strip():
            raise PetitionError(_("Say what needs to change."))
        petition.state = Petition.State.CHANGES
        petition.moderation_note = details.strip()
    else:
        raise PetitionError(_("Unknown decision."))
    petition.moderated_at = now
    with transaction.atomic():
        petition.save()
        if decision == "approve":
            # The tally starts from the sponsors' count (nothing is counted before opening).
            PetitionTally.objects.update_or_create(
                petition=petition, shard=0, defaults={"confirmed": petition.signature_count}
            )
        audit_record(
            actor=actor,
            action=f"petition.{decision}",
            target=petition,
            changes={"state": [before, petition.state], "reason": reason.code if reason else ""},
        )
        creator = petition.signatures.filter(creator=True).first()
        if creator is not None:
            token = ""
            if decision == "changes":
                # A fresh link for the creator to edit the petition (the old one confirmed it).
                token = secrets.token_urlsafe(24)
                Signature.objects.filter(pk=creator.pk).update(token_hash=_token_hash(token))
            from .tasks import moderation_email

            enqueue(moderation_email, petition.pk, decision, token)
    return petition


def petition_to_change(token: str) -> Petition:
    """The petition the creator's edit link is for, while moderation waits for its changes."""
    creator = (
        Signature.objects.select_related("petition")
        .filter(token_hash=_token_hash(token), creator=True)
        .first()
    )
    if creator is None or creator.petition.state != Petition.State.CHANGES:
        raise PetitionError(_("That link is not valid, or the petition cannot be changed now."))
    return creator.petition


def petition_edit(*, token: str, action: str, background: str, details: str) -> Petition:
    """The creator's changes after moderation asked for them. It goes back to moderation if it
    has its sponsors, and back to gathering them if not (moderation can ask for changes before
    a petition has enough: they are still needed before it can open)."""
    petition = petition_to_change(token)
    petition.action, petition.background, petition.details = (
        action.strip(),
        background.strip(),
        details.strip(),
    )
    petition.full_clean(exclude=["sponsor_token"])
    sponsors = petition.signatures.filter(sponsor=True, state=Signature.State.VALIDATED).count()
    petition.state = (
        Petition.State.SPONSORED
        if sponsors >= scheme().sponsors_needed
        else Petition.State.VALIDATED
    )
    petition.save(update_fields=["action", "background", "details", "state"])
    return petition


def similar_petitions(text: str, *, limit: int = 5) -> list[Petition]:
    """Open petitions sharing words with ``text`` (what a creator is typing), most signed first."""
    from django.db.models import Q

    words = [
        w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if len(w) > 3
    ]
    if not words:
        return []
    match = Q()
    for word in words[:8]:
        match |= Q(action__icontains=word) | Q(background__icontains=word)
    return list(
        Petition.objects.filter(match, state=Petition.State.OPEN).order_by("-signature_count")[
            :limit
        ]
    )


def signatures_invalidate(
    *,
    petition: Petition,
    actor: Any,
    ip: str = "",
    domain: str = "",
    since: Any = None,
    until: Any = None,
    preview: bool = False,
) -> int:
    """Remove signatures matching a query (IP, email domain, time window); ``preview`` counts
    them without changing anything. Counted ones come off the petition's count."""
    if not (ip or domain or since or until):
        raise PetitionError(_("Give at least an IP address, an email domain or a time window."))
    rows = Signature.objects.filter(petition=petition).exclude(state=Signature.State.INVALIDATED)
    if ip:
        rows = rows.filter(ip_address=ip)
    if domain:
        rows = rows.filter(
            normalised_email__endswith="@" + domain.strip().lower().removeprefix("@")
        )
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    if preview:
        return rows.count()
    with transaction.atomic():
        counted = rows.filter(state=Signature.State.VALIDATED).count()
        changed = rows.update(state=Signature.State.INVALIDATED)
        if counted and petition.state in (Petition.State.OPEN, Petition.State.CLOSED):
            _tally_add(petition.pk, 0, -counted)
        audit_record(
            actor=actor,
            action="petition.invalidate",
            target=petition,
            changes={
                "ip": ip,
                "domain": domain,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "signatures": changed,
                "counted": counted,
            },
        )
        publish_soon(stream=f"petition.{petition.pk}")
    return changed


# --- the council's answer, debates, paper petitions ------------------------------------------


def petition_respond(
    *, petition: Petition, actor: Any, response: str, response_cy: str = "", now: Any = None
) -> Petition:
    """Publish the council's response; signers who asked to hear are emailed (a job)."""
    if petition.state not in (Petition.State.OPEN, Petition.State.CLOSED):
        raise PetitionError(_("Only an open or closed petition can have a response."))
    if not response.strip():
        raise PetitionError(_("Write the response."))
    first = not petition.response
    petition.response = response.strip()
    petition.response_cy = response_cy.strip()
    petition.responded_at = now or timezone.now()
    with transaction.atomic():
        petition.save(update_fields=["response", "response_cy", "responded_at"])
        audit_record(actor=actor, action="petition.respond", target=petition)
        if first:
            from .tasks import petition_update_emails

            enqueue(petition_update_emails, petition.pk, "response")
    return petition


def petition_debate(
    *, petition: Petition, actor: Any, debate_at: Any, details: str = "", url: str = ""
) -> Petition:
    """Schedule (or record) the debate: its date, details and a link (the meeting's agenda item
    or, afterwards, the moment in the recording)."""
    if petition.state not in (Petition.State.OPEN, Petition.State.CLOSED):
        raise PetitionError(_("Only an open or closed petition can be debated."))
    petition.debate_at, petition.debate_details, petition.debate_url = (
        debate_at,
        details.strip(),
        url,
    )
    petition.full_clean(exclude=["sponsor_token"])
    with transaction.atomic():
        petition.save(update_fields=["debate_at", "debate_details", "debate_url"])
        audit_record(
            actor=actor,
            action="petition.debate",
            target=petition,
            changes={"debate_at": debate_at.isoformat() if debate_at else None},
        )
    return petition


def petition_archive(*, petition: Petition, actor: Any, now: Any = None) -> Petition:
    """Archive a closed or rejected petition once the council has finished with it: it stays
    public, read-only, under "Archived". The retention job archives closed petitions itself."""
    if petition.state not in (Petition.State.CLOSED, Petition.State.REJECTED):
        raise PetitionError(_("Only a closed or rejected petition can be archived."))
    now = now or timezone.now()
    with transaction.atomic():
        archived = Petition.objects.filter(pk=petition.pk, state=petition.state).update(
            state=Petition.State.ARCHIVED, archived_at=now
        )
        if not archived:
            raise PetitionError(_("This petition changed meanwhile: reload the page."))
        audit_record(
            actor=actor,
            action="petition.archive",
            target=petition,
            changes={"state": [petition.state, Petition.State.ARCHIVED]},
        )
    petition.state, petition.archived_at = Petition.State.ARCHIVED, now
    return petition


def petition_paper(*, petition: Petition, actor: Any, count: int, scan: Any = None) -> Petition:
    """Record a paper petition's signatures (shown apart from online ones) and its scan."""
    if count < 0 or count > 10_000_000:
        raise PetitionError(_("Enter the number of paper signatures."))
    before = petition.paper_count
    petition.paper_count = count
    fields = ["paper_count"]
    if scan:
        petition.paper_scan = scan
        fields.append("paper_scan")
    with transaction.atomic():
        petition.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="petition.paper",
            target=petition,
            changes={"paper": [before, count]},
        )
        publish_soon(stream=f"petition.{petition.pk}")
    return petition


# --- scheduled jobs ----------------------------------------------------------------------------


def petitions_close_due(*, now: Any = None) -> int:
    """Close open petitions whose time is up (links still confirm for 24 hours after)."""
    now = now or timezone.now()
    return Petition.objects.filter(state=Petition.State.OPEN, closes_at__lte=now).update(
        state=Petition.State.CLOSED, closed_at=now
    )


def signers_anonymise_due(*, now: Any = None) -> int:
    """Anonymise the signers of petitions closed longer ago than the scheme's retention. The
    counts, wards and states stay; names, emails, postcodes and addresses go."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=round(scheme().retention_months * 30.44))
    rows = Signature.objects.filter(
        anonymised_at__isnull=True,
        petition__state__in=[
            Petition.State.CLOSED,
            Petition.State.REJECTED,
            Petition.State.ARCHIVED,
        ],
        petition__closed_at__lt=cutoff,
    ) | Signature.objects.filter(
        anonymised_at__isnull=True,
        petition__state=Petition.State.REJECTED,
        petition__moderated_at__lt=cutoff,
    )
    count = 0
    for signature in rows.distinct().iterator():
        Signature.objects.filter(pk=signature.pk).update(
            name="",
            email="",
            normalised_email=f"anonymised-{signature.pk}",
            postcode="",
            ip_address=None,
            anonymised_at=now,
        )
        count += 1
    # Past its retention a closed petition is finished with: it moves to the archive.
    for petition in Petition.objects.filter(state=Petition.State.CLOSED, closed_at__lt=cutoff):
        petition_archive(petition=petition, actor=None, now=now)
    return count


@dataclass(frozen=True)
class Suspicion:
    petition_id: int
    kind: str
    value: str
    signatures: int


def suspicious_activity(
    *, since: Any, ip_threshold: int = 20, domain_threshold: int = 50
) -> list[Suspicion]:
    """IP addresses and email domains signing one petition heavily since ``since``."""
    from django.db.models import Count

    found: list[Suspicion] = []
    recent = Signature.objects.filter(created_at__gte=since).exclude(
        state=Signature.State.INVALIDATED
    )
    for row in (
        recent.exclude(ip_address=None)
        .values("petition_id", "ip_address")
        .annotate(n=Count("pk"))
        .filter(n__gte=ip_threshold)
    ):
        found.append(Suspicion(row["petition_id"], "ip", row["ip_address"], row["n"]))
    domains: dict[tuple[int, str], int] = {}
    for petition_id, email in recent.values_list("petition_id", "normalised_email").iterator():
        key = (petition_id, email.rpartition("@")[2])
        domains[key] = domains.get(key, 0) + 1
    common = {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "yahoo.com",
        "yahoo.co.uk",
        "icloud.com",
        "btinternet.com",
    }
    for (petition_id, domain), n in domains.items():
        if n >= domain_threshold and domain not in common:
            found.append(Suspicion(petition_id, "domain", domain, n))
    return found


def block_rule_value(kind: str, value: str) -> str:
    """``value`` as a rule of ``kind`` stores and matches it, or PetitionError saying what is
    wrong: a rule matches exactly, so a range or a pattern would never match anything."""
    value = value.strip().lower()
    if kind == BlockRule.Kind.IP:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise PetitionError(
                _("Enter one IP address, like 203.0.113.7 (ranges are not supported).")
            ) from None
    if kind == BlockRule.Kind.DOMAIN:
        value = value.removeprefix("@")
        if not _DOMAIN.fullmatch(value):
            raise PetitionError(_("Enter an email domain, like example.org."))
        return value
    try:
        validate_email(value)
    except ValidationError:
        raise PetitionError(_("Enter an email address like name@example.com.")) from None
    return normalise_email(value)


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


def block_rule_add(*, actor: Any, kind: str, value: str, action: str, note: str = "") -> BlockRule:
    if kind not in BlockRule.Kind.values or action not in BlockRule.Action.values or not value:
        raise PetitionError(_("Choose what to match and enter a value."))
    value = block_rule_value(kind, value)
    rule = BlockRule(kind=kind, value=value, action=action, note=note.strip(), created_by=actor)
    try:
        rule.full_clean()
    except ValidationError as exc:
        raise PetitionError(exc.messages[0]) from None
    with transaction.atomic():
        rule.save()
        audit_record(actor=actor, action="petition_block_rule.add", target=rule)
    block_rules_changed()
    return rule


def block_rule_remove(*, actor: Any, rule: BlockRule) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="petition_block_rule.remove",
            target=rule,
            changes={"kind": rule.kind, "value": rule.value, "action": rule.action},
        )
        rule.delete()
    block_rules_changed()


def block_rules_changed() -> None:
    """After a rule is added, changed or removed: this process sees it at once, the others
    within five seconds (:func:`_rules`)."""
    _rules.forget()


# --- personal data -------------------------------------------------------------------------------


def _signatures_of(user: Any):
    return Signature.objects.filter(
        normalised_email=normalise_email(user.email), anonymised_at__isnull=True
    ).select_related("petition")


def petitions_export(user: Any) -> dict[str, Any]:
    """The signatures made with the account's email address, and the petitions it started."""
    return {
        "signatures": [
            {
                "petition": s.petition.action,
                "name": s.name,
                "email": s.email,
                "postcode": s.postcode,
                "state": s.state,
                "signed_at": s.created_at.isoformat(),
                "creator": s.creator,
                "sponsor": s.sponsor,
            }
            for s in _signatures_of(user)
        ],
        "petitions_started": [p.action for p in Petition.objects.filter(creator=user)],
    }


def petitions_anonymise(user: Any) -> None:
    """Signatures stay counted, without the person; started petitions stay, without the link."""
    now = timezone.now()
    for signature in _signatures_of(user):
        Signature.objects.filter(pk=signature.pk).update(
            name="",
            email="",
            normalised_email=f"anonymised-{signature.pk}",
            postcode="",
            ip_address=None,
            anonymised_at=now,
        )
    Petition.objects.filter(creator=user).update(creator=None)
