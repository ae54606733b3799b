"""Fixes from the durable-runs audit: odd ``wait`` values for a resume, odd arguments of
``cancel_run``, damaged cassette lines, and forks cut between an approval and its call.

Each bad argument is refused with a ConfigError before anything is written; a damaged
cassette is refused when it is loaded, naming the file and the line.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ApprovalDecided,
    ApprovalRequested,
    ConfigError,
    JournalError,
    Message,
    ModelHTTPError,
    RunFinished,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultMessage,
    approve,
    cancel_run,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import ModelParams, RecordingModel, ReplayModel
from tether.run import Lease
from tether.testing import FunctionModel

StoreFactory = Callable[[], JournalStore]

BAD_WAITS = [math.nan, math.inf, -math.inf, -1, None, "1", True, False]
"""Not a finite number of seconds of 0 or more (a bool is not a number of seconds)."""

OTHER = "someone-else"
"""A lease owner that is not the process under test."""

CANCEL_LOOK = 0.8
"""A little longer than a lease holder takes to look for a cancel request."""


def _gated_agent(store: JournalStore, effects: list[str]) -> Agent[None, str]:
    """An agent whose one call, send, waits for a person's approval."""

    def send(to: str) -> str:
        """Send a message."""
        effects.append(to)
        return "sent " + to

    def brain(messages: Sequence[Message], params: ModelParams) -> Any:
        if isinstance(messages[-1], ToolResultMessage):
            return "done: " + messages[-1].content
        return ToolCall("send", {"to": "bob"}, "c1")

    return Agent(FunctionModel(brain), tools=[Tool(send, requires_approval=True)], store=store)


def _slow_agent(store: JournalStore) -> Agent[None, str]:
    async def slow(seconds: int) -> str:
        """Wait."""
        await asyncio.sleep(seconds)
        return "late"

    def brain(messages: Sequence[Message], params: ModelParams) -> Any:
        if isinstance(messages[-1], ToolResultMessage):
            return "done"
        return ToolCall("slow", {"seconds": 60}, "s1")

    return Agent(FunctionModel(brain), tools=[slow], store=store)


async def _waiting_run(store: JournalStore) -> str:
    """The id of a run that waits for approval of c1."""
    result = await _gated_agent(store, []).run("send it")
    assert (result.status, result.reason.kind) == ("interrupted", "approval_required")
    return result.run_id


async def _lease_is_free(store: JournalStore, run_id: str) -> bool:
    taken = await store.acquire_lease(run_id, "probe", 1.0)
    if taken:
        await store.release_lease(run_id, "probe")
    return taken


# --- 1. resume(wait=...) -----------------------------------------------------------


