"""A real OpenAI-compatible llama.cpp server for tests, on 127.0.0.1 and a free port.

``python -m llama_cpp.server`` serves the embedded model over HTTP, so the
OpenAI provider is tested against a real server, not a mock. That server needs
llama-cpp-python's ``server`` extra (fastapi, pydantic-settings,
starlette-context); where those are missing, this file runs as a small stand-in
server instead: the same ``llama_cpp.Llama.create_chat_completion`` behind
starlette and uvicorn, with the same request fields, SSE chunks and error
bodies as llama_cpp.server's app. ``LlamaServer.kind`` says which one runs.
The server's log goes to a file, shown when it fails to start.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

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
        self.kind = "llama_cpp.server" if not missing_server_modules() else "stand-in"
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
        from tether.models._weights import local_model_path

        program = ["-m", "llama_cpp.server"] if self.kind == "llama_cpp.server" else [__file__]
        return [
            sys.executable,
            *program,
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


def _error_body(exc: Exception, max_tokens: int | None) -> tuple[int, dict[str, Any]]:
    match = _TOO_LONG.search(str(exc))
    if match is None:
        return 500, {"error": {"message": str(exc), "type": "internal_server_error"}}
    prompt, window = int(match.group(1)), int(match.group(2))
    message = (
        f"This model's maximum context length is {window} tokens. However, you requested "
        f"{prompt + (max_tokens or 0)} tokens ({prompt} in the messages, {max_tokens} in "
        "the completion). Please reduce the length of the messages or completion."
    )
    return 400, {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def _standin_app(model_path: str, n_ctx: int, n_threads: int) -> Any:
    import asyncio

    import llama_cpp
    from starlette.applications import Starlette
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    llama = llama_cpp.Llama(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
    )
    accepted = set(inspect.signature(llama.create_chat_completion).parameters) - _NOT_PASSED
    lock = asyncio.Lock()  # one generation at a time, as llama_cpp.server does

    async def models(request: Request) -> Response:
        entry = {"id": model_path, "object": "model", "owned_by": "me", "permissions": []}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat(request: Request) -> Response:
        body = await request.json()
        kwargs = {k: v for k, v in body.items() if k in accepted}
        if not kwargs.get("stream"):
            async with lock:
                try:
                    result = await run_in_threadpool(llama.create_chat_completion, **kwargs)
                except ValueError as exc:
                    status, error = _error_body(exc, kwargs.get("max_tokens"))
                    return JSONResponse(error, status_code=status)
            return JSONResponse(result)

        async def events() -> AsyncIterator[str]:
            async with lock:
                chunks = await run_in_threadpool(llama.create_chat_completion, **kwargs)
                async for chunk in iterate_in_threadpool(chunks):
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ]
    )


def main() -> None:
    """Run the stand-in server (the flags are llama_cpp.server's)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--n_threads", type=int, default=1)
    parser.add_argument("--n_threads_batch", type=int, default=1)
    parser.add_argument("--n_ctx", type=int, default=2048)
    args = parser.parse_args()
    app = _standin_app(args.model, args.n_ctx, args.n_threads)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
