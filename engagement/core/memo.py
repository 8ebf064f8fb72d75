"""A per-process memo with a time limit, for small, rarely changing reads on busy paths.

``@memo(seconds=5)`` keeps a function's result per argument tuple for ``seconds`` in this
process; ``fn.forget()`` drops everything (tests call it between tests; services may call it
after a change, knowing other processes catch up within ``seconds``). Only for data where being
a few seconds stale is harmless: block lists, scheme settings, ballot projects while voting.
"""

import functools
import time
from collections.abc import Callable
from typing import Any

_ALL: list[Callable[[], None]] = []


def memo(*, seconds: float, size: int = 1024) -> Callable[[Callable[..., Any]], Any]:
    def decorator(fn: Callable[..., Any]) -> Any:
        store: dict[tuple, tuple[float, Any]] = {}

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            now = time.monotonic()
            hit = store.get(args)
            if hit is not None and hit[0] > now:
                return hit[1]
            value = fn(*args)
            if len(store) >= size:
                store.clear()
            store[args] = (now + seconds, value)
            return value

        wrapper.forget = store.clear  # type: ignore[attr-defined]
        _ALL.append(store.clear)
        return wrapper

    return decorator


def also_forget(clear: Callable[[], None]) -> None:
    """Have :func:`forget_all` call ``clear`` too: other per-process state of the same kind."""
    _ALL.append(clear)


def forget_all() -> None:
    """Drop every memo in this process (between tests)."""
    for clear in _ALL:
        clear()
