"""The ASGI handler for Django's HTTP side: a request's sync work in one thread hop.

Django's own ``ASGIHandler`` builds its middleware chain in async mode. Our views are sync and
most middleware (the project's, WhiteNoise's) is sync-only, so every request then crosses between
the event loop and a worker thread at each boundary in the chain and again at each async-capable
middleware's hooks: about a dozen hand-offs a request, each waking a thread and the loop. Under
load that was most of a request's CPU time (a ballot: 6.1 ms under 50-way concurrency, of which
the middleware and view take about 2.5 ms when run straight through).

This handler builds the chain in sync mode and runs, in one thread-sensitive ``sync_to_async``
call per request: the ``request_started`` signal, the middleware chain and the view, and, for a
response whose body is in memory (not streaming), ``response.close()`` (which sends
``request_finished``, returning the database connection on the thread that took it). The event
loop then only sends the bytes. Reading the body, watching for a disconnect and streaming are
Django's own methods; the flow of :meth:`handle` follows Django 5.2's. An ``async def`` view still
works: Django's sync path wraps it.

Django also starts a new thread for every request (a fresh ``ThreadSensitiveContext``) and joins
it afterwards; under load, starting threads was a fifth of the server's CPU. Here each request
borrows a single-thread executor from a per-process stock and returns it when done, so threads
are reused while every thread-sensitive call of one request still runs on one thread.

At most ``settings.HTTP_REQUESTS_RUNNING`` requests of a process run their middleware and view at
once (:class:`RunningLimit`); the others wait on the event loop, in arrival order, with their
bodies read. Beyond the database pool's size the extra threads would only queue for a connection,
and fifty threads taking turns with the GIL cost CPU for nothing: with 50 signers at once on one
process, about 42 context switches a request instead of 28, and roughly a tenth more CPU. The
wait is not in ``Server-Timing``, which times the middleware chain. A request whose client
leaves keeps its place until its view has finished on its thread: the view cannot be stopped, and
letting the next request in beside it would run more than the limit.
"""

import asyncio
import contextlib
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


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


class RunningLimit:
    """At most ``size`` requests at once between entering and leaving ``slot()`` (0: no limit).
    An asyncio semaphore is tied to one event loop, so there is one per loop (uvicorn runs one
    loop a process; tests start a loop per test)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()

    def slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        if not self.size:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.size)
        return semaphore


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = RequestThreads()
        self.running = RunningLimit(settings.HTTP_REQUESTS_RUNNING)
        # Made once: building the wrapper is a fair part of the event loop's share of a request.
        self._respond = sync_to_async(self.respond, thread_sensitive=True)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.lend()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send, executor)
        finally:
            self.threads.give_back(executor)

    def respond(self, scope: dict, body_file: Any) -> tuple[HttpResponseBase, bool]:
        """Everything a request needs from the request thread: the response, and whether it
        is closed already (a body in memory is; a streaming one is closed after sending)."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if response.streaming:
            return response, False
        response.close()
        return response, True

    async def handle(
        self, scope: dict, receive: Any, send: Any, executor: ThreadPoolExecutor | None = None
    ) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))

        async def process_request() -> tuple[HttpResponseBase, bool]:
            async with self.running.slot():
                try:
                    response, closed = await self._respond(scope, body_file)
                except asyncio.CancelledError:
                    # The client left. The view still runs on its thread (a thread cannot be
                    # stopped), so it keeps its place among the requests running until it is
                    # done: the request's executor has one thread, and runs this after it.
                    if executor is not None:
                        await asyncio.get_running_loop().run_in_executor(executor, _nothing)
                    raise
            # A client that disconnects while the response is being sent cancels the sending.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            return response, closed

        # As Django: watch for a disconnect while the response is made, and stop making it then.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response, closed = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if not closed:
                await sync_to_async(response.close, thread_sensitive=True)()
        body_file.close()


def _nothing() -> None:
    pass


def get_asgi_application() -> SyncChainASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with :class:`SyncChainASGIHandler`."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
