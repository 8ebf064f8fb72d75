"""Every write to participatory budgets: rounds, projects, codes, voting, paper entry, counting.

Voting (:func:`ballot_cast`) is the one path for online, paper, assisted and imported ballots. It
checks the window, the voter's area, the verification and the ballot rules, then stores the
voter row and the ballot in one transaction. One person, one vote is held by the database: the
unique constraints on :class:`~budgets.models.Voter` and on ``(budget, voter_token)`` of
:class:`~budgets.models.Ballot`; the voter row is locked while its ballot is replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record, model_changes, snapshot
from engagement.core.sql import insert_parts, mark_saved
from engagement.realtime.services import publish_soon

from .ballots import BallotRules, ballot_clean
from .models import Ballot, BallotChoice, Budget, PhoneCode, Project, Round, Voter, VotingCode

# Letters and digits that cannot be mistaken for each other when read aloud or typed from paper.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


VOTE_PATH_SECONDS = 2.0
"""How long a process may keep a budget and its round on the voting path (see views)."""
COUNT_GRACE = timedelta(seconds=10)
"""Counting starts no sooner than this after the close, well past VOTE_PATH_SECONDS, so a
ballot accepted by a process still holding the round from before the close is counted."""


class VotingError(ValueError):
    """A vote that cannot be taken; the message says why and nothing was stored."""


# --- identities and codes ------------------------------------------------


def _link_key() -> bytes:
    key = settings.BALLOT_LINK_KEY or f"moot.budgets.ballot-link:{settings.SECRET_KEY}"
    return key.encode()


def voter_token(voter: Voter) -> str:
    """The keyed hash that ties a ballot to its voter row (see ADR 7)."""
    return hmac.new(_link_key(), f"voter:{voter.pk}".encode(), hashlib.sha256).hexdigest()


def secret_hash(kind: str, value: str) -> str:
    """A keyed hash of a receipt, a phone number or a one-time code: never stored in clear."""
    return hmac.new(_link_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def random_code(length: int, *, group: int = 4) -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + group] for i in range(0, length, group))


def normalise_code(text: str) -> str:
    """``" k7qx 4m2p-9t3a "`` -> ``"K7QX-4M2P-9T3A"``: case, spaces and dashes do not matter."""
    raw = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())[:40]
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_phone(text: str) -> str:
    """A UK mobile number as +447xxxxxxxxx, or raise VotingError."""
    digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    if len(digits) != 11 or not digits.startswith("07") or not digits.isdigit():
        raise VotingError(_("Enter a UK mobile number, like 07700 900 982."))
    return "+44" + digits[1:]


@dataclass
class Identity:
    """Who is voting and how they qualified: a user account, a letter code or a paper register
    reference (at least one), their ward and their connection to it."""

    user: Any = None
    code: VotingCode | None = None
    reference: str = ""
    phone_hash: str = ""
    ward: Any = None
    """A Ward, or give ``ward_id`` alone (the ballot path needs only the id)."""
    ward_id: int | None = None
    connection: str = Voter.Connection.LIVES
    verified_by: str = "email"

    def area_id(self) -> int | None:
        return self.ward.pk if self.ward is not None else self.ward_id


# --- rounds, budgets and projects ------------------------------------------------

ROUND_FIELDS = [
    "title",
    "title_cy",
    "slug",
    "description",
    "description_cy",
    "ideas_open",
    "voting_opens_at",
    "voting_closes_at",
    "allow_vote_change",
    "area_rule",
    "minimum_age",
    "verify_email",
    "verify_sms",
    "verify_letter",
]
# What may not change once voting has opened: the rules voters were told.
LOCKED_ROUND_FIELDS = {"allow_vote_change", "area_rule", "minimum_age", "voting_opens_at"}
BUDGET_FIELDS = [
    "name",
    "name_cy",
    "ward",
    "amount",
    "ballot_type",
    "min_projects",
    "max_projects",
    "min_spend_percent",
    "points",
    "max_points_per_project",
    "rank_count",
    "rule",
    "completion",
    "exhaustive_stop",
    "integral_start",
    "comparison",
    "tie_break",
    "lot_seed",
]
PROJECT_FIELDS = [
    "reference",
    "title",
    "title_cy",
    "description",
    "description_cy",
    "cost",
    "category",
    "latitude",
    "longitude",
    "location_name",
    "image",
    "image_alt",
    "status",
    "review_note",
]

VOTING_STARTED = {Round.Phase.VOTING, Round.Phase.COUNTING, Round.Phase.RESULTS}


def _started(round_: Round) -> bool:
    return round_.phase in VOTING_STARTED or round_.phase in {
        Round.Phase.DELIVERY,
        Round.Phase.CLOSED,
    }


def round_save(*, round_: Round, actor: Any, data: Mapping[str, Any]) -> Round:
    """Create (``round_.pk`` None) or update a round from cleaned form data."""
    creating = round_.pk is None
    before = {} if creating else snapshot(round_, ROUND_FIELDS)
    if not creating and _started(round_):
        changed = {f for f in LOCKED_ROUND_FIELDS if f in data and data[f] != before.get(f)}
        if changed:
            raise VotingError(_("Voting has opened: its rules can no longer change."))
    for name in ROUND_FIELDS:
        if name in data:
            setattr(round_, name, data[name])
    round_.full_clean()
    with transaction.atomic():
        round_.save()
        audit_record(
            actor=actor,
            action="budget_round.create" if creating else "budget_round.update",
            target=round_,
            changes=model_changes(round_, ROUND_FIELDS, before) if not creating else {},
        )
    return round_


PHASE_ORDER = [p.value for p in Round.Phase]


def round_set_phase(*, round_: Round, actor: Any, phase: str) -> Round:
    """Move a round to ``phase``: forwards one step at a time, or back to a phase before voting.

    Opening voting needs a voting window and every budget to have projects on the ballot;
    counting is started with :func:`count_start`, which moves the round itself.
    """
    if phase not in PHASE_ORDER:
        raise VotingError(_("Unknown phase."))
    current = PHASE_ORDER.index(round_.phase)
    target = PHASE_ORDER.index(phase)
    if target == current:
        return round_
    if phase == Round.Phase.COUNTING:
        raise VotingError(_("Start the count to move to counting."))
    if _started(round_) and target < PHASE_ORDER.index(Round.Phase.VOTING):
        raise VotingError(_("Voting has started: the round cannot go back before it."))
    if target > current + 1 and not (phase == Round.Phase.VOTING and current < target):
        raise VotingError(_("Move the round one phase at a time."))
    if phase == Round.Phase.VOTING:
        if not round_.voting_opens_at or not round_.voting_closes_at:
            raise VotingError(_("Set when voting opens and closes first."))
        if not round_.budgets.exists():
            raise VotingError(_("Add at least one budget first."))
        for budget in round_.budgets.all():
            if not budget.projects.filter(status=Project.Status.ACCEPTED).exists():
                raise VotingError(
                    _("“%(budget)s” has no projects on the ballot.") % {"budget": budget.name}
                )
        if not round_.verification_methods:
            raise VotingError(_("Choose at least one way for voters to prove who they are."))
    if phase == Round.Phase.RESULTS and not all(
        getattr(b, "result", None) is not None and b.result.status == "done"
        for b in round_.budgets.all()
    ):
        raise VotingError(_("Count every budget before publishing the results."))
    before = round_.phase
    with transaction.atomic():
        round_.phase = phase
        round_.save(update_fields=["phase"])
        if phase == Round.Phase.RESULTS:
            from .models import Result

            Result.objects.filter(budget__round=round_).update(published=True)
        audit_record(
            actor=actor,
            action="budget_round.phase",
            target=round_,
            changes={"phase": [before, phase]},
        )
    return round_


def budget_save(*, budget: Budget, actor: Any, data: Mapping[str, Any]) -> Budget:
    creating = budget.pk is None
    if not creating and _started(budget.round):
        raise VotingError(_("Voting has opened: budgets and counting rules can no longer change."))
    before = {} if creating else snapshot(budget, BUDGET_FIELDS)
    for name in BUDGET_FIELDS:
        if name in data:
            setattr(budget, name, data[name])
    _check_budget_options(budget)
    budget.full_clean()
    with transaction.atomic():
        budget.save()
        audit_record(
            actor=actor,
            action="budget.create" if creating else "budget.update",
            target=budget,
            changes=model_changes(budget, BUDGET_FIELDS, before) if not creating else {},
        )
    return budget


def _check_budget_options(budget: Budget) -> None:
    from django.core.exceptions import ValidationError

    errors: dict[str, str] = {}
    if budget.max_projects is not None and budget.max_projects < budget.min_projects:
        errors["max_projects"] = _("The most projects cannot be fewer than the fewest.")
    if budget.ballot_type == Budget.BallotType.CUMULATIVE:
        if budget.max_points_per_project > budget.points:
            errors["max_points_per_project"] = _(
                "The most points for one project cannot be more than the points to share."
            )
        if budget.points < 1:
            errors["points"] = _("Give voters at least one point.")
    if budget.ballot_type == Budget.BallotType.RANKED and budget.rank_count < 1:
        errors["rank_count"] = _("Let voters rank at least one project.")
    if budget.rule != Budget.Rule.MES and (
        budget.completion != Budget.Completion.NONE
        or budget.comparison
        or budget.integral_start
        or not budget.exhaustive_stop
    ):
        errors["completion"] = _(
            "Completion, the comparison and the Add1 options only apply to the Method of Equal "
            "Shares: set completion to none and leave those options at their defaults."
        )
    if (
        budget.rule == Budget.Rule.MES
        and budget.completion == Budget.Completion.NONE
        and (budget.integral_start or not budget.exhaustive_stop)
    ):
        errors["completion"] = _("The Add1 options only apply with Add1 completion.")
    if errors:
        raise ValidationError(errors)


def project_save(
    *, project: Project, actor: Any, data: Mapping[str, Any], action: str | None = None
) -> Project:
    creating = project.pk is None
    on_ballot = project.status == "accepted" or data.get("status") == "accepted"
    if not creating and _started(project.budget.round) and on_ballot:
        locked = {"cost", "status", "reference"}
        if any(f in data and data[f] != getattr(project, f) for f in locked):
            raise VotingError(
                _(
                    "Voting has opened: a project's cost, reference and place on the ballot "
                    "are fixed."
                )
            )
    before = {} if creating else snapshot(project, PROJECT_FIELDS)
    for name in PROJECT_FIELDS:
        if name in data:
            setattr(project, name, data[name])
    if project.status == Project.Status.REJECTED and not project.review_note.strip():
        from django.core.exceptions import ValidationError

        raise ValidationError({"review_note": _("Give the reason the project is not feasible.")})
    if creating and _started(project.budget.round) and project.status == "accepted":
        raise VotingError(_("Voting has opened: no project can be added to the ballot."))
    project.full_clean()
    reviewed = (
        not creating
        and before.get("status") == Project.Status.PROPOSED
        and project.status in (Project.Status.ACCEPTED, Project.Status.REJECTED)
    )
    with transaction.atomic():
        project.save()
        audit_record(
            actor=actor,
            action=action or ("budget_project.create" if creating else "budget_project.update"),
            target=project,
            changes=model_changes(project, PROJECT_FIELDS, before) if not creating else {},
        )
        if reviewed and project.proposer is not None:
            _tell_proposer(project)
    return project


def _tell_proposer(project: Project) -> None:
    """The proposer hears the outcome of the feasibility review, with the reason if rejected."""
    from django.utils import translation

    from engagement.notifications.services import notify

    user = project.proposer
    round_ = project.budget.round
    with translation.override(getattr(user, "preferred_language", None) or "en-gb"):
        if project.status == Project.Status.ACCEPTED:
            subject = _("Your idea “%(title)s” is on the ballot") % {"title": project.title}
            body = _(
                "Council staff checked your idea for %(round)s: it can be done, and it will be "
                "on the ballot when voting opens."
            ) % {"round": round_.display_title}
        else:
            subject = _("Your idea “%(title)s” cannot go on the ballot") % {"title": project.title}
            body = _(
                "Council staff checked your idea for %(round)s and found that it cannot be "
                "done. Their reason: %(reason)s"
            ) % {"round": round_.display_title, "reason": project.review_note}
        notify(
            user=user,
            kind="budget_ideas",
            subject=subject,
            body=body,
            url=round_.get_absolute_url(),
        )


def project_propose(*, budget: Budget, user: Any, data: Mapping[str, Any]) -> Project:
    """A resident's idea, waiting for feasibility review."""
    if budget.round.phase != Round.Phase.IDEAS or not budget.round.ideas_open:
        raise VotingError(_("This round is not taking ideas."))
    count = Project.objects.filter(budget__round=budget.round).count()
    project = Project(
        budget=budget,
        proposer=user,
        status=Project.Status.PROPOSED,
        reference=f"IDEA-{count + 1:04d}",
    )
    for name in ("title", "description", "cost", "category", "location_name"):
        if name in data:
            setattr(project, name, data[name])
    project.full_clean()
    project.save()
    return project


