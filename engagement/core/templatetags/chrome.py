"""The page chrome (header with menu, footer), rendered once per process for each state.

The layout's header and footer cost more CPU to render than most pages' own content (about half a
millisecond of every page), yet they are the same for every request in the same state: language,
council settings (their version), signed in or not, which links the user's roles show, and the
menu's active section. ``{% chrome "includes/_header.html" %}`` renders the template once per such
state and keeps the HTML in this process; the only per-request values in it, the CSRF token and
the page's own path (the language switch returns to it), are left as holes and filled in on each
use. Editing the council's settings changes its version, so every process renders anew at once;
a template change needs a restart, as any deploy does (with ``DEBUG`` on nothing is kept).
"""

from typing import Any

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from engagement.core.memo import also_forget

register = template.Library()

_CSRF_HOLE = "mootchromecsrfhole0"
_PATH_HOLE = "mootchromepathhole0"
_SIZE = 512
_rendered: dict[tuple[Any, ...], str] = {}
also_forget(_rendered.clear)


@register.simple_tag(takes_context=True)
def chrome(context: template.Context, name: str) -> SafeString:
    """The template ``name`` rendered for this request's state (see the module's docstring). The
    template may use ``council``, ``user.is_authenticated``, ``show_inbox_link``,
    ``show_staff_link``, ``nav_section``, ``nav_section_page``, the current language,
    ``csrf_token`` and ``full_path``, and nothing else that varies by request."""
    request = context.get("request")
    council = context.get("council")
    user = context.get("user")
    state = (
        name,
        get_language(),
        getattr(council, "pk", None),
        getattr(council, "updated_at", None),
        bool(user is not None and user.is_authenticated),
        bool(context.get("show_inbox_link")),
        bool(context.get("show_staff_link")),
        context.get("nav_section", ""),
        bool(context.get("nav_section_page")),
    )
    html = _rendered.get(state)
    if html is None:
        html = get_template(name).render(
            {
                "council": council,
                "user": user,
                "show_inbox_link": state[5],
                "show_staff_link": state[6],
                "nav_section": state[7],
                "nav_section_page": state[8],
                "csrf_token": _CSRF_HOLE,
                "full_path": _PATH_HOLE,
            }
        )
        if not settings.DEBUG:
            if len(_rendered) >= _SIZE:
                _rendered.clear()
            _rendered[state] = html
    if _CSRF_HOLE in html:
        html = html.replace(_CSRF_HOLE, escape(context.get("csrf_token", "")))
    if _PATH_HOLE in html:
        path = request.get_full_path() if request is not None else "/"
        html = html.replace(_PATH_HOLE, escape(path))
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, holes escaped
