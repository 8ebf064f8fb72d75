"""Routing: where a new post's case goes, and a readable trace of why.

Signals are tried in order and every one leaves a line in the trace, matched or not:

* place: the geotag (point → ward), a postcode in the text (→ ward), a street or place name
  from the gazetteer, the author's verified link to a resident account, the author's earlier
  cases — the first that places the post wins;
* topic: the first keyword rule that matches (→ the portfolio holder or a team, a priority).

A placed post is owned by one of the ward's councillors (a round-robin rota) and watched by
the others; a topic rule's councillor watches too, and its team is set. An unplaced post goes
to the rule's councillor or team. Nothing matched → the triage queue.

Other modules can claim a post before this routing runs, through :func:`register_diverter`:
the live questions will hand a post carrying a meeting's hashtag to that meeting's moderation
queue (a ``Diversion`` with its own target kind and trace line). The order of routing is
``diverters → place → topic → triage``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from engagement.core.memo import memo
from engagement.people.models import Councillor
from engagement.places.models import Ward
from engagement.places.selectors import postcode_lookup

from .models import Case, GazetteerEntry, Post, RoutingRule, SocialIdentity, Team, WardRota

TRACE_TEXT: dict[str, Any] = {
    "diverted": _("%(detail)s"),
    "geotag": _("The geotag (%(lat)s, %(lon)s) is in %(ward)s ward."),
    "geotag_outside": _("The geotag (%(lat)s, %(lon)s) is outside every ward."),
    "no_geotag": _("The post has no geotag."),
    "postcode": _("The postcode %(postcode)s in the text is in %(ward)s ward."),
    "postcode_unknown": _("The postcode %(postcode)s in the text is not in the council's area."),
    "no_postcode": _("There is no postcode in the text."),
    "gazetteer": _("“%(name)s” in the text is in %(ward)s ward (gazetteer)."),
    "gazetteer_ambiguous": _(
        "“%(name)s” is in more than one ward (%(wards)s), so it did not decide the ward."
    ),
    "no_gazetteer": _("No street or place name from the gazetteer is in the text."),
    "resident": _("The author is linked to a resident account in %(ward)s ward."),
    "no_resident": _("The author is not linked to a resident account with a ward."),
    "history": _("The author's earlier case #%(case)s was in %(ward)s ward."),
    "no_history": _("The author has no earlier case with a ward."),
    "topic": _("The words “%(keyword)s” match the topic rule “%(topic)s”."),
    "no_topic": _("No topic rule matched."),
    "owner_ward": _("%(owner)s owns it as a councillor for %(ward)s ward."),
    "no_councillor": _("%(ward)s ward has no serving councillor."),
    "watchers": _("Watching: %(names)s."),
    "owner_rule": _("%(owner)s owns it as the councillor for “%(topic)s”."),
    "team_rule": _("The %(team)s team handles “%(topic)s”."),
    "triage": _("Nothing placed it or matched a topic, so it went to the triage queue."),
    "reply": _("A reply to post %(post)s, so it joined case #%(case)s."),
    "thread": _("Part of the same conversation, so it joined case #%(case)s."),
}


def trace_lines(trace: list[dict[str, Any]]) -> list[str]:
    """The trace as sentences in the reader's language."""
    lines = []
    for step in trace:
        template = TRACE_TEXT.get(step.get("step", ""))
        params = step.get("params") or {}
        if template is None:
            lines.append(str(step.get("step", "")))
            continue
        try:
            lines.append(str(template) % params)
        except (KeyError, TypeError, ValueError):
            lines.append(str(template))
    return lines


@dataclass
class Route:
    target: str = Case.Target.TRIAGE
    ward: Ward | None = None
    owner: Councillor | None = None
    watchers: list[Councillor] = field(default_factory=list)
    team: Team | None = None
    rule: RoutingRule | None = None
    topic: str = ""
    priority: int = Case.Priority.NORMAL
    resident_id: int | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    earlier: list[tuple[int, Case]] = field(default_factory=list)
    """Trace lines naming a case made earlier in the same batch, filled in once it is saved."""

    def note(self, step: str, **params: Any) -> None:
        self.trace.append({"step": step, "params": {k: str(v) for k, v in params.items()}})

    def fill_earlier(self) -> None:
        """Name the earlier cases (made in this batch, so numbered only when saved)."""
        for index, case in self.earlier:
            self.trace[index]["params"]["case"] = str(case.pk)
        self.earlier.clear()


