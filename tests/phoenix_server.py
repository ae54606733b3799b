"""A real Arize Phoenix server for the trace tests, on 127.0.0.1 and free ports.

tether's spans are exported over OTLP/HTTP to Phoenix and read back through
Phoenix's own REST API (``GET /v1/projects/{project}/spans``), so the export is
tested against a real backend, not an in-memory exporter.

Phoenix pins ``anthropic<2`` and tether needs ``anthropic>=2.14``, so Phoenix
lives in a virtual environment of its own: ``$TETHER_PHOENIX_VENV``, or
``~/.cache/tether/phoenix-venv``. :func:`ensure_venv` builds it once (about a
minute and a half, most of it pip) in a temporary folder beside it and renames
that into place, so an install that is killed never leaves half a venv behind.
Run this file to build it ahead of the tests (CI does)::

    python tests/phoenix_server.py

Each server gets a fresh working directory (its SQLite database), so no spans
leak from one test session into the next; its telemetry and external resources
are off. It is stopped at the end of the session, at exit, and by the kernel if
the test process dies (``PR_SET_PDEATHSIG``). Phoenix's gRPC collector always
binds all interfaces (``[::]``) whatever ``PHOENIX_HOST`` says; the tests only
use the HTTP port, which listens on 127.0.0.1 alone.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "PHOENIX_VERSION",
    "PhoenixServer",
    "PhoenixUnavailable",
    "Span",
    "ensure_venv",
    "phoenix_server",
    "venv_path",
]

PHOENIX_VERSION = "20.26.1"
"""The ``arize-phoenix`` release the tests run; its REST API and OTLP endpoint were
checked against this one."""

_MARKER = "tether-phoenix.json"  # written last into a finished venv: what it holds
_INSTALL_TIMEOUT = 1200.0  # seconds; a first install here takes about 90

# Phoenix's own settings, and OpenTelemetry's (which its own instrumentation
# would read), are dropped from the server's environment: the tests set what
# they need, and a developer's PHOENIX_SQL_DATABASE_URL must not be written to.
_DROPPED_ENV_PREFIXES = ("PHOENIX_", "OTEL_")
_DROPPED_ENV = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}

# Runs in the server's interpreter: die with the test process, then serve. The
# parent check closes the race where the test process died before prctl ran.
_BOOT = """\
import ctypes, os, runpy, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit("the test process is gone")
sys.argv = ["phoenix", "serve"]
runpy.run_module("phoenix.server.main", run_name="__main__", alter_sys=True)
"""


class PhoenixUnavailable(RuntimeError):
    """Phoenix could not be installed or started; the message says why."""


def venv_path() -> Path:
    """Where Phoenix's virtual environment lives."""
    configured = os.environ.get("TETHER_PHOENIX_VENV")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "tether" / "phoenix-venv"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _is_ready(venv: Path) -> bool:
    """Whether ``venv`` is a finished install of :data:`PHOENIX_VERSION`."""
    try:
        marker = json.loads((venv / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("arize-phoenix") == PHOENIX_VERSION
        and _venv_python(venv).exists()
    )


def _run(cmd: list[str], *, timeout: float, what: str) -> None:
    try:
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PhoenixUnavailable(f"{what} took longer than {timeout:g}s") from exc
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        tail = "\n".join(line for line in lines if "is ignored: it is neither" not in line)
        raise PhoenixUnavailable(
            f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail[-3000:]}"
        )


def _build(target: Path) -> None:
    """Create a venv at ``target`` with Phoenix installed, then mark it finished."""
    _run([sys.executable, "-m", "venv", str(target)], timeout=120, what="creating a venv")
    # `python -m pip`, never bin/pip: scripts keep the temporary path in their
    # first line, and the venv is renamed once it is built.
    pip = [str(_venv_python(target)), "-m", "pip", "install", "--disable-pip-version-check"]
    _run(
        [*pip, "--quiet", "--retries", "2", "--timeout", "60", f"arize-phoenix=={PHOENIX_VERSION}"],
        timeout=_INSTALL_TIMEOUT,
        what=f"pip install arize-phoenix=={PHOENIX_VERSION}",
    )
    check = "import phoenix.server.main, phoenix.version as v; print(v.__version__)"
    _run([str(_venv_python(target)), "-c", check], timeout=120, what="importing Phoenix")
    (target / _MARKER).write_text(json.dumps({"arize-phoenix": PHOENIX_VERSION}))


