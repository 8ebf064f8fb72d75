"""Reading stream messages as a client does: a frame holds one message, or several when the
server batched what was waiting for a viewer (each starts with its sequence marker)."""

import re

_START = re.compile(r'(?=<span hidden id="moot-seq-)')


def messages_in(frame: str) -> list[str]:
    return [part for part in _START.split(frame) if part]


async def receive_messages(communicator, count: int, timeout: float = 3) -> list[str]:
    """The next ``count`` messages, however the server framed them."""
    received: list[str] = []
    while len(received) < count:
        received += messages_in(await communicator.receive_from(timeout=timeout))
    return received
