"""The current request's client address, for the audit log, set by middleware per request."""

from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("moot_client_ip", default=None)


def set_current_ip(ip: str | None) -> object:
    return _client_ip.set(ip)


def reset_current_ip(token: object) -> None:
    _client_ip.reset(token)  # type: ignore[arg-type]


def current_ip() -> str | None:
    return _client_ip.get()