def ensure_venv() -> Path:
    """Phoenix's virtual environment, built first if it is missing or out of date.

    Concurrent callers (two test sessions) wait on a lock file, and the second
    finds the first one's venv. Raises :class:`PhoenixUnavailable` when pip
    cannot install Phoenix (no network to PyPI, most often).
    """
    venv = venv_path()
    if _is_ready(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_ready(venv):
            return venv
        for stale in venv.parent.glob(f".{venv.name}.*-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        building = Path(tempfile.mkdtemp(prefix=f".{venv.name}.building-", dir=venv.parent))
        try:
            _build(building)
            building.chmod(0o755)  # mkdtemp made it private; a venv is not
            if venv.exists() or venv.is_symlink():  # an older or broken one: out of the way
                old = Path(tempfile.mkdtemp(prefix=f".{venv.name}.old-", dir=venv.parent))
                venv.rename(old / "venv")
                shutil.rmtree(old, ignore_errors=True)
            building.rename(venv)
        finally:
            if building.exists():
                shutil.rmtree(building, ignore_errors=True)
    return venv


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Span:
    """A span as Phoenix's REST API returns it.

    Attributes:
        name: the span's name.
        trace_id: the OpenTelemetry trace id, 32 hex digits.
        span_id: the OpenTelemetry span id, 16 hex digits.
        parent_id: the parent's span id; ``None`` for a root span.
        status_code: ``"OK"``, ``"ERROR"`` or ``"UNSET"``.
        status_message: the status's description.
        start_time: when the span began (timezone-aware).
        attributes: flattened to dotted keys (``gen_ai.usage.input_tokens``);
            Phoenix adds OpenInference ones it derives (``llm.token_count.prompt``).
        events: each with ``name``, ``timestamp`` and ``attributes``.
        span_kind: the OpenInference span kind; ``"UNKNOWN"`` when none was set.
    """

    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    status_code: str
    status_message: str
    start_time: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    span_kind: str = "UNKNOWN"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Span:
        """One item of the REST API's ``data`` list."""
        return cls(
            name=data["name"],
            trace_id=data["context"]["trace_id"],
            span_id=data["context"]["span_id"],
            parent_id=data.get("parent_id"),
            status_code=data["status_code"],
            status_message=data.get("status_message") or "",
            start_time=datetime.fromisoformat(data["start_time"]),
            attributes=dict(data.get("attributes") or {}),
            events=list(data.get("events") or []),
            span_kind=data.get("span_kind") or "UNKNOWN",
        )


class PhoenixServer:
    """One Phoenix server process with a working directory of its own.

    Args:
        venv: Phoenix's virtual environment (see :func:`ensure_venv`).
    """

    def __init__(self, venv: Path) -> None:
        self.venv = venv
        self.port = free_port()
        self.grpc_port = free_port()
        self.working_dir = Path(tempfile.mkdtemp(prefix="tether-phoenix-"))
        self.log_path = self.working_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def base_url(self) -> str:
        """The server's HTTP root: its UI, REST API and OTLP collector."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP (protobuf) traces endpoint, for ``OTLPSpanExporter(endpoint=...)``."""
        return f"{self.base_url}/v1/traces"

    def environment(self) -> dict[str, str]:
        """The server's environment: this one's, less Phoenix's and Python's settings."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _DROPPED_ENV and not k.startswith(_DROPPED_ENV_PREFIXES)
        }
        env.update(
            PHOENIX_HOST="127.0.0.1",
            PHOENIX_PORT=str(self.port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
            PHOENIX_WORKING_DIR=str(self.working_dir),
            PHOENIX_TELEMETRY_ENABLED="false",
            PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
            PHOENIX_LOG_MIGRATIONS="false",
            PYTHONUNBUFFERED="1",
        )
        return env

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with self._direct.open(f"{self.base_url}{path}", timeout=timeout) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _ready(self) -> bool:
        try:
            status, _ = self._get("/readyz", timeout=2.0)  # answers once its database does
        except OSError:
            return False
        return status == 200

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until it is ready."""
        cmd = [str(_venv_python(self.venv)), "-c", _BOOT, str(os.getpid())]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                cwd=self.working_dir,
                start_new_session=True,  # its own process group, stopped as one
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise PhoenixUnavailable(
                    f"Phoenix exited with code {code} before it was ready; its log:\n"
                    f"{self.log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.25)
        log_tail = self.log_tail()
        self.stop()
        raise PhoenixUnavailable(f"Phoenix was not ready within {timeout:g}s; its log:\n{log_tail}")

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after 15 s."""
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # anything it left in its group
            os.killpg(proc.pid, signal.SIGKILL)

    def version(self) -> str:
        """The running server's version, from its API."""
        _, body = self._get("/arize_phoenix_version")
        return body.decode().strip()

    def _page(self, project: str, cursor: str | None) -> tuple[list[Span], str | None]:
        query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
        status, body = self._get(f"{path}?{urllib.parse.urlencode(query)}")
        if status == 404:  # the project is made with its first span
            return [], None
        if status != 200:
            raise AssertionError(f"GET {path} answered {status}: {body[:500]!r}")
        page = json.loads(body)
        return [Span.from_json(s) for s in page["data"]], page.get("next_cursor")

    def all_spans(self, project: str) -> list[Span]:
        """Every span Phoenix holds in ``project`` now, oldest first."""
        found: list[Span] = []
        cursor: str | None = None
        while True:
            page, cursor = self._page(project, cursor)
            found.extend(page)
            if not cursor:
                return sorted(found, key=lambda s: (s.start_time, s.span_id))

    def spans(self, project: str, *, at_least: int = 1, timeout: float = 30.0) -> list[Span]:
        """The spans of ``project``, once Phoenix has stored at least ``at_least``.

        Phoenix inserts what it receives in batches, a moment after the export
        returns, so this polls. Raises ``AssertionError`` naming what it found if
        the count is not reached within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.all_spans(project)
            if len(found) >= at_least or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if len(found) < at_least:
            names = [s.name for s in found]
            raise AssertionError(
                f"Phoenix holds {len(found)} spans in project {project!r} after {timeout:g}s, "
                f"expected at least {at_least}: {names}"
            )
        return found


@contextlib.contextmanager
def phoenix_server() -> Iterator[PhoenixServer]:
    """A running Phoenix for the duration of a ``with`` block; its venv built if needed."""
    server = PhoenixServer(ensure_venv())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.working_dir, ignore_errors=True)


if __name__ == "__main__":
    started = time.monotonic()
    print(f"Phoenix {PHOENIX_VERSION} venv: {ensure_venv()} ({time.monotonic() - started:.0f}s)")
