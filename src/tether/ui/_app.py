"""The viewer's Starlette application: pages, fragments and two small JSON endpoints.

Pages are rendered on the server from the journal (Jinja2, autoescaped: prompts,
tool results and model text are shown as text, never as markup); a little script
(``static/ui.js``) polls for changes and loads a step's details on a click.

A run may hold text with unpaired surrogates, which UTF-8 cannot encode: every page and
every JSON answer goes through :func:`~tether._text.plain_text` as it is rendered, which
writes them as escapes (``\\ud800``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tether._errors import JournalError
from tether._events import Event, ReasonKind, RunStatus
from tether._messages import ToolCall
from tether._text import plain_text
from tether.journal import JournalStore, RunInfo, UnreadableRecord, open_store
from tether.run import Decision

from ._actions import Actions, AgentFor, Outcome, parse_decision
from ._guard import Guard, is_loopback
from ._view import (
    RunRow,
    damage_message,
    describe,
    model_call_detail,
    run_view,
    summarize,
    tool_call_detail,
)

__all__ = ["create_app"]

_HERE = Path(__file__).parent
STATUSES: tuple[RunStatus | str, ...] = ("running", "completed", "gave_up", "failed", "interrupted")
REASONS: tuple[ReasonKind, ...] = (
    "final_answer",
    "budget_exhausted",
    "loop_detected",
    "output_invalid",
    "model_error",
    "cancelled",
    "internal_error",
    "approval_required",
    "needs_decision",
    "guardrail_tripped",
)
CATEGORY_LABELS = {
    "completed": "Completed",
    "running": "Still running",
    "budget": "Budget exhausted",
    "loop": "Loop detected",
    "tool_errors": "Tool errors",
    "provider_errors": "Provider errors",
    "output_validation": "Invalid output",
    "guardrail": "Guardrail tripped",
    "waiting_for_approval": "Waiting for approval",
    "needs_decision": "Needs a decision",
    "cancelled": "Cancelled",
    "internal_error": "Internal error",
    "journal_unreadable": "Journal damaged",
}
EYEBROWS = {
    "completed": "How it ended",
    "running": "Where it is",
    "waiting_for_approval": "Why it stopped",
    "needs_decision": "Why it stopped",
}
WINDOWS = {"15m": 900.0, "1h": 3600.0, "24h": 86400.0, "7d": 604800.0, "30d": 2592000.0}
LIST_LIMIT = 200
_CACHE_LIMIT = 5000


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    if seconds <= 0:
        return "0 ms"
    if seconds < 0.01:
        return f"{seconds * 1000:.2g} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def _usd(cost: float) -> str:
    return f"${cost:.4f}" if cost else "—"


def _words(name: str | None) -> str:
    return (name or "").replace("_", " ")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, duration=_duration, usd=_usd, words=_words)
    env.globals.update(describe=describe, labels=CATEGORY_LABELS, eyebrows=EYEBROWS)
    return env


class _JSON(JSONResponse):
    """A JSON answer whose strings may hold unpaired surrogates: written as JSON escapes,
    which a client reads back as the run held them."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return plain_text(text).encode()


class _Summaries:
    """List rows, each read from its run's events once per change of the run."""

    def __init__(self, store: JournalStore) -> None:
        self.store = store
        self._rows: dict[str, tuple[float, int, RunRow]] = {}

    async def rows(self, infos: list[RunInfo]) -> list[RunRow]:
        if len(self._rows) > _CACHE_LIMIT:
            self._rows.clear()
        out: list[RunRow] = []
        for info in infos:
            cached = self._rows.get(info.run_id)
            if cached is not None and cached[:2] == (info.updated_at, info.events):
                out.append(cached[2])
                continue
            try:
                events, unreadable = await self.store.load_readable(info.run_id)
            except JournalError:  # a run row without events
                events, unreadable = [], []
            row = summarize(info, events)
            if unreadable:
                row = dataclasses.replace(
                    row,
                    reason_kind="journal_unreadable",
                    reason_message=damage_message(unreadable),
                    category="journal_unreadable",
                    detail=f"seq {unreadable[0].seq}",
                    summary=damage_message(unreadable),
                )
            self._rows[info.run_id] = (info.updated_at, info.events, row)
            out.append(row)
        return out


