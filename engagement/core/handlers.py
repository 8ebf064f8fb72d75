"""The ASGI handler for Django's HTTP side: the middleware chain and the view in one thread hop.

Django's own ``ASGIHandler`` builds its middleware chain in async mode. Our views are sync and
most middleware (the project's, WhiteNoise's) is sync-only, so every request then crosses between
the event loop and a worker thread at each boundary in the chain and again at each async-capable
middleware's hooks: about a dozen hand-offs a request, each waking a thread and the loop. Under
load that was most of a request's CPU time (a ballot: 6.1 ms under 50-way concurrency, of which
the middleware and view take about 2.5 ms when run straight through).

This handler builds the chain in sync mode and runs it, view included, in one
``sync_to_async`` call per request (thread-sensitive, so per-request state such as the database
connection stays on one thread). Everything else (reading the body, disconnects, streaming the
response, signals) is Django's. An ``async def`` view still works: Django's sync path wraps it.

Django also starts a new thread for every request (a fresh ``ThreadSensitiveContext``) and joins
it afterwards; under load, starting threads was a fifth of the server's CPU. Here each request
borrows a single-thread executor from a per-process stock and returns it when done, so threads
are reused while every thread-sensitive call of one request still runs on one thread.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse, HttpRequest, HttpResponseBase


class RequestThreads:
    """Idle single-thread executors, one lent to each request in flight (used only from the
    event loop's thread). At most ``keep`` idle ones are kept; the rest are shut down."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []

    def lend(self) -> ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = RequestThreads()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.lend()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response


def get_asgi_application() -> SyncChainASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with :class:`SyncChainASGIHandler`."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
