"""Every write to social listening: storing fetched posts, routing them into cases, and what
councillors and staff do to a case (reply, note, state, owner, priority, labels, merge).

Nothing is lost and nothing is doubled, whatever dies when:

* :func:`posts_store` inserts with the unique (network, external id) constraint, so a page
  fetched twice stores each post once; the poller moves its cursor only after the posts are
  stored.
* :func:`posts_route` locks the posts and skips any already routed; the cases, the posts' links
  to them and ``routed_at`` are written in one transaction. A worker killed half way leaves the
  posts unrouted, and the sweep (``tasks.route_unrouted``) routes them later.

The package's modules: ``common`` (settings, errors, live rows), ``ingest``, ``routing``,
``cases`` and ``config``; everything callers use is importable from here.
"""

from .cases import (
    case_assign,
    case_escalate_overdue,
    case_link,
    case_merge,
    case_note,
    case_reply,
    case_set_labels,
    case_set_priority,
    case_set_state,
    cases_anonymise_expired,
    due_digests_notify,
    reply_approve,
    reply_retry,
    reply_send,
)
from .common import CaseError, _own_handles, inbox_streams, listening_settings
from .config import config_save, gazetteer_import, social_anonymise, social_export
from .ingest import identity_remove, identity_start, posts_store, spam_reason
from .routing import (
    drain_size,
    live_publish_pending,
    post_route,
    posts_route,
    unrouted_count,
)

__all__ = [
    "CaseError",
    "_own_handles",
    "case_assign",
    "case_escalate_overdue",
    "case_link",
    "case_merge",
    "case_note",
    "case_reply",
    "case_set_labels",
    "case_set_priority",
    "case_set_state",
    "cases_anonymise_expired",
    "config_save",
    "drain_size",
    "due_digests_notify",
    "gazetteer_import",
    "identity_remove",
    "identity_start",
    "inbox_streams",
    "listening_settings",
    "live_publish_pending",
    "post_route",
    "posts_route",
    "posts_store",
    "reply_approve",
    "reply_retry",
    "reply_send",
    "social_anonymise",
    "social_export",
    "spam_reason",
    "unrouted_count",
]
