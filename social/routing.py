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
from engagement.places.selectors import postcode_lookup, ward_for_point

from .models import Case, GazetteerEntry, Post, RoutingRule, SocialIdentity, WardRota

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
    team_id: int | None = None
    topic: str = ""
    priority: int = Case.Priority.NORMAL
    resident_id: int | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)

    def note(self, step: str, **params: Any) -> None:
        self.trace.append({"step": step, "params": {k: str(v) for k, v in params.items()}})


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


def _ward_name(ward_id: int) -> str:
    return Ward.objects.values_list("name", flat=True).get(pk=ward_id)


# --- the signals --------------------------------------------------------------------------------


def _by_geotag(post: Post, route: Route) -> Ward | None:
    if post.lon is None or post.lat is None:
        route.note("no_geotag")
        return None
    ward = ward_for_point(lon=post.lon, lat=post.lat)
    if ward is None:
        route.note("geotag_outside", lat=post.lat, lon=post.lon)
        return None
    route.note("geotag", lat=post.lat, lon=post.lon, ward=ward.name)
    return ward


def _by_postcode(post: Post, route: Route) -> Ward | None:
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
    if postcode.ward is None:
        route.note("postcode_unknown", postcode=postcode.postcode)
        return None
    route.note("postcode", postcode=postcode.postcode, ward=postcode.ward.name)
    return postcode.ward


def _by_gazetteer(post: Post, route: Route) -> Ward | None:
    names = _gazetteer()
    if not names:
        route.note("no_gazetteer")
        return None
    words = normalise_name(post.text).split()
    best: tuple[str, frozenset[int]] | None = None
    best_len = 0
    for size in range(6, 0, -1):  # longest names first: "high street north" before "high street"
        for i in range(len(words) - size + 1):
            hit = names.get(" ".join(words[i : i + size]))
            if hit is not None and size > best_len:
                best, best_len = hit, size
        if best is not None:
            break
    if best is None:
        route.note("no_gazetteer")
        return None
    name, ward_ids = best
    if len(ward_ids) > 1:
        wards = ", ".join(
            sorted(Ward.objects.filter(pk__in=ward_ids).values_list("name", flat=True))
        )
        route.note("gazetteer_ambiguous", name=name, wards=wards)
        return None
    (ward_id,) = ward_ids
    ward = Ward.objects.defer("boundary").get(pk=ward_id)
    route.note("gazetteer", name=name, ward=ward.name)
    return ward


def _by_resident(post: Post, route: Route) -> Ward | None:
    identity = (
        SocialIdentity.objects.filter(
            network=post.network,
            handle__iexact=post.author_handle,
            verified_at__isnull=False,
            user__is_active=True,
        )
        .select_related("user__ward")
        .first()
    )
    if identity is None:
        route.note("no_resident")
        return None
    route.resident_id = identity.user_id
    ward = identity.user.ward
    if ward is None:
        route.note("no_resident")
        return None
    route.note("resident", ward=ward.name)
    return ward


def _by_history(post: Post, route: Route) -> Ward | None:
    earlier = (
        Case.objects.filter(
            network=post.network, author_handle=post.author_handle, ward__isnull=False
        )
        .select_related("ward")
        .order_by("-created_at")
        .first()
    )
    if earlier is None:
        route.note("no_history")
        return None
    route.note("history", case=earlier.pk, ward=earlier.ward.name)
    return earlier.ward


PLACE_SIGNALS = (_by_geotag, _by_postcode, _by_gazetteer, _by_resident, _by_history)


def _rota_owner(ward: Ward) -> tuple[Councillor | None, list[Councillor]]:
    """The next councillor of the ward on the rota (locked, so two workers never pick the same
    turn) and the others as watchers."""
    members = list(Councillor.objects.filter(wards=ward, is_active=True).order_by("pk"))
    if not members:
        return None, []
    rota, _created = WardRota.objects.get_or_create(ward=ward)
    rota = WardRota.objects.select_for_update().get(pk=rota.pk)
    ids = [m.pk for m in members]
    nxt = 0
    if rota.last_owner_id in ids:
        nxt = (ids.index(rota.last_owner_id) + 1) % len(ids)
    owner = members[nxt]
    rota.last_owner = owner
    rota.save(update_fields=["last_owner"])
    return owner, [m for m in members if m.pk != owner.pk]


def route_post(post: Post) -> Route | Diversion:
    """Decide where a new post's case goes. Call inside the routing transaction (the rota row
    is locked)."""
    for diverter in list(_DIVERTERS):
        diversion = diverter(post)
        if diversion is not None:
            return diversion
    route = Route()
    ward = None
    for signal in PLACE_SIGNALS:
        ward = signal(post, route)
        if ward is not None:
            break
    rule = None
    for candidate, pattern in _rules():
        found = pattern.search(post.text)
        if found:
            rule = candidate
            route.note("topic", keyword=found[1], topic=rule.name)
            route.topic = rule.name
            route.priority = rule.priority
            route.team_id = rule.team_id
            break
    else:
        route.note("no_topic")

    if ward is not None:
        route.ward = ward
        owner, watchers = _rota_owner(ward)
        if owner is None:
            route.note("no_councillor", ward=ward.name)
        else:
            route.target = Case.Target.COUNCILLOR
            route.owner = owner
            route.watchers = watchers
            route.note("owner_ward", owner=owner.name, ward=ward.name)
        if rule is not None and rule.councillor is not None and rule.councillor != owner:
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
    if route.owner is None and route.team_id is None:
        route.target = Case.Target.TRIAGE
        route.note("triage")
    return route