def project_update_add(*, project: Project, actor: Any, data: Mapping[str, Any]) -> Any:
    """A delivery update: text, progress and an optional photo; the project's progress follows."""
    from .models import ProjectUpdate

    update = ProjectUpdate(
        project=project, **{k: data[k] for k in ("text", "progress") if k in data}
    )
    if data.get("photo"):
        update.photo = data["photo"]
        update.photo_alt = data.get("photo_alt", "")
    update.full_clean()
    with transaction.atomic():
        update.save()
        project.progress = update.progress
        if update.progress == 100:
            project.delivery = Project.Delivery.DONE
        elif update.progress > 0 and project.delivery == Project.Delivery.NOT_STARTED:
            project.delivery = Project.Delivery.IN_PROGRESS
        project.save(update_fields=["progress", "delivery"])
        audit_record(
            actor=actor,
            action="budget_project.delivery_update",
            target=project,
            changes={"progress": update.progress},
        )
    return update


# --- voting codes ------------------------------------------------


def voting_codes_generate(
    *, round_: Round, actor: Any, count: int, batch: str, ward: Any = None
) -> list[VotingCode]:
    """``count`` new one-time codes (12 characters, about 60 bits) in a named batch."""
    if not 1 <= count <= 100_000:
        raise VotingError(_("Generate between 1 and 100,000 codes at a time."))
    batch = batch.strip()
    if not batch:
        raise VotingError(_("Name the batch, for example the letter run it is printed for."))
    with transaction.atomic():
        codes: list[VotingCode] = []
        wanted = count
        while wanted:
            fresh = {random_code(12) for _ in range(wanted)}
            taken = set(
                VotingCode.objects.filter(round=round_, code__in=fresh).values_list(
                    "code", flat=True
                )
            )
            made = [
                VotingCode(round=round_, code=c, batch=batch[:80], ward=ward)
                for c in fresh - taken - {c.code for c in codes}
            ]
            codes += VotingCode.objects.bulk_create(made, batch_size=2000)
            wanted = count - len(codes)
        audit_record(
            actor=actor,
            action="budget_codes.generate",
            target=round_,
            changes={"batch": batch, "count": count, "ward": str(ward) if ward else ""},
        )
    return codes