class _Filters:
    """The list's filters, as the query string gives them."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.status = q.get("status") if q.get("status") in STATUSES else None
        self.agent = q.get("agent", "").strip() or None
        self.reason = q.get("reason") if q.get("reason") in REASONS else None
        self.since = q.get("since") if q.get("since") in WINDOWS else None

    def query(self) -> str:
        pairs = {
            "status": self.status,
            "agent": self.agent,
            "reason": self.reason,
            "since": self.since,
        }
        return urlencode({k: v for k, v in pairs.items() if v})


class Viewer:
    """The viewer's state: the store, the actions, the templates and the CSRF token."""

    def __init__(self, store: str | None, agent_for: AgentFor | None) -> None:
        self.target = store
        self.store = open_store(store)
        self.actions = Actions(self.store, lambda: open_store(store), agent_for)
        self.summaries = _Summaries(self.store)
        self.templates = _environment()
        self.csrf = secrets.token_urlsafe(32)

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        html = self.templates.get_template(name).render(
            request=request, csrf=self.csrf, store=self.target or "default journal", **context
        )
        return HTMLResponse(plain_text(html), status_code)

    def csrf_ok(self, form: FormData) -> bool:
        given = form.get("csrf")
        return isinstance(given, str) and hmac.compare_digest(given, self.csrf)

    async def listed(self, f: _Filters) -> list[RunRow]:
        since = time.time() - WINDOWS[f.since] if f.since else None
        infos = await self.store.list_runs(
            status=f.status, agent=f.agent, since=since, limit=LIST_LIMIT
        )
        rows = await self.summaries.rows(infos)
        return [r for r in rows if f.reason is None or r.reason_kind == f.reason]

    async def events(self, run_id: str) -> list[Event] | None:
        try:
            return await self.store.load(run_id)
        except JournalError:
            return None

    async def unreadable(self, run_id: str) -> list[UnreadableRecord]:
        """The records of a run that do not read back (none for an unknown run)."""
        try:
            return (await self.store.load_readable(run_id))[1]
        except JournalError:
            return []

    # -- pages ---------------------------------------------------------------

    async def runs_page(self, request: Request) -> Response:
        f = _Filters(request)
        rows = await self.listed(f)
        agents = sorted({r.agent for r in await self.store.list_runs(limit=LIST_LIMIT)})
        return self.page(
            request,
            "runs.html",
            rows=rows,
            filters=f,
            statuses=STATUSES,
            reasons=REASONS,
            windows=WINDOWS,
            agents=agents,
            fingerprint=_fingerprint(rows),
        )

    async def runs_fragment(self, request: Request) -> Response:
        rows = await self.listed(_Filters(request))
        return self.page(request, "_rows.html", rows=rows)

    async def runs_json(self, request: Request) -> Response:
        rows = await self.listed(_Filters(request))
        return _JSON({"fingerprint": _fingerprint(rows), "runs": [r.as_json() for r in rows]})

    async def run_page(
        self, request: Request, outcome: Outcome | None = None, typed: dict[str, str] | None = None
    ) -> Response:
        run_id = request.path_params["run_id"]
        events = await self.events(run_id)
        if not events:
            damage = await self.unreadable(run_id)
            if damage:
                return self.page(
                    request,
                    "damaged.html",
                    409,
                    run_id=run_id,
                    records=damage,
                    message=damage_message(damage),
                )
            return self.page(request, "missing.html", 404, run_id=run_id)
        view = run_view(run_id, events, now=time.time())
        agent, why = self.actions.agent(events) if view.pending else (None, None)
        busy = self.actions.busy(run_id)
        return self.page(
            request,
            "run.html",
            outcome.status_code if outcome is not None else 200,
            view=view,
            outcome=outcome,
            notice=self.actions.notice(run_id),
            decide_blocked=None if agent is not None else why,
            typed=typed or {},
            busy=busy,
        )

    async def run_json(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        events = await self.events(run_id)
        if not events:
            damage = await self.unreadable(run_id)
            if damage:
                return _JSON(
                    {
                        "error": damage_message(damage),
                        "unreadable": [
                            {"seq": d.seq, "type": d.type, "problem": d.problem} for d in damage
                        ],
                    },
                    409,
                )
            return _JSON({"error": f"no run {run_id} in this journal"}, 404)
        view = run_view(run_id, events)
        return _JSON(
            {
                "run_id": run_id,
                "status": view.status,
                "events": len(events),
                "category": view.diagnosis.category,
                "busy": self.actions.busy(run_id),
            }
        )

    async def step_fragment(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        seq: int = request.path_params["seq"]
        events = await self.events(run_id) or []
        model = model_call_detail(events, seq)
        if model is not None:
            return self.page(request, "_model_call.html", d=model)
        tool = tool_call_detail(events, seq)
        if tool is not None:
            return self.page(request, "_tool_call.html", d=tool)
        return HTMLResponse("<p class='muted'>No such step.</p>", 404)

    # -- actions -------------------------------------------------------------

    async def decide(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        form = await request.form()
        if not self.csrf_ok(form):
            return _stale_form()
        call_id = str(form.get("call_id", ""))
        action = str(form.get("action", ""))
        message = str(form.get("message", ""))
        arguments = str(form.get("arguments", ""))

        def decision(agent: Any, call: ToolCall) -> Decision:
            return parse_decision(action, message, arguments, agent, call.name)

        outcome = await self.actions.decide(run_id, call_id, decision)
        if outcome.ok:
            return RedirectResponse(f"/runs/{run_id}", 303)
        typed = {"call_id": call_id, "message": message, "arguments": arguments}
        return await self.run_page(request, outcome, typed)

    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        form = await request.form()
        if not self.csrf_ok(form):
            return _stale_form()
        reason = str(form.get("reason", "")).strip() or "cancelled from the web viewer"
        outcome = await self.actions.cancel(run_id, reason)
        if outcome.ok:
            return RedirectResponse(f"/runs/{run_id}", 303)
        return await self.run_page(request, outcome)


def _fingerprint(rows: list[RunRow]) -> str:
    text = "|".join(f"{r.run_id}:{r.status}:{r.events}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stale_form() -> Response:
    return HTMLResponse(
        "<p>This form is out of date (the viewer was restarted): go back and reload the page.</p>",
        403,
    )


def create_app(
    store: str | None = None,
    *,
    agent_for: AgentFor | None = None,
    host: str = "127.0.0.1",
    token: str | None = None,
    cookie: str = "tether_ui",
) -> Starlette:
    """The web viewer over the journal at ``store`` (a SQLite path, a PostgreSQL URL,
    or None for ``$TETHER_DB`` / the default file).

    Args:
        store: the journal, as :func:`tether.journal.open_store` takes it.
        agent_for: finds the agent that goes on with a run, for decisions on pending
            calls (``tether resume``'s rule); without it the decision buttons explain why
            they are off.
        host: the address the server is bound to; requests naming another host are
            refused.
        token: the token every request must carry; required unless ``host`` is loopback.
        cookie: the name of the cookie that carries the token in a browser.

    Raises:
        ValueError: a non-loopback ``host`` without a token.
    """
    if token is None and not is_loopback(host):
        raise ValueError(f"a viewer bound to {host} needs a token")
    viewer = Viewer(store, agent_for)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await viewer.actions.aclose()
            await viewer.store.close()

    routes = [
        Route("/", viewer.runs_page),
        Route("/fragments/runs", viewer.runs_fragment),
        Route("/api/runs", viewer.runs_json),
        Route("/runs/{run_id}", viewer.run_page),
        Route("/api/runs/{run_id}", viewer.run_json),
        Route("/runs/{run_id}/steps/{seq:int}", viewer.step_fragment),
        Route("/runs/{run_id}/decide", viewer.decide, methods=["POST"]),
        Route("/runs/{run_id}/cancel", viewer.cancel, methods=["POST"]),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    guard = Middleware(Guard, host=host, token=token, cookie=cookie)
    return Starlette(routes=routes, middleware=[guard], lifespan=lifespan)
