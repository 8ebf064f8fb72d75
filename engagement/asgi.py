"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engagement.settings.local")

from engagement.core.handlers import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from engagement.routing import websocket_urlpatterns  # noqa: E402


class DirectSend:
    """Puts the server's own ``send`` in the scope (``moot.send``), for a consumer to write its
    messages without the session middleware's wrapper, which only acts on the handshake: the
    stream consumer sends every event to every viewer (``engagement.realtime.consumers``)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        return await self.inner({**scope, "moot.send": send}, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            DirectSend(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

from engagement.core.runtime import tune_garbage_collector  # noqa: E402

tune_garbage_collector()