def voting_codes_void(*, round_: Round, actor: Any, codes: Iterable[str]) -> int:
    """Void unused codes (a lost letter run). Used codes cannot be voided: their vote stands."""
    wanted = {normalise_code(c) for c in codes if c.strip()}
    with transaction.atomic():
        found = VotingCode.objects.filter(round=round_, code__in=wanted)
        missing = wanted - set(found.values_list("code", flat=True))
        if missing:
            raise VotingError(
                _("These codes are not codes of this round: %(codes)s")
                % {"codes": ", ".join(sorted(missing)[:20])}
            )
        used = set(found.filter(voter__isnull=False).values_list("code", flat=True))
        if used:
            raise VotingError(
                _("These codes have been used to vote and cannot be voided: %(codes)s")
                % {"codes": ", ".join(sorted(used)[:20])}
            )
        voided = found.filter(voided_at__isnull=True).update(voided_at=timezone.now())
        audit_record(
            actor=actor,
            action="budget_codes.void",
            target=round_,
            changes={"count": voided},
        )
    return voided


def voting_code_find(*, round_: Round, text: str) -> VotingCode:
    """The usable code typed by a voter, or VotingError saying exactly what is wrong."""
    code = VotingCode.objects.filter(round=round_, code=normalise_code(text)).first()
    if code is None:
        raise VotingError(_("That voting code is not one of ours. Check it against your letter."))
    if code.voided_at is not None:
        raise VotingError(
            _("That voting code has been cancelled. Contact the council for a new one.")
        )
    if Voter.objects.filter(code=code).exists():
        raise VotingError(_("That voting code has already been used."))
    return code


