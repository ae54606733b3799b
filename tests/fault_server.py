"""A scripted OpenAI-compatible chat server that injects faults, for the fault-injection test.

The server plays a simple agent: while the conversation holds fewer than ``target``
successful ``add`` results (tool messages that are a bare integer), it calls ``add``
again; then it answers ``Results: r1, r2, r3.`` listing exactly those results.

Each request may instead get a fault, drawn from the seeded :class:`FaultPlan`:
HTTP 429 with ``retry-after-ms``, 500, 503, a stall past the client's timeout, or
(for a streamed request) a connection cut in the middle of the stream. A tool-call
answer may carry arguments that are not JSON, or call a tool that does not exist.

Draws depend only on the seed, the conversation (its first user message), its length,
and how many times that same request came before, so a run meets the same faults
whatever the concurrency. ``GET /stats`` returns the counts of what was served.

Two tiers share the script: ``/primary/v1`` (also plain ``/v1``) and ``/backup/v1``,
as two providers of a fallback chain; the plan's outage hits the primary only.

Run it as ``python tests/fault_server.py [PLAN_JSON]``: it binds a free port on
127.0.0.1 and prints ``PORT <n>`` on its first line of output.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

_NUMBER = re.compile(r"-?\d+")


@dataclass
class FaultPlan:
    """How often each fault is injected (fractions of requests, or of tool-call answers)."""

    seed: int = 0
    rate_limit: float = 0.06
    server_error: float = 0.04
    unavailable: float = 0.04
    timeout: float = 0.03
    stream_cut: float = 0.05
    bad_json: float = 0.08
    unknown_tool: float = 0.05
    retry_after_ms: int = 20
    stall_s: float = 1.0
    target: int = 3
    outage_start: int = -1
    outage_len: int = 0
    """The primary tier answers 503 to its requests number ``outage_start`` onwards (in
    arrival order), ``outage_len`` of them: an outage, for the circuit breaker."""


@dataclass
class _Turn:
    """What the scripted agent does next, and how it is spoiled."""

    http_fault: str | None
    content_fault: str | None
    text: str | None
    call: dict[str, Any] | None


@dataclass
class FaultServer:
    """The server's state: the plan, attempt counters and the stats."""

    plan: FaultPlan
    attempts: Counter[tuple[str, int]] = field(default_factory=Counter)
    stats: Counter[str] = field(default_factory=Counter)
    outage_ended_at: float | None = None
    """When the outage's last request was answered (``time.time()``)."""

    def decide(self, body: dict[str, Any]) -> _Turn:
        messages: list[dict[str, Any]] = body.get("messages", [])
        key = next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")
        turn = len(messages)
        attempt = self.attempts[(key, turn)]
        self.attempts[(key, turn)] += 1
        rng = random.Random(f"{self.plan.seed}|{key}|{turn}|{attempt}")
        http_fault = self._http_fault(rng.random(), bool(body.get("stream")))
        results = [
            int(m["content"])
            for m in messages
            if m.get("role") == "tool" and _NUMBER.fullmatch(str(m.get("content", "")).strip())
        ]
        if len(results) >= self.plan.target or not body.get("tools"):
            return _Turn(http_fault, None, f"Results: {', '.join(map(str, results))}.", None)
        run_number = int(m.group()) if (m := _NUMBER.search(key)) else 0
        args: dict[str, Any] | str = {"a": len(results) + 1, "b": run_number}
        name = "add"
        content_fault = None
        draw = rng.random()
        if draw < self.plan.bad_json:
            content_fault = "bad_json"
            args = '{"a": ' + str(len(results) + 1) + ', "b": '  # cut off: not JSON
        elif draw < self.plan.bad_json + self.plan.unknown_tool:
            content_fault = "unknown_tool"
            name = "multiply"
        arguments = args if isinstance(args, str) else json.dumps(args)
        call = {
            "id": f"call_{turn}_{attempt}_{rng.randrange(1 << 30):x}",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return _Turn(http_fault, content_fault, None, call)

    def _http_fault(self, draw: float, streaming: bool) -> str | None:
        p = self.plan
        for kind, share in (
            ("rate_limit", p.rate_limit),
            ("server_error", p.server_error),
            ("unavailable", p.unavailable),
            ("timeout", p.timeout),
            ("stream_cut", p.stream_cut if streaming else 0.0),
        ):
            if draw < share:
                return kind
            draw -= share
        return None

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        tier = request.path_params.get("tier", "primary")
        index = self.stats[f"{tier}_requests"]
        self.stats[f"{tier}_requests"] += 1
        self.stats["streamed_requests" if body.get("stream") else "plain_requests"] += 1
        start = self.plan.outage_start
        if tier == "primary" and 0 <= start <= index < start + self.plan.outage_len:
            self.stats["outage"] += 1
            if index == start + self.plan.outage_len - 1:
                self.outage_ended_at = time.time()
            return _error(503, "outage")
        turn = self.decide(body)
        if turn.http_fault is not None:
            self.stats[turn.http_fault] += 1
        if turn.http_fault == "rate_limit":
            return _error(
                429,
                "rate limited",
                {"retry-after-ms": str(self.plan.retry_after_ms), "retry-after": "1"},
            )
        if turn.http_fault == "server_error":
            return _error(500, "internal error")
        if turn.http_fault == "unavailable":
            return _error(503, "overloaded")
        if turn.http_fault == "timeout":
            await asyncio.sleep(self.plan.stall_s)
        if turn.http_fault is None:  # counted only when the client gets it
            if turn.content_fault is not None:
                self.stats[turn.content_fault] += 1
            self.stats["final_answers" if turn.call is None else "tool_calls"] += 1
        model = str(body.get("model", "fault-model"))
        if body.get("stream"):
            cut = turn.http_fault == "stream_cut"
            return StreamingResponse(_sse(turn, model, cut), media_type="text/event-stream")
        return JSONResponse(_completion(turn, model))

    async def get_stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "plan": asdict(self.plan),
                "counts": dict(self.stats),
                "outage_ended_at": self.outage_ended_at,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/{tier}/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/stats", self.get_stats, methods=["GET"]),
            ]
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": "fault_injection", "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