@dataclass
class Diversion:
    """A post claimed by another module: its target kind and one trace sentence."""

    target: str
    detail: str


Diverter = Callable[[Post], Diversion | None]
_DIVERTERS: list[Diverter] = []


def register_diverter(fn: Diverter) -> Diverter:
    """Let another module claim posts before place and topic routing (see the module doc)."""
    if fn not in _DIVERTERS:
        _DIVERTERS.append(fn)
    return fn


def unregister_diverter(fn: Diverter) -> None:
    if fn in _DIVERTERS:
        _DIVERTERS.remove(fn)


# --- text helpers -------------------------------------------------------------------------------

_POSTCODE_IN_TEXT = re.compile(
    r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s?([0-9][ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE
)
_WORD = re.compile(r"[\w']+")


def normalise_name(text: str) -> str:
    """Lower case, accents kept, punctuation to spaces, single spaces: ``St. Mary's Rd`` →
    ``st mary's rd``."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(text))


@memo(seconds=30)
def _gazetteer() -> dict[str, tuple[str, frozenset[int]]]:
    names: dict[str, tuple[str, set[int]]] = {}
    for name, normalised, ward_id in GazetteerEntry.objects.values_list(
        "name", "normalised", "ward_id"
    ):
        names.setdefault(normalised, (name, set()))[1].add(ward_id)
    return {k: (v[0], frozenset(v[1])) for k, v in names.items()}


def gazetteer_forget() -> None:
    _gazetteer.forget()


@memo(seconds=5)
def _rules() -> list[tuple[RoutingRule, re.Pattern[str]]]:
    compiled = []
    for rule in RoutingRule.objects.filter(enabled=True).select_related("councillor", "team"):
        words = rule.keyword_list()
        if words:
            pattern = r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)"
            compiled.append((rule, re.compile(pattern, re.IGNORECASE)))
    return compiled


def rules_forget() -> None:
    _rules.forget()


class Batch:
    """What routing a batch of posts needs, read once: the verified accounts and earlier
    cases of the batch's authors, the wards and their councillors (kept a few seconds per
    process), and the rota of each ward touched (locked, in ward order, so two workers never
    take the same turn and never deadlock)."""

    def __init__(self, posts: list[Post]) -> None:
        from django.db.models.functions import Lower

        handles = {p.author_handle.lower() for p in posts}
        networks = {p.network for p in posts}
        self.identities: dict[tuple[str, str], tuple[int, int | None]] = {}
        for network, handle, user_id, ward_id in (
            SocialIdentity.objects.annotate(h=Lower("handle"))
            .filter(
                network__in=networks, h__in=handles, verified_at__isnull=False, user__is_active=True
            )
            .values_list("network", "h", "user_id", "user__ward_id")
        ):
            self.identities[(network, handle)] = (user_id, ward_id)
        self.history: dict[tuple[str, str], tuple[int | Case, int]] = {}
        for network, handle, case_id, ward_id in (
            Case.objects.filter(
                network__in=networks,
                author_handle__in={p.author_handle for p in posts},
                ward__isnull=False,
            )
            .order_by("created_at")
            .values_list("network", "author_handle", "pk", "ward_id")
        ):
            self.history[(network, handle)] = (case_id, ward_id)  # the latest wins
        self._rotas: dict[int, WardRota] = {}

    def remember(self, case: Case) -> None:
        """A case made earlier in this batch (not saved yet) counts as history for the posts
        after it."""
        if case.ward_id is not None:
            self.history[(case.network, case.author_handle)] = (case, case.ward_id)

    def lock_rotas(self, ward_ids: set[int]) -> None:
        missing = ward_ids - set(self._rotas)
        WardRota.objects.bulk_create(
            [WardRota(ward_id=w) for w in sorted(missing)], ignore_conflicts=True
        )
        for rota in (
            WardRota.objects.select_for_update().filter(ward_id__in=ward_ids).order_by("ward_id")
        ):
            self._rotas[rota.ward_id] = rota

    def next_owner(self, ward: Ward) -> tuple[Councillor | None, list[Councillor]]:
        members = _councillors_by_ward().get(ward.pk, [])
        if not members:
            return None, []
        rota = self._rotas.get(ward.pk)
        if rota is None:
            self.lock_rotas({ward.pk})
            rota = self._rotas[ward.pk]
        ids = [m.pk for m in members]
        nxt = 0
        if rota.last_owner_id in ids:
            nxt = (ids.index(rota.last_owner_id) + 1) % len(ids)
        owner = members[nxt]
        rota.last_owner_id = owner.pk
        rota._moved = True  # type: ignore[attr-defined]
        return owner, [m for m in members if m.pk != owner.pk]

    def save_rotas(self) -> None:
        for rota in self._rotas.values():
            if getattr(rota, "_moved", False):
                WardRota.objects.filter(pk=rota.pk).update(last_owner_id=rota.last_owner_id)


@memo(seconds=30)
def _wards() -> dict[int, Ward]:
    """Every ward without its boundary (names for traces, boxes for geotags)."""
    return {w.pk: w for w in Ward.objects.defer("boundary").order_by("ons_code")}


@memo(seconds=30)
def _councillors_by_ward() -> dict[int, list[Councillor]]:
    by_ward: dict[int, list[Councillor]] = {}
    for councillor in (
        Councillor.objects.filter(is_active=True).prefetch_related("wards").order_by("pk")
    ):
        for ward in councillor.wards.all():
            by_ward.setdefault(ward.pk, []).append(councillor)
    return by_ward


def places_forget() -> None:
    _wards.forget()
    _councillors_by_ward.forget()


def _ward_for_point(lon: float, lat: float) -> Ward | None:
    """``places.selectors.ward_for_point`` without its query per call: the boxes come from the
    per-process list of wards; the prepared boundaries from the places module's own cache."""
    from shapely.geometry import Point

    from engagement.places.selectors import _prepared

    point = Point(lon, lat)
    for ward in _wards().values():
        if ward.min_lon is None or not (
            ward.min_lon <= lon <= ward.max_lon and ward.min_lat <= lat <= ward.max_lat
        ):
            continue
        if _prepared(ward.pk, ward.updated_at.isoformat()).covers(point):
            return ward
    return None


# --- the signals --------------------------------------------------------------------------------


def _by_geotag(post: Post, route: Route, batch: Batch) -> Ward | None:
    if post.lon is None or post.lat is None:
        route.note("no_geotag")
        return None
    ward = _ward_for_point(post.lon, post.lat)
    if ward is None:
        route.note("geotag_outside", lat=post.lat, lon=post.lon)
        return None
    route.note("geotag", lat=post.lat, lon=post.lon, ward=ward.name)
    return ward


def _by_postcode(post: Post, route: Route, batch: Batch) -> Ward | None:
    found = _POSTCODE_IN_TEXT.search(post.text)
    if not found:
        route.note("no_postcode")
        return None
    raw = f"{found[1]} {found[2]}".upper()
    try:
        postcode = postcode_lookup(raw)
    except ValidationError:
        route.note("postcode_unknown", postcode=raw)
        return None
    if postcode.ward_id is None or postcode.ward_id not in _wards():
        route.note("postcode_unknown", postcode=postcode.postcode)
        return None
    ward = _wards()[postcode.ward_id]
    route.note("postcode", postcode=postcode.postcode, ward=ward.name)
    return ward


def _by_gazetteer(post: Post, route: Route, batch: Batch) -> Ward | None:
    names = _gazetteer()
    if not names:
        route.note("no_gazetteer")
        return None
    words = normalise_name(post.text).split()
    best: tuple[str, frozenset[int]] | None = None
    for size in range(6, 0, -1):  # longest names first: "high street north" before "high street"
        for i in range(len(words) - size + 1):
            hit = names.get(" ".join(words[i : i + size]))
            if hit is not None:
                best = hit
                break
        if best is not None:
            break
    if best is None:
        route.note("no_gazetteer")
        return None
    name, ward_ids = best
    wards = _wards()
    if len(ward_ids) > 1:
        listed = ", ".join(sorted(wards[w].name for w in ward_ids if w in wards))
        route.note("gazetteer_ambiguous", name=name, wards=listed)
        return None
    (ward_id,) = ward_ids
    ward = wards.get(ward_id)
    if ward is None:
        route.note("no_gazetteer")
        return None
    route.note("gazetteer", name=name, ward=ward.name)
    return ward


def _by_resident(post: Post, route: Route, batch: Batch) -> Ward | None:
    found = batch.identities.get((post.network, post.author_handle.lower()))
    if found is None:
        route.note("no_resident")
        return None
    user_id, ward_id = found
    route.resident_id = user_id
    ward = _wards().get(ward_id) if ward_id else None
    if ward is None:
        route.note("no_resident")
        return None
    route.note("resident", ward=ward.name)
    return ward


def _by_history(post: Post, route: Route, batch: Batch) -> Ward | None:
    found = batch.history.get((post.network, post.author_handle))
    ward = _wards().get(found[1]) if found else None
    if found is None or ward is None:
        route.note("no_history")
        return None
    case = found[0]
    if isinstance(case, Case):  # made earlier in this batch: its number comes when it is saved
        route.earlier.append((len(route.trace), case))
        case = case.pk
    route.note("history", case=case, ward=ward.name)
    return ward


PLACE_SIGNALS = (_by_geotag, _by_postcode, _by_gazetteer, _by_resident, _by_history)


def decide(post: Post, batch: Batch) -> Route | Diversion:
    """Where a new post goes, without taking a rota turn: a diverter's claim, or the ward the
    place signals give and the topic rule that matches. A batch decides every post first, then
    locks the rotas of the wards found (in ward order, so two workers never wait on each other
    in a circle) and takes the turns with :func:`assign`."""
    for diverter in list(_DIVERTERS):
        diversion = diverter(post)
        if diversion is not None:
            return diversion
    route = Route()
    for signal in PLACE_SIGNALS:
        route.ward = signal(post, route, batch)
        if route.ward is not None:
            break
    for candidate, pattern in _rules():
        found = pattern.search(post.text)
        if found:
            route.rule = candidate
            route.note("topic", keyword=found[1], topic=candidate.name)
            route.topic = candidate.name
            route.priority = candidate.priority
            route.team = candidate.team
            break
    else:
        route.note("no_topic")
    return route


def assign(route: Route, batch: Batch) -> Route:
    """The owner and watchers of a decided route: the ward's next councillor on the rota (call
    inside the routing transaction, with the ward's rota locked), else the topic rule's
    councillor or team, else triage."""
    ward, rule = route.ward, route.rule
    if ward is not None:
        owner, watchers = batch.next_owner(ward)
        if owner is None:
            route.note("no_councillor", ward=ward.name)
        else:
            route.target = Case.Target.COUNCILLOR
            route.owner = owner
            route.watchers = watchers
            route.note("owner_ward", owner=owner.name, ward=ward.name)
        if (
            rule is not None
            and rule.councillor is not None
            and rule.councillor != owner
            and rule.councillor not in route.watchers
        ):
            route.watchers.append(rule.councillor)
    if rule is not None and route.owner is None:
        if rule.councillor is not None:
            route.target = Case.Target.COUNCILLOR
            route.owner = rule.councillor
            route.note("owner_rule", owner=rule.councillor.name, topic=rule.name)
        elif rule.team is not None:
            route.target = Case.Target.TEAM
    if rule is not None and rule.team is not None:
        route.note("team_rule", team=rule.team.name, topic=rule.name)
    if route.watchers:
        route.note("watchers", names=", ".join(w.name for w in route.watchers))
    if route.owner is None and route.team is None:
        route.target = Case.Target.TRIAGE
        route.note("triage")
    return route


def route_post(post: Post, batch: Batch | None = None) -> Route | Diversion:
    """Decide where a new post's case goes and take its rota turn. Call inside the routing
    transaction (the rota rows are locked); ``batch`` holds what a batch of posts shares (made
    for one post if absent)."""
    batch = batch or Batch([post])
    decision = decide(post, batch)
    if isinstance(decision, Diversion):
        return decision
    return assign(decision, batch)