# --- text message verification ------------------------------------------------

SMS_CODE_MINUTES = 10
SMS_CODE_ATTEMPTS = 5


def phone_code_send(*, round_: Round, user: Any, phone: str) -> None:
    """Text a six-digit code to ``phone``; a number that has voted in the round is refused."""
    from engagement.notifications.sms import SmsError, send_sms

    number = normalise_phone(phone)
    phone_hash = secret_hash("phone", f"{round_.pk}:{number}")
    if Voter.objects.filter(round=round_, phone_hash=phone_hash).exclude(user=user).exists():
        raise VotingError(_("That mobile number has already been used to vote in this round."))
    code = f"{secrets.randbelow(1_000_000):06d}"
    PhoneCode.objects.update_or_create(
        user=user,
        round=round_,
        defaults={
            "phone_hash": phone_hash,
            "code_hash": secret_hash("sms", f"{user.pk}:{code}"),
            "attempts": 0,
            "expires_at": timezone.now() + timedelta(minutes=SMS_CODE_MINUTES),
            "verified_at": None,
        },
    )
    try:
        send_sms(
            to=number,
            body=_("Your code to vote in %(round)s is %(code)s. It lasts %(minutes)s minutes.")
            % {"round": round_.display_title, "code": code, "minutes": SMS_CODE_MINUTES},
        )
    except SmsError as exc:
        raise VotingError(_("We could not send a text message just now. Try again.")) from exc


def phone_code_check(*, round_: Round, user: Any, code: str) -> str:
    """Check the texted code; the phone hash on success, VotingError otherwise."""
    sent = PhoneCode.objects.filter(round=round_, user=user).first()
    if sent is None:
        raise VotingError(_("Ask for a code first."))
    if sent.expires_at < timezone.now():
        raise VotingError(_("That code has expired. Ask for a new one."))
    if sent.attempts >= SMS_CODE_ATTEMPTS:
        raise VotingError(_("Too many wrong codes. Ask for a new one."))
    given = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(secret_hash("sms", f"{user.pk}:{given}"), sent.code_hash):
        PhoneCode.objects.filter(pk=sent.pk).update(attempts=sent.attempts + 1)
        raise VotingError(_("That code is not right. Check the text message and try again."))
    sent.verified_at = timezone.now()
    sent.save(update_fields=["verified_at"])
    return sent.phone_hash


# --- voting ------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    code: str
    public_id: str
    replaced: bool