_USAGE = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}


def _completion(turn: _Turn, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text}
    if turn.call is not None:
        message["tool_calls"] = [turn.call]
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "stop" if turn.call is None else "tool_calls",
            }
        ],
        "usage": _USAGE,
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    data = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


class StreamCut(Exception):
    """Raised inside a streamed body: the server drops the connection mid-stream."""


async def _sse(turn: _Turn, model: str, cut: bool) -> AsyncIterator[str]:
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    if turn.call is not None:
        fn = turn.call["function"]
        args = fn["arguments"]
        half = len(args) // 2
        chunks.append(
            _chunk(
                model,
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": turn.call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": args[:half]},
                        }
                    ]
                },
            )
        )
        chunks.append(
            _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]})
        )
        finish = "tool_calls"
    else:
        for word in re.findall(r"\S+\s*", turn.text or ""):
            chunks.append(_chunk(model, {"content": word}))
        finish = "stop"
    chunks.append(_chunk(model, {}, finish))
    usage = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0}
    chunks.append(
        f"data: {json.dumps({**usage, 'model': model, 'choices': [], 'usage': _USAGE})}\n\n"
    )
    chunks.append("data: [DONE]\n\n")
    stop_at = len(chunks) // 2 if cut else len(chunks)
    for chunk in chunks[:stop_at]:
        yield chunk
        await asyncio.sleep(0)
    if cut:
        raise StreamCut("fault injection: the connection is cut mid-stream")


def main() -> None:
    import uvicorn

    plan = FaultPlan(**json.loads(sys.argv[1])) if len(sys.argv) > 1 else FaultPlan()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        FaultServer(plan).app(),
        log_level="critical",
        access_log=False,
        lifespan="off",
        backlog=1024,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
