"""Template side of streams: the attributes that connect an element, and the sequence marker.

<div {% stream_attrs "audit" %}>
  {% stream_marker "audit" %}
  ...content that pushed fragments update...
</div>
"""

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import format_html
from django.utils.http import urlencode

from engagement.realtime.consumers import seq_marker_id
from engagement.realtime.selectors import stream_position

register = template.Library()


@register.simple_tag
def stream_attrs(*streams: str) -> str:
    """The socket for ``streams``, whose messages come in the page's language."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    query = urlencode([("s", s) for s in streams] + [("lang", language)])
    return format_html('hx-ext="ws" ws-connect="/ws/streams/?{}"', query)


@register.simple_tag
def stream_marker(stream: str) -> str:
    return format_html(
        '<span hidden id="{}" data-moot-stream="{}" data-moot-seq="{}"></span>',
        seq_marker_id(stream),
        stream,
        stream_position(stream),
    )