def eligible_budgets(round_: Round, ward_id: int | None) -> list[Budget]:
    """The budgets a voter from ward ``ward_id`` may vote in: council-wide, their own ward's
    and, as the round's area rule allows, others (the limit is checked when the ballot is cast).
    """
    budgets = list(round_.budgets.select_related("ward"))
    if round_.area_rule == Round.AreaRule.OWN:
        return [b for b in budgets if b.is_councilwide or b.ward_id == ward_id]
    return budgets


def _area_allowed(round_: Round, budget: Budget, identity: Identity, token: str) -> None:
    if budget.is_councilwide:
        return
    area = identity.area_id()
    own = area is not None and budget.ward_id == area
    if round_.area_rule == Round.AreaRule.OWN:
        if not own:
            raise VotingError(_("You can only vote in your own area's budget."))
        return
    others = (
        Ballot.objects.filter(budget__round=round_, budget__ward__isnull=False, voter_token=token)
        .exclude(budget=budget)
        .values_list("budget__ward_id", flat=True)
    )
    if round_.area_rule == Round.AreaRule.ANY:
        if others:
            raise VotingError(_("You have already voted in another area's budget."))
        return
    if own:
        return
    other_areas = [w for w in others if w != area]
    if other_areas:
        raise VotingError(_("You have already voted in one other area's budget."))


def _find_voter(round_: Round, identity: Identity) -> Voter | None:
    """The voter row of ``identity``, locked (one query); VotingError if the identity's parts
    (account, code, reference, phone) belong to another voter or to different voters."""
    match = Q()
    if identity.user is not None:
        match |= Q(user=identity.user)
    if identity.code is not None:
        match |= Q(code=identity.code)
    if identity.reference:
        match |= Q(reference=identity.reference)
    if identity.phone_hash:
        match |= Q(phone_hash=identity.phone_hash)
    found = list(Voter.objects.select_for_update().filter(match, round=round_)[:2])
    if not found:
        return None
    voter = found[0]
    mine = {
        "user_id": identity.user.pk if identity.user is not None else None,
        "code_id": identity.code.pk if identity.code is not None else None,
        "reference": identity.reference,
        "phone_hash": identity.phone_hash,
    }
    clash = any(
        value and getattr(voter, name) and getattr(voter, name) != value
        for name, value in mine.items()
    )
    if len(found) > 1 or clash:
        raise VotingError(
            _("These details have already been used by different voters in this round.")
        )
    return voter