@pytest.mark.parametrize("wait", BAD_WAITS, ids=repr)
async def test_resume_refuses_a_wait_that_is_not_finite_seconds_while_another_holds_the_lease(
    tmp_path: Path, wait: object
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    run_id = await _waiting_run(store)
    assert await store.acquire_lease(run_id, OTHER, 60.0)
    before = await store.load(run_id)
    with pytest.raises(ConfigError, match=r"wait is a finite number of seconds, 0 or more"):
        # NaN used to wait forever: the deadline was never reached.
        await asyncio.wait_for(_gated_agent(store, []).resume(run_id, wait=wait), 5)  # type: ignore[arg-type]
    assert await store.load(run_id) == before
    assert await store.acquire_lease(run_id, OTHER, 60.0)  # still the other's lease
    await store.close()


@pytest.mark.parametrize("wait", BAD_WAITS, ids=repr)
async def test_resume_with_a_bad_wait_journals_no_decision(tmp_path: Path, wait: object) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    run_id = await _waiting_run(store)
    effects: list[str] = []
    agent = _gated_agent(store, effects)
    with pytest.raises(ConfigError, match="wait"):
        await asyncio.wait_for(
            agent.resume(run_id, decisions={"c1": approve()}, wait=wait),  # type: ignore[arg-type]
            5,
        )
    events = await store.load(run_id)
    assert not [e for e in events if isinstance(e, ApprovalDecided)]
    assert effects == []
    assert await _lease_is_free(store, run_id)
    resumed = await agent.resume(run_id, decisions={"c1": approve()}, wait=0)
    assert (resumed.status, effects) == ("completed", ["bob"])
    await store.close()


@pytest.mark.parametrize("wait", BAD_WAITS, ids=repr)
async def test_lease_take_refuses_a_bad_wait_without_taking_the_lease(
    tmp_path: Path, wait: object
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    run_id = await _waiting_run(store)
    with pytest.raises(ConfigError, match="finite number of seconds"):
        await asyncio.wait_for(Lease.take(store, run_id, wait=wait), 5)  # type: ignore[arg-type]
    assert await _lease_is_free(store, run_id)
    await store.close()


@pytest.mark.parametrize("ttl", [math.nan, math.inf, 0, -1.0, True])
async def test_lease_take_refuses_a_ttl_that_is_not_finite_seconds_above_0(
    tmp_path: Path, ttl: float
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    run_id = await _waiting_run(store)
    with pytest.raises(ConfigError, match="ttl is a finite number of seconds above 0"):
        await Lease.take(store, run_id, ttl)
    assert await _lease_is_free(store, run_id)
    await store.close()


async def test_resume_still_waits_a_finite_wait_for_the_lease(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    run_id = await _waiting_run(store)
    assert await store.acquire_lease(run_id, OTHER, 0.3)  # expires while the resume waits
    effects: list[str] = []
    resumed = await _gated_agent(store, effects).resume(run_id, decisions={"c1": approve()}, wait=3)
    assert (resumed.status, effects) == ("completed", ["bob"])
    await store.close()


# --- 2. cancel_run's arguments ---------------------------------------------------------


@pytest.mark.parametrize("reason", [None, 5, b"bytes", ["why"]], ids=repr)
async def test_cancel_run_refuses_a_reason_that_is_not_a_str_before_recording(
    make_store: StoreFactory, reason: object
) -> None:
    store = make_store()
    run_id = await _waiting_run(store)
    with pytest.raises(ConfigError, match=r"cancel_run\(reason=...\) is a str"):
        await cancel_run(store, run_id, reason=reason)  # type: ignore[arg-type]
    assert await store.cancel_requested(run_id) is None
    last = (await store.load(run_id))[-1]
    assert isinstance(last, RunFinished)
    assert last.reason.kind == "approval_required"


@pytest.mark.parametrize("wait", BAD_WAITS, ids=repr)
async def test_cancel_run_refuses_a_bad_wait_on_a_waiting_run_before_ending_it(
    make_store: StoreFactory, wait: object
) -> None:
    store = make_store()
    run_id = await _waiting_run(store)
    with pytest.raises(ConfigError, match="wait is a finite number of seconds, 0 or more"):
        await cancel_run(store, run_id, wait=wait)  # type: ignore[arg-type]
    assert await store.cancel_requested(run_id) is None
    last = (await store.load(run_id))[-1]
    assert isinstance(last, RunFinished)
    assert last.reason.kind == "approval_required"


# None used to fail after the request was recorded; NaN returned "requested" at once.
@pytest.mark.parametrize("wait", [None, math.nan, math.inf, True], ids=repr)
async def test_cancel_run_refuses_a_bad_wait_on_a_live_run_before_recording(
    make_store: StoreFactory, wait: object
) -> None:
    store = make_store()
    task = asyncio.create_task(_slow_agent(store).run("wait"))
    try:
        run_id = ""
        for _ in range(200):
            runs = await store.list_runs()
            if runs and await store.load(runs[0].run_id):
                run_id = runs[0].run_id
                break
            await asyncio.sleep(0.02)
        assert run_id
        await asyncio.sleep(0.2)  # inside the tool
        with pytest.raises(ConfigError, match="wait is a finite number of seconds, 0 or more"):
            await asyncio.wait_for(cancel_run(store, run_id, wait=wait), 5)  # type: ignore[arg-type]
        # Nothing was recorded: the run goes on until a proper request.
        assert await store.cancel_requested(run_id) is None
        await asyncio.sleep(CANCEL_LOOK)
        assert not task.done()
        assert await cancel_run(store, run_id, reason="now", wait=5) == "cancelled"
        result = await asyncio.wait_for(task, 5)
        assert (result.status, result.reason.kind) == ("interrupted", "cancelled")
    finally:
        if not task.done():
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("store", ["runs.db", None, object()], ids=repr)
async def test_cancel_run_refuses_a_store_that_is_not_a_journal_store(store: object) -> None:
    with pytest.raises(ConfigError, match="cancel_run takes the run's journal store first"):
        await cancel_run(store, "run-1")  # type: ignore[arg-type]


@pytest.mark.parametrize("run_id", [None, 5, "", "a\x00b"], ids=repr)
async def test_cancel_run_refuses_a_run_id_that_is_not_one(tmp_path: Path, run_id: object) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    with pytest.raises(ConfigError, match="run id"):
        await cancel_run(store, run_id)  # type: ignore[arg-type]
    await store.close()


# --- 3. damaged cassettes ---------------------------------------------------------------


def _double(x: int) -> int:
    """Double a number."""
    return 2 * x


def _brain(messages: Sequence[Message], params: ModelParams) -> Any:
    if isinstance(messages[-1], ToolResultMessage):
        return "twice is " + messages[-1].content
    return ToolCall("_double", {"x": 21}, "c1")


async def _recorded(path: Path) -> list[dict[str, Any]]:
    """A cassette of a two-call run, streamed (so exchanges carry deltas), as records."""
    agent: Agent[None, str] = Agent(RecordingModel(FunctionModel(_brain), path), tools=[_double])
    stream = agent.run_stream("double 21")
    async for _ in stream:
        pass
    assert stream.result.status == "completed"
    return _read(path)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _http_error(ex: dict[str, Any], **fields: Any) -> None:
    ex.pop("response")
    ex["error"] = {"type": "ModelHTTPError", "message": "slow down", **fields}


DAMAGES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "no request": (lambda ex: ex.pop("request"), "has no request"),
    "request not an object": (lambda ex: ex.update(request=[1]), "has no request"),
    "request without params": (lambda ex: ex["request"].pop("params"), "has no request"),
    "no response nor error": (lambda ex: ex.pop("response"), "neither a response nor an error"),
    "both response and error": (
        lambda ex: ex.update(error={"type": "ModelError", "message": "x"}),
        "both a response and an error",
    ),
    "response not an object": (lambda ex: ex.update(response="hi"), "not an object"),
    "response null": (lambda ex: ex.update(response=None), "not an object"),
    "usage not a mapping": (
        lambda ex: ex["response"].update(usage=[1, 2]),
        "not a model response \\(usage",
    ),
    "text a number": (lambda ex: ex["response"].update(text=5), "not a model response \\(text"),
    "tool calls not a list": (
        lambda ex: ex["response"].update(tool_calls={"name": "x"}),
        "not a model response \\(tool_calls",
    ),
    "http error without status": (_http_error, "no HTTP status_code"),
    "http error with a str status": (
        lambda ex: _http_error(ex, status_code="429"),
        "no HTTP status_code",
    ),
    "http error with a bool status": (
        lambda ex: _http_error(ex, status_code=True),
        "no HTTP status_code",
    ),
    "http error with a str retry_after": (
        lambda ex: _http_error(ex, status_code=429, retry_after="1"),
        "retry_after",
    ),
    "http error with a list body": (
        lambda ex: _http_error(ex, status_code=429, body=[]),
        "body is a str",
    ),
    "error not an object": (
        lambda ex: (ex.pop("response"), ex.update(error="boom")),
        "the error is not an object",
    ),
    "error type not a str": (
        lambda ex: (ex.pop("response"), ex.update(error={"type": 5, "message": "x"})),
        "a type and a message, both str",
    ),
    "error message not a str": (
        lambda ex: (ex.pop("response"), ex.update(error={"type": "ModelError", "message": 5})),
        "a type and a message, both str",
    ),
    "deltas not a list": (lambda ex: ex.update(deltas="abc"), "deltas are a list of str"),
    "deltas of numbers": (lambda ex: ex.update(deltas=[1, 2]), "deltas are a list of str"),
    "unknown record type": (lambda ex: ex.update(type="exchnage"), "'exchnage' record"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
async def test_a_damaged_cassette_line_is_refused_at_load_naming_the_file_and_line(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "run.jsonl"
    records = await _recorded(path)
    assert [r["type"] for r in records] == ["header", "exchange", "exchange"]
    change, said = DAMAGES[damage]
    change(records[2])
    _write(path, records)
    with pytest.raises(JournalError, match=f"cassette {path}: line 3.*{said}") as info:
        ReplayModel(path)
    assert "record again" in str(info.value)


async def test_a_cassette_header_whose_model_is_not_a_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    records = await _recorded(path)
    records[0]["model"] = ["m"]
    _write(path, records)
    with pytest.raises(JournalError, match=f"cassette {path}: line 1: the header's model"):
        ReplayModel(path)


async def test_an_undamaged_cassette_still_replays_deltas_and_http_errors(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    records = await _recorded(path)
    replayed: Agent[None, str] = Agent(ReplayModel(path), tools=[_double])
    result = await replayed.run("double 21")
    assert (result.status, result.output) == ("completed", "twice is 42")

    def refuse(messages: Sequence[Message], params: ModelParams) -> Any:
        raise ModelHTTPError("slow down", 429, retry_after=math.inf, body="{}")

    failing = tmp_path / "error.jsonl"
    with pytest.raises(ModelHTTPError):
        await RecordingModel(FunctionModel(refuse), failing).request([], ModelParams())
    with pytest.raises(ModelHTTPError, match="slow down") as info:
        await ReplayModel(failing).request([], ModelParams())
    assert (info.value.status_code, info.value.retry_after) == (429, math.inf)
    assert records[1]["deltas"] == []  # a tool call streams no text


# --- 4. forks cut between an approval and its call ------------------------------------


async def _approved_run(store: JournalStore, effects: list[str]) -> tuple[str, list[Any]]:
    """A run whose call c1 was approved and ran; its journal."""
    agent = _gated_agent(store, effects)
    first = await agent.run("send it")
    done = await agent.resume(first.run_id, decisions={"c1": approve()})
    assert (done.status, effects) == ("completed", ["bob"])
    effects.clear()
    return done.run_id, await store.load(done.run_id)


def _seq(events: list[Any], kind: type, call_id: str = "c1") -> int:
    """The sequence number of the first ``kind`` event of ``call_id``."""
    for e in events:
        if isinstance(e, ToolCallStarted):
            found, seq = e.call.id, e.seq
        elif isinstance(e, ApprovalDecided | ToolCallFinished):
            found, seq = e.call_id, e.seq
        else:
            continue
        if type(e) is kind and found == call_id:
            return seq
    raise AssertionError(f"no {kind.__name__} of {call_id}")


@pytest.mark.parametrize("cut", ["after the approval", "after the call started"])
async def test_a_fork_cut_before_an_approved_call_finished_asks_a_person_again(
    tmp_path: Path, cut: str
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    run_id, events = await _approved_run(store, effects)
    decided, started = _seq(events, ApprovalDecided), _seq(events, ToolCallStarted)
    assert decided < started < _seq(events, ToolCallFinished)
    at = decided + 1 if cut == "after the approval" else started + 1
    agent = _gated_agent(store, effects)
    fork_id = await agent.fork(run_id, at)
    copied = await store.load(fork_id)
    assert not [e for e in copied if isinstance(e, ApprovalDecided)]

    resumed = await agent.resume(fork_id)
    # Asked again, as for a call never approved: not run, and not a crash's doubt.
    assert (resumed.status, resumed.reason.kind) == ("interrupted", "approval_required")
    assert [c.id for c in resumed.pending] == ["c1"]
    assert effects == []
    asked = [e for e in await store.load(fork_id) if isinstance(e, ApprovalRequested)]
    assert asked[-1].seq >= len(copied)  # journaled by the resume, not copied
    assert asked[-1].reason == "approval"

    final = await agent.resume(fork_id, decisions={"c1": approve()})
    assert (final.status, final.output, effects) == ("completed", "done: sent bob", ["bob"])
    await store.close()


async def test_a_fork_keeps_the_decision_on_a_call_that_finished_before_the_fork(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    run_id, events = await _approved_run(store, effects)
    agent = _gated_agent(store, effects)
    fork_id = await agent.fork(run_id, _seq(events, ToolCallFinished) + 1)
    assert [e.call_id for e in await store.load(fork_id) if isinstance(e, ApprovalDecided)] == [
        "c1"
    ]
    resumed = await agent.resume(fork_id)
    assert (resumed.status, resumed.output, effects) == ("completed", "done: sent bob", [])
    await store.close()


@pytest.mark.parametrize("limit", ["steps", "loop"])
async def test_a_crash_after_the_reason_to_give_up_and_before_the_fallback_gives_up(
    tmp_path: Path, limit: str
) -> None:
    # The journal holds budget_exhausted (or a loop given up on) but not the fallback's
    # strategy_changed: the resumed run gives up, it does not carry on as if nothing
    # had stopped it.
    from tether import Budget, LoopPolicy, ToolCall
    from tether.journal import SQLiteStore
    from tether.testing import ScriptedModel

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def agent(store: SQLiteStore) -> Agent[Any, Any]:
        same = [ToolCall("add", {"a": 1, "b": 1}) for _ in range(8)]
        calls = same if limit == "loop" else [ToolCall("add", {"a": i, "b": 1}) for i in range(8)]
        return Agent(
            ScriptedModel([*calls, "fallback answer"]),
            tools=[add],
            store=store,
            budget=Budget(max_steps=3 if limit == "steps" else 20),
            loop_policy=LoopPolicy(max_corrections=0),
        )

    first = SQLiteStore(tmp_path / "full.db")
    original = await agent(first).run("add")
    assert original.status == "gave_up"
    kinds = [e.type for e in original.events]
    fallback = kinds.index("strategy_changed")
    assert ("budget_exhausted" if limit == "steps" else "loop_detected") in kinds[:fallback]
    cut = SQLiteStore(tmp_path / "cut.db")
    await cut.append(original.run_id, original.events[:fallback])
    resumed = await agent(cut).resume(original.run_id)
    assert resumed.status == "gave_up"
    assert resumed.reason.kind == original.reason.kind
    assert sum(e.type == "tool_call_finished" for e in resumed.events) == sum(
        e.type == "tool_call_finished" for e in original.events
    )
    await first.close()
    await cut.close()
