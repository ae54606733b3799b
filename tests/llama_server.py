"""A real OpenAI-compatible llama.cpp server for tests, on 127.0.0.1 and a free port.

``python -m llama_cpp.server`` serves the embedded model over HTTP, so the
OpenAI provider is tested against a real server, not a mock. That server needs
llama-cpp-python's ``server`` extra (fastapi, pydantic-settings,
starlette-context), which ``tether[dev]`` installs. The server's log goes to a
file, shown when it fails to start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LlamaServer", "free_port", "llama_server"]

_SERVER_EXTRA = ("fastapi", "pydantic_settings", "starlette_context")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_server_modules() -> list[str]:
    """The modules ``llama_cpp.server`` needs that are not installed."""
    return [m for m in _SERVER_EXTRA if importlib.util.find_spec(m) is None]


class LlamaServer:
    """One server process serving the embedded model.

    Args:
        n_ctx: the context window in tokens (small keeps memory and start-up low).
        n_threads: CPU threads for generation (1: the machine is shared).
    """

    def __init__(self, *, n_ctx: int = 2048, n_threads: int = 1) -> None:
        self.port = free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        missing = missing_server_modules()
        if missing:
            raise RuntimeError(
                f"llama_cpp.server needs {', '.join(missing)}: pip install -e '.[dev]'"
            )
        self.kind = "llama_cpp.server"
        self.proc: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        from tether.models.local import local_model_path

        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(local_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
        ]

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _answers(self) -> bool:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        try:
            with direct.open(f"{self.base_url}/models", timeout=2.0) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until ``/v1/models`` answers."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the {self.kind} server exited with code {self.proc.returncode} before "
                    f"it answered; its log:\n{self.log_tail()}"
                )
            if self._answers():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"the {self.kind} server did not answer within {timeout:g}s; its log:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server: terminate, then kill if it does not exit within 10 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def llama_server(*, n_ctx: int = 2048, n_threads: int = 1) -> Iterator[LlamaServer]:
    """A running server for the duration of a ``with`` block."""
    server = LlamaServer(n_ctx=n_ctx, n_threads=n_threads)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)


# ---------------------------------------------------------------- the stand-in server

# llama_cpp.server's error handler turns this llama.cpp message into OpenAI's 400.
_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
_NOT_PASSED = {"model", "n", "user", "logit_bias_type", "min_tokens", "stream_options"}