def _insert_voter(voter: Voter) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: True (and ``voter.pk`` set) if the row
    is new. The ORM's ``bulk_create(ignore_conflicts=True)`` cannot say whether it inserted, and
    knowing it saves the lock-and-look of a returning voter on every first vote (the hot path).
    """
    parts = insert_parts(voter, with_pk=False)
    sql = (
        f"INSERT INTO {parts.table} ({parts.columns}) VALUES ({parts.marks}) "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {parts.pk_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parts.values)
        row = cursor.fetchone()
    if row is None:
        return False
    mark_saved(voter, row[0])
    return True


def _voter_for(round_: Round, identity: Identity, channel: str) -> tuple[Voter, bool]:
    """The identity's voter row and whether it is new, locked for this transaction.

    The insert skips a conflict with a unique constraint (``ON CONFLICT DO NOTHING``): a
    concurrent first vote by the same person waits for the other transaction and then finds its
    row, so two requests can never make two voters. A new row is locked by its insert.
    """
    new = Voter(
        round=round_,
        user=identity.user,
        code=identity.code,
        reference=identity.reference,
        phone_hash=identity.phone_hash,
        channel=channel,
        verified_by=identity.verified_by,
        ward_id=identity.area_id(),
        connection=identity.connection,
    )
    if _insert_voter(new):
        return new, True
    voter = _find_voter(round_, identity)
    if voter is None:  # the insert was skipped, yet no row matches: a part is someone else's
        raise VotingError(_("That voting code has already been used."))
    if voter.channel != channel:
        if voter.channel == Voter.Channel.ONLINE:
            raise VotingError(_("This voter has already voted online."))
        raise VotingError(_("You have already voted on paper, so you cannot vote online."))
    changed = []
    for name in ("code", "phone_hash", "reference"):
        value = getattr(identity, name)
        if value and not getattr(voter, name):
            setattr(voter, name, value)
            changed.append(name)
    if changed:
        try:
            with transaction.atomic():
                voter.save(update_fields=changed)
        except IntegrityError:
            raise VotingError(_("That voting code has already been used.")) from None
    return voter, False


def _ballot_insert(ballot: Ballot, choices: Mapping[int, int]) -> None:
    """Store a ballot and its choices: in one statement on PostgreSQL (the ballot's id is made
    here, so its choices need nothing back from the database), two through the ORM elsewhere."""
    if connection.vendor != "postgresql":
        ballot.save(force_insert=True)
        BallotChoice.objects.bulk_create(
            BallotChoice(ballot=ballot, project_id=pid, value=value)
            for pid, value in choices.items()
        )
        return
    quote = connection.ops.quote_name
    choice_fields = ("ballot", "project", "value")
    parts = insert_parts(ballot, with_pk=True)
    sql = (
        f"WITH ballot AS (INSERT INTO {parts.table} ({parts.columns}) "  # noqa: S608
        f"VALUES ({parts.marks})) "
        f"INSERT INTO {quote(BallotChoice._meta.db_table)} "
        f"({', '.join(quote(BallotChoice._meta.get_field(n).column) for n in choice_fields)}) "
        "SELECT %s, choice.project, choice.value "
        "FROM unnest(%s::bigint[], %s::integer[]) AS choice(project, value)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*parts.values, ballot.pk, list(choices), list(choices.values())])
    mark_saved(ballot)


def ballot_cast(
    *,
    budget: Budget,
    identity: Identity,
    choices: Iterable[tuple[int, int]] | Mapping[int, int],
    channel: str = Voter.Channel.ONLINE,
    now: Any = None,
    actor: Any = None,
    rules: BallotRules | None = None,
) -> Receipt:
    """Take one ballot in ``budget`` from ``identity``; its receipt, or VotingError/BallotError.

    Online ballots are taken only while voting is open; paper and assisted ballots (keyed by
    staff, ``actor``) while the round is in its voting phase, so papers that arrived by the close
    can be entered before counting starts. A voter who has a ballot in this budget replaces it
    when the round allows changes (the last ballot counts) and is refused otherwise. ``rules``:
    the budget's :class:`BallotRules` when the caller has them already (they are checked here
    either way).
    """
    round_ = budget.round
    if channel == Voter.Channel.ONLINE:
        if not round_.voting_is_open(now):
            raise VotingError(_("Voting is not open."))
    elif round_.phase != Round.Phase.VOTING:
        raise VotingError(_("Ballots can only be entered while the round is in its voting phase."))
    if identity.user is None and identity.code is None and not identity.reference:
        raise VotingError(_("A ballot needs a voter: an account, a voting code or a reference."))
    if channel == Voter.Channel.ONLINE and identity.verified_by not in round_.verification_methods:
        raise VotingError(_("Prove who you are in one of the ways this round accepts first."))
    if identity.code is not None and identity.code.ward_id and identity.area_id() is None:
        identity.ward_id = identity.code.ward_id
    rules = rules or BallotRules.for_budget(budget)
    pairs = list(choices.items()) if isinstance(choices, Mapping) else list(choices)
    cleaned = ballot_clean(rules, pairs)

    receipt = random_code(12)
    public_id = "B" + random_code(10, group=10)
    with transaction.atomic():
        voter, first_vote = _voter_for(round_, identity, channel)
        token = voter_token(voter)
        _area_allowed(round_, budget, identity, token)
        existing = (
            None if first_vote else Ballot.objects.filter(budget=budget, voter_token=token).first()
        )
        if existing is not None:
            if channel != Voter.Channel.ONLINE or not round_.allow_vote_change:
                raise VotingError(_("This voter has already voted in this budget."))
            existing.delete()
        _ballot_insert(
            Ballot(
                budget=budget,
                voter_token=token,
                public_id=public_id,
                receipt_hash=secret_hash("receipt", receipt),
                channel=channel,
            ),
            cleaned,
        )
        if actor is not None:
            audit_record(
                actor=actor,
                action="budget_ballot.enter",
                target=budget,
                changes={"channel": channel, "ballot": public_id},
            )
        publish_soon(stream=f"turnout.{round_.pk}")
    return Receipt(code=receipt, public_id=public_id, replaced=existing is not None)


def receipt_check(*, code: str) -> Ballot | None:
    """The ballot a receipt code belongs to (None if it is not a current ballot)."""
    return (
        Ballot.objects.select_related("budget__round")
        .prefetch_related("choices__project")
        .filter(receipt_hash=secret_hash("receipt", normalise_code(code)))
        .first()
    )


# --- paper and assisted ballots: double entry ------------------------------------------------


def _paper_identity(round_: Round, text: str) -> Identity:
    """A paper ballot's voter: a letter code, a resident's account email or a register reference."""
    from engagement.accounts.models import User

    text = text.strip()
    if not text:
        raise VotingError(_("Enter the voter: their voting code, account email or a reference."))
    if "@" in text:
        user = User.objects.filter(email__iexact=text).first()
        if user is None:
            raise VotingError(_("No account has that email address."))
        return Identity(user=user, ward=getattr(user, "ward", None), verified_by="paper")
    code = VotingCode.objects.filter(round=round_, code=normalise_code(text)).first()
    if code is not None:
        if code.voided_at is not None:
            raise VotingError(_("That voting code has been cancelled."))
        return Identity(code=code, ward=code.ward, verified_by="paper")
    return Identity(reference=text[:80], verified_by="paper")


def paper_entry_add(
    *,
    budget: Budget,
    actor: Any,
    serial: str,
    identity: str,
    choices: Iterable[tuple[int, int]],
    channel: str = Voter.Channel.PAPER,
    ward: Any = None,
) -> tuple[str, Receipt | None]:
    """Key one paper ballot. The first entry waits; a second by another staff member that
    matches it casts the ballot (and deletes both entries); one that differs marks the pair for
    reconciliation. Returns ``("waiting" | "mismatch" | "cast", receipt or None)``.
    """
    from .models import PaperEntry

    serial = serial.strip()
    if not serial:
        raise VotingError(_("Enter the serial number printed on the paper ballot."))
    if channel not in (Voter.Channel.PAPER, Voter.Channel.ASSISTED):
        raise VotingError(_("Choose paper or assisted."))
    round_ = budget.round
    if round_.phase != Round.Phase.VOTING:
        raise VotingError(_("Ballots can only be entered while the round is in its voting phase."))
    cleaned = ballot_clean(BallotRules.for_budget(budget), list(choices))
    _paper_identity(round_, identity)  # a clear error now, not at the second keying
    stored = {str(pid): value for pid, value in sorted(cleaned.items())}
    with transaction.atomic():
        entries = list(PaperEntry.objects.select_for_update().filter(budget=budget, serial=serial))
        if any(e.entered_by_id == actor.pk for e in entries):
            raise VotingError(
                _("You have already keyed paper %(serial)s: a different person keys it again.")
                % {"serial": serial}
            )
        entry = PaperEntry.objects.create(
            budget=budget,
            serial=serial,
            channel=channel,
            identity=identity.strip(),
            choices=stored,
            entered_by=actor,
            status=PaperEntry.Status.WAITING,
        )
        audit_record(
            actor=actor,
            action="budget_paper.key",
            target=budget,
            changes={"serial": serial, "entry": len(entries) + 1},
        )
        if not entries:
            return "waiting", None
        matches = [
            e
            for e in entries
            if e.choices == stored
            and e.identity.casefold() == identity.strip().casefold()
            and e.channel == channel
        ]
        if not matches:
            PaperEntry.objects.filter(budget=budget, serial=serial).update(
                status=PaperEntry.Status.MISMATCH
            )
            return "mismatch", None
        who = _paper_identity(round_, matches[0].identity)
        if ward is not None:
            who.ward = ward
        receipt = ballot_cast(
            budget=budget,
            identity=who,
            choices=cleaned,
            channel=channel,
            actor=actor,
        )
        PaperEntry.objects.filter(budget=budget, serial=serial).delete()
        del entry
        return "cast", receipt


def paper_entry_discard(*, budget: Budget, actor: Any, serial: str) -> int:
    """Throw away the entries of a paper (after a mismatch) so it can be keyed again."""
    from .models import PaperEntry

    with transaction.atomic():
        deleted, _unused = PaperEntry.objects.filter(budget=budget, serial=serial).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="budget_paper.discard",
                target=budget,
                changes={"serial": serial, "entries": deleted},
            )
    return deleted


# --- counting ------------------------------------------------


def count_start(*, round_: Round, actor: Any, now: Any = None) -> list[Any]:
    """Close voting and queue the count of every budget (a background job each)."""
    from engagement.tasks import enqueue

    from .models import Result
    from .tasks import count_budget

    now = now or timezone.now()
    if round_.phase not in (Round.Phase.VOTING, Round.Phase.COUNTING):
        raise VotingError(_("Only a round in voting or counting can be counted."))
    if round_.voting_closes_at and now < round_.voting_closes_at:
        raise VotingError(_("Voting has not closed yet."))
    if round_.voting_closes_at and now < round_.voting_closes_at + COUNT_GRACE:
        raise VotingError(
            _("Voting closed a moment ago: wait a few seconds so every ballot in flight is stored.")
        )
    from .models import PaperEntry

    if PaperEntry.objects.filter(budget__round=round_).exists():
        raise VotingError(
            _("Some paper ballots are keyed once or differ: finish or discard them first.")
        )
    results = []
    with transaction.atomic():
        before = round_.phase
        round_.phase = Round.Phase.COUNTING
        round_.save(update_fields=["phase"])
        for budget in round_.budgets.all():
            result, _created = Result.objects.update_or_create(
                budget=budget,
                defaults={"status": Result.Status.QUEUED, "progress": 0, "error": ""},
            )
            results.append(result)
            enqueue(count_budget, budget.pk)
        audit_record(
            actor=actor,
            action="budget_round.count",
            target=round_,
            changes={"phase": [before, round_.phase]},
        )
    return results


def election_for(budget: Budget):
    """The budget's ballots as a tally :class:`~budgets.tally.rules.Election` (ids: references)."""
    from fractions import Fraction

    from .tally.rules import Election

    projects = list(budget.projects.filter(status=Project.Status.ACCEPTED))
    reference = {p.pk: p.reference for p in projects}
    ballots: dict[Any, set[str]] = {b: set() for b in budget.ballots.values_list("pk", flat=True)}
    rows = BallotChoice.objects.filter(ballot__budget=budget).values_list("ballot_id", "project_id")
    for ballot_id, project_id in rows.iterator(chunk_size=20_000):
        ballots[ballot_id].add(reference[project_id])
    return Election(
        costs={p.reference: Fraction(p.cost) for p in projects},
        budget=Fraction(budget.amount),
        ballots=ballots.values(),
    )


