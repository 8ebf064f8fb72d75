"""The production-like stack the benchmarks run against: PostgreSQL, Redis and uvicorn.

A benchmark gets a fresh database (dropped and recreated), its own Redis db number (flushed
before and after), static files collected into a temporary directory, and a uvicorn process
group serving ``engagement.asgi:application`` with ``engagement.settings.production``. The
process group is always stopped, even when the benchmark fails.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("BENCH_DATABASE", "moot_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))

# "psycopg.OperationalError: ..." and the like: the last line of a traceback.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class StackError(RuntimeError):
    """A step of setting up or serving the stack failed; the message carries its output."""


@dataclass(frozen=True)
class Workspace:
    """The environment shared by every process of one run, and its scratch directory."""

    env: dict[str, str]
    directory: Path

    @property
    def server_log(self) -> Path:
        return self.directory / "uvicorn.log"


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table and the JSON line."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextmanager
def workspace() -> Iterator[Workspace]:
    """A temporary directory and the production environment pointing into it."""
    with tempfile.TemporaryDirectory(prefix="moot-bench-") as tmp:
        directory = Path(tmp)
        yield Workspace(env=production_env(directory), directory=directory)


def production_env(directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "engagement.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BALLOT_LINK_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": f"{POSTGRES_URL}/{DATABASE}",
            "REDIS_URL": f"{REDIS_URL}/{REDIS_DB}",
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain http on loopback: no proxy in front to terminate TLS.
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_ROOT": str(directory / "static"),
            "MEDIA_ROOT": str(directory / "media"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def prepare(ws: Workspace) -> None:
    """Fresh database and Redis db, migrations applied, static files collected."""
    log(f"recreating database {DATABASE!r} and flushing Redis db {REDIS_DB}")
    recreate_database()
    flush_redis()
    log("migrate")
    manage(ws, "migrate", "--noinput")
    log("collectstatic")
    manage(ws, "collectstatic", "--noinput")


def recreate_database() -> None:
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        name = sql.Identifier(DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def flush_redis() -> None:
    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}")
    try:
        client.flushdb()
    finally:
        client.close()


def seed_demo(ws: Workspace) -> None:
    """The demo council (``manage.py seed_demo``) in the bench database, under the same
    production settings as the server, with ``MOOT_DEMO=true`` (the command refuses without it).
    """
    log("seed_demo")
    manage_with(ws, {"MOOT_DEMO": "true"}, "seed_demo")


def manage(ws: Workspace, *args: str) -> str:
    """Run ``manage.py`` with the workspace's environment; its stdout, or a StackError."""
    return manage_with(ws, {}, *args)


def manage_with(ws: Workspace, extra_env: dict[str, str], *args: str) -> str:
    """``manage`` with extra environment variables."""
    command = [sys.executable, "manage.py", *args]
    env = {**ws.env, **extra_env}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        output = tail(done.stdout + "\n" + done.stderr)
        raise StackError(f"`manage.py {' '.join(args)}` exited {done.returncode}:\n{output}")
    return done.stdout


@contextmanager
def serve(ws: Workspace, *, workers: int) -> Iterator[str]:
    """Run uvicorn in its own process group; yield its base URL; always stop the group."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "engagement.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
        "--ws", os.environ.get("UVICORN_WS", "websockets-sansio"),  # as in the README
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    log(f"starting uvicorn ({workers} workers) on {base_url}")
    with ws.server_log.open("wb") as server_log:
        # A new session: the group can be killed as a whole, and Ctrl-C reaches only the bench.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=ws.env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_ready(process, base_url, ws.server_log)
            yield base_url
        finally:
            stop(process)
            flush_redis()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(process: subprocess.Popen[bytes], base_url: str, server_log: Path) -> None:
    """Until /healthz answers 200. Fails fast when uvicorn exits or logs a traceback (with
    several workers its supervisor keeps restarting a worker that cannot import the app)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(
                f"uvicorn exited {process.returncode} before serving:\n{read_tail(server_log)}"
            )
        if "Traceback" in server_log.read_text(errors="replace"):
            raise StackError(f"uvicorn failed to start:\n{read_tail(server_log)}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise StackError(f"uvicorn not ready after {READY_TIMEOUT_S:.0f}s:\n{read_tail(server_log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (the supervisor and its workers), then SIGKILL any straggler."""
    with suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def read_tail(path: Path, lines: int = 40) -> str:
    return tail(path.read_text(errors="replace"), lines)


def log_digest(path: Path, lines: int = 20) -> str:
    """Each distinct exception line of a server log with its count, then the log's tail."""
    text = path.read_text(errors="replace")
    counts = Counter(line for line in text.splitlines() if EXCEPTION_LINE.match(line))
    summary = [f"{n:6d} x {line}" for line, n in counts.most_common()]
    return "\n".join([*summary, "--- tail ---", tail(text, lines)])