def _count_progress(result: Any, progress: int, status: str | None = None) -> None:
    from engagement.realtime.services import publish

    from .models import Result

    result.progress = progress
    fields = ["progress"]
    if status:
        result.status = status
        fields.append("status")
    Result.objects.filter(pk=result.pk).update(**{f: getattr(result, f) for f in fields})
    from engagement.realtime.streams import template

    publish(
        stream=f"budgetcount.{result.budget.round_id}",
        event="budget.count",
        render=template("budgets/includes/_count_progress.html", {"result": result, "oob": True}),
        payload={"budget": result.budget_id, "progress": progress, "status": result.status},
    )


def result_count(*, budget_id: int) -> Any:
    """Count one budget with its rule and store the result (idempotent: a re-run recounts)."""
    from .models import Result
    from .tally.rules import TallyError, TieBreak, tally

    budget = Budget.objects.select_related("round").get(pk=budget_id)
    result, _created = Result.objects.get_or_create(budget=budget)
    result.budget = budget
    _count_progress(result, 5, Result.Status.RUNNING)
    election = election_for(budget)
    _count_progress(result, 40)
    mes = budget.rule == Budget.Rule.MES
    try:
        outcome = tally(
            election,
            budget.rule,
            completion=budget.completion if mes else None,
            exhaustive_stop=budget.exhaustive_stop if mes else None,
            integral_start=budget.integral_start if mes else None,
            comparison=budget.comparison if mes else False,
            tie_break=TieBreak(kind=budget.tie_break, seed=budget.lot_seed),
        )
    except TallyError as exc:
        result.error = str(exc)
        result.save(update_fields=["error"])
        _count_progress(result, 100, Result.Status.FAILED)
        return result
    _count_progress(result, 90)
    funded = set(outcome.selected)
    satisfied = sum(w for approved, w in election.groups.items() if approved & funded)
    points: dict[str, int] = {}
    if budget.ballot_type == Budget.BallotType.CUMULATIVE:
        rows = BallotChoice.objects.filter(ballot__budget=budget).values_list(
            "project__reference", "value"
        )
        for ref, value in rows.iterator(chunk_size=20_000):
            points[ref] = points.get(ref, 0) + value
    variant = dict(outcome.variant)
    if points:
        variant["points"] = points
    with transaction.atomic():
        result.selected = list(outcome.selected)
        result.spent = _pounds(outcome.spent)
        result.variant = variant
        result.votes = election.votes
        result.ballots = election.voters
        result.satisfied = satisfied
        result.counted_at = timezone.now()
        result.error = ""
        result.save()
        _count_progress(result, 100, Result.Status.DONE)
        done = Result.objects.filter(budget__round=budget.round, status=Result.Status.DONE)
        if done.count() == budget.round.budgets.count():
            audit_record(
                actor=None,
                action="budget_round.counted",
                target=budget.round,
                changes={"budgets": budget.round.budgets.count()},
            )
    return result


def _pounds(value: Any) -> Any:
    """An exact Fraction of pounds as a Decimal to the penny (costs are in pence, so exact)."""
    from decimal import Decimal

    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"))


# --- personal data -------------------------------------------------------------------------------


def budgets_export(user: Any) -> dict[str, Any]:
    """What budgets hold about ``user``: the rounds they voted in and the ideas they proposed.

    Not how they voted: ballots are not linked to people (ADR 7). The receipt code shown at
    voting finds a ballot on the receipt page.
    """
    return {
        "votes": [
            {
                "round": voter.round.title,
                "date": voter.voted_on.isoformat(),
                "channel": voter.channel,
                "verified_by": voter.verified_by,
                "ward": voter.ward.name if voter.ward_id else "",
                "connection": voter.connection,
            }
            for voter in Voter.objects.filter(user=user).select_related("round", "ward")
        ],
        "ideas": [
            {
                "round": project.budget.round.title,
                "title": project.title,
                "description": project.description,
                "status": project.status,
            }
            for project in Project.objects.filter(proposer=user).select_related("budget__round")
        ],
    }


def budgets_anonymise(user: Any) -> None:
    """Keep every vote (turnout and one person, one vote still hold) but not who cast it."""
    for voter in Voter.objects.filter(user=user):
        voter.user = None
        voter.reference = voter.reference or f"anonymised:{voter.pk}"
        voter.save(update_fields=["user", "reference"])
    Project.objects.filter(proposer=user).update(proposer=None)
    PhoneCode.objects.filter(user=user).delete()
