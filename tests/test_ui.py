"""`tether ui` in a real browser: the runs list, why each run ended, its steps, an
approval that runs its call exactly once, a cancel, and the guards (token, Host,
Origin) of a viewer bound beyond loopback.

The viewer runs as a subprocess (`python -m tether ui`) over a SQLite journal the test
writes with real agent runs; Chromium is Debian's, driven by Playwright.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from tether import (
    Agent,
    Event,
    GuardrailChecked,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    ModelResponse,
    ModelRetried,
    ModelSwitched,
    Reason,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallStarted,
)
from tether.journal import SQLiteStore
from tether.testing import FunctionModel, ScriptedModel
from tether.ui._app import _environment
from tether.ui._view import run_view, tool_call_detail
from ui_agents import PROMPT_WITH_MARKUP, build_journal, payments

pytestmark = pytest.mark.slow

T = TypeVar("T")

TESTS = Path(__file__).parent
SHOTS = TESTS.parent / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000


def _need_browser() -> None:
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "playwright is not installed (pip install playwright)"
    if why is None and not Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the web viewer's browser tests need a browser: {why}")
        pytest.skip(f"the web viewer's browser tests need a browser: {why}")


@dataclass
class Viewer:
    """A running `tether ui` subprocess."""

    url: str
    token: str | None
    proc: subprocess.Popen[str]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _serve(store: Path, ledger: Path, *options: str) -> Viewer:
    env = {**os.environ, "TETHER_UI_LEDGER": str(ledger), "PYTHONPATH": str(TESTS)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "ui", "--store", str(store), "--port", "0", *options],
        cwd=TESTS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    found = re.search(r"(http://\S+?/)(?:\?token=(\S+))?$", line.strip())
    if found is None:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"tether ui did not start: {line!r} {err}")
    viewer = Viewer(found.group(1), found.group(2), proc)
    headers = {"authorization": f"Bearer {viewer.token}"} if viewer.token else {}
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(viewer.url, headers=headers).status_code == 200:
                return viewer
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            viewer.stop()
            raise AssertionError("tether ui did not answer within 30 s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """The four runs (completed, looped, out of budget, waiting), and the payment ledger."""
    _need_browser()
    folder = tmp_path_factory.mktemp("ui")
    ledger = folder / "ledger.jsonl"
    ledger.touch()
    store = folder / "journal.db"
    ids = asyncio.run(build_journal(store))
    return store, ids, ledger


@pytest.fixture(scope="module")
def viewer(journal: tuple[Path, dict[str, str], Path]) -> Iterator[Viewer]:
    store, _, ledger = journal
    served = _serve(store, ledger, "--agent", "ui_agents:payments")
    yield served
    served.stop()


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported late: the module may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def browser(journal: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def _row(page: Any, run_id: str) -> Any:
    return page.locator(f"tr.run-row[data-run='{run_id}']")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"ui-{name}.png"), full_page=True)


def test_the_list_shows_each_run_with_its_status_and_diagnosis(
    viewer: Viewer, journal: Any, page: Any
) -> None:
    _, ids, _ = journal
    page.goto(viewer.url)
    expected = {
        "completed": ("completed", "completed"),
        "looped": ("gave_up", "loop"),
        "budget": ("gave_up", "budget"),
        "approval": ("interrupted", "waiting_for_approval"),
    }
    assert page.locator("tr.run-row").count() == 4
    for kind, (status, category) in expected.items():
        row = _row(page, ids[kind])
        assert row.get_attribute("data-status") == status
        assert row.get_attribute("data-category") == category
    assert "repeated call" in _row(page, ids["looped"]).inner_text()
    assert "tool calls" in _row(page, ids["budget"]).inner_text()
    _shot(page, "runs")

    page.select_option("select[name=status]", "gave_up")
    page.click("form.filters button")
    page.wait_for_url("**status=gave_up**")
    assert page.locator("tr.run-row").count() == 2
    page.goto(viewer.url + "?reason=loop_detected")
    assert page.locator("tr.run-row").count() == 1
    assert _row(page, ids["looped"]).count() == 1


def _finished_run(run_id: str, agent: str, at: float) -> list[Event]:
    """The events of a short completed run of ``agent`` that began at ``at``."""
    run = {"run_id": run_id}
    return [
        RunStarted(**run, seq=0, at=at, agent=agent, prompt=f"File {run_id}.", model="scripted"),
        ModelRequested(**run, seq=1, at=at + 0.1, step=1),
        ModelResponded(
            **run,
            seq=2,
            at=at + 0.2,
            step=1,
            response=ModelResponse(text="Filed.", model="scripted"),
            cost_usd=0.0,
            duration_s=0.1,
        ),
        RunFinished(
            **run,
            seq=3,
            at=at + 0.3,
            status="completed",
            reason=Reason("final_answer", "The model gave its answer."),
            output="Filed.",
        ),
    ]


def _listed(page: Any) -> set[str]:
    rows = page.locator("tr.run-row")
    return set(rows.evaluate_all("rows => rows.map(r => r.dataset.run)"))


def test_the_agent_and_time_filters_narrow_the_list(tmp_path: Path, page: Any) -> None:
    store_path = tmp_path / "journal.db"
    now = time.time()
    runs = [
        _finished_run("archivist-old", "archivist", now - 2 * 3600),
        _finished_run("archivist-new", "archivist", now - 60),
        _finished_run("clerk-new", "clerk", now - 30),
    ]

    async def write() -> None:
        store = SQLiteStore(store_path)
        try:
            for events in runs:
                await store.append(events[0].run_id, events)
        finally:
            await store.close()

    _run_async(write)
    ledger = tmp_path / "ledger.jsonl"
    served = _serve(store_path, ledger)
    try:
        page.goto(served.url)
        assert _listed(page) == {"archivist-old", "archivist-new", "clerk-new"}

        page.select_option("select[name=agent]", "archivist")
        page.click("form.filters button")
        page.wait_for_url("**agent=archivist**")
        assert _listed(page) == {"archivist-old", "archivist-new"}

        page.select_option("select[name=since]", "1h")  # the agent stays selected
        page.click("form.filters button")
        page.wait_for_url("**since=1h**")
        assert "agent=archivist" in page.url
        assert _listed(page) == {"archivist-new"}

        page.goto(served.url + "?since=1h")
        assert _listed(page) == {"archivist-new", "clerk-new"}
        page.goto(served.url + "?since=24h")
        assert _listed(page) == {"archivist-old", "archivist-new", "clerk-new"}
        page.goto(served.url + "?agent=clerk&since=15m")
        assert _listed(page) == {"clerk-new"}
        page.goto(served.url + "?agent=nobody")
        assert _listed(page) == set()
        assert "No runs match" in page.locator("#run-rows").inner_text()

        api = httpx2.get(served.url + "api/runs", params={"agent": "archivist", "since": "1h"})
        assert [r["run_id"] for r in api.json()["runs"]] == ["archivist-new"]
    finally:
        served.stop()


def test_every_page_of_runs_holding_unpaired_surrogates_shows_them_escaped(
    tmp_path: Path,
) -> None:
    surrogate = "\ud800"  # UTF-8 cannot encode it as it is
    store_path = tmp_path / "journal.db"

    def search(query: str) -> str:
        """Search the docs."""
        return f"found {query}"

    def broken(messages: Any, params: Any) -> str:
        raise ValueError(f"kaput {surrogate}")

    async def write() -> list[tuple[str, list[int]]]:
        store = SQLiteStore(store_path)
        try:
            model = ScriptedModel([ToolCall("search", {"query": surrogate}, "c1"), surrogate])
            answered = await Agent(model, tools=[search], store=store, name="docs").run(
                f"find {surrogate}"
            )
            failed = await Agent(FunctionModel(broken), store=store, name="fails").run("go")
        finally:
            await store.close()
        return [(r.run_id, [e.seq for e in r.events]) for r in (answered, failed)]

    served = _serve(store_path, tmp_path / "ledger.jsonl")  # it waits for the list's 200
    try:
        runs = _run_async(write)
        for path in ("", "fragments/runs", "api/runs"):
            listed = httpx2.get(served.url + path)
            assert listed.status_code == 200, path
            assert "kaput \\ud800" in listed.text, path  # the failed run's diagnosis
        # JSON writes it as the escape it is: a client reads the run's text back as it was.
        rows = {r["run_id"]: r for r in httpx2.get(served.url + "api/runs").json()["runs"]}
        assert rows[runs[1][0]]["summary"].endswith(f"kaput {surrogate}")
        for run_id, seqs in runs:
            page = httpx2.get(f"{served.url}runs/{run_id}")
            assert page.status_code == 200, run_id
            assert "\\ud800" in page.text
            assert httpx2.get(f"{served.url}api/runs/{run_id}").status_code == 200
            steps = [httpx2.get(f"{served.url}runs/{run_id}/steps/{seq}") for seq in seqs]
            assert {r.status_code for r in steps} <= {200, 404}
            assert any("\\ud800" in r.text for r in steps if r.status_code == 200)
    finally:
        served.stop()


def test_a_looped_run_says_loop_and_its_kind(viewer: Viewer, journal: Any, page: Any) -> None:
    _, ids, _ = journal
    page.goto(viewer.url)
    _row(page, ids["looped"]).locator("a").click()
    diagnosis = page.locator("#diagnosis")
    assert diagnosis.locator(".eyebrow").text_content() == "Why it failed"
    assert "Loop detected" in diagnosis.inner_text()
    assert diagnosis.locator(".dx-detail").inner_text() == "repeated call"
    assert "1 loop correction(s): repeated_call" in diagnosis.inner_text()
    assert page.locator(".bar-row.kind-model").count() == 5
    assert page.locator(".bar-row.kind-tool").count() == 4
    assert page.locator("[data-mark=loop]").count() == 2
    assert page.locator("[data-mark=fallback]").count() == 1

    page.locator(".bar-row.kind-tool").first.click()
    detail = page.locator("#detail .tool-detail")
    detail.wait_for()
    assert json.loads(detail.locator("pre.args").inner_text()) == {"query": "refund policy"}
    assert "2 pages match 'refund policy'" in detail.locator("pre.result").inner_text()
    assert page.url.endswith("#step-3")
    _shot(page, "run-failed")

    page.locator(".bar-row.kind-model").nth(3).click()
    model = page.locator("#detail .model-detail")
    model.wait_for()
    notes = model.locator(".msg.role-note")
    assert notes.count() == 1
    assert "3 times with the same arguments" in notes.inner_text()


def test_a_budget_run_says_which_budget(viewer: Viewer, journal: Any, page: Any) -> None:
    _, ids, _ = journal
    page.goto(f"{viewer.url}runs/{ids['budget']}")
    diagnosis = page.locator("#diagnosis")
    assert "Budget exhausted" in diagnosis.inner_text()
    assert diagnosis.locator(".dx-detail").inner_text() == "tool calls"
    assert "The tool calls budget is used up (3 of 3)." in diagnosis.inner_text()
    assert page.locator("[data-mark=budget_warning]").count() == 1
    exhausted = page.locator("[data-mark=budget_exhausted]")
    assert "tool_calls: 3 of 3 used" in exhausted.inner_text()


def test_the_completed_run_shows_its_answer_and_markup_as_text(
    viewer: Viewer, journal: Any, page: Any
) -> None:
    _, ids, _ = journal
    page.goto(f"{viewer.url}runs/{ids['completed']}")
    assert page.locator("#answer").inner_text().endswith("It runs JavaScript in the page.")
    assert page.locator("h1.prompt").inner_text() == PROMPT_WITH_MARKUP
    assert page.evaluate("window.pwned") is None
    assert page.locator("script").count() == 1  # ui.js, and not the prompt's

    page.locator(".bar-row.kind-model").nth(1).click()
    model = page.locator("#detail .model-detail")
    model.wait_for()
    sent = model.locator("ol.messages").first
    assert sent.locator(".msg").count() == 3  # the prompt, the model's call, the result
    assert sent.locator(".msg.role-user").inner_text().endswith(PROMPT_WITH_MARKUP)
    assert "2 pages match 'script tag'" in sent.locator(".msg.role-tool").inner_text()
    assert "It runs JavaScript" in model.locator("ol.messages").nth(1).inner_text()
    assert page.evaluate("window.pwned") is None


def _run_async(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine function to its end from a test whose thread Playwright's own
    event loop occupies."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()


def _ledger(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_approving_runs_the_call_once_and_the_run_finishes(
    viewer: Viewer, journal: Any, browser: Any, page: Any
) -> None:
    _, ids, ledger = journal
    run_url = f"{viewer.url}runs/{ids['approval']}"
    page.goto(run_url)
    pending = page.locator("#pending-call-pay")
    assert pending.locator(".tool-name").inner_text() == "pay"
    assert json.loads(pending.locator("pre.args").inner_text()) == {
        "payee": "ACME",
        "amount_eur": 40,
    }
    _shot(page, "approval")
    other_tab = page.context.new_page()
    # A tab that has not caught up yet: a run page follows its run (it reloads at the
    # next poll after the run changed, within 2 s), so this tab's polls are held back,
    # or on a slow machine it reloads before the stale click below.
    other_tab.route("**/api/runs/**", lambda route: route.abort())
    other_tab.goto(run_url)

    pending.locator("details.edit summary").click()
    pending.locator("textarea[name=arguments]").fill('{"payee": "ACME", "amount_eur": ')
    pending.locator("button.edit-approve").click()
    assert "the arguments are not valid JSON" in page.locator("#outcome").inner_text()
    page.locator("#pending-call-pay textarea[name=arguments]").fill(
        '{"payee": "ACME", "amount_eur": "forty"}'
    )
    page.locator("#pending-call-pay button.edit-approve").click()
    assert (
        "pay does not accept these arguments: amount_eur:" in page.locator("#outcome").inner_text()
    )
    assert _ledger(ledger) == []

    page.locator("#pending-call-pay button.approve").click()
    page.wait_for_selector("#run-status.status-completed")
    assert (
        "call-pay approved; the run went on and ended completed"
        in page.locator("#notice").inner_text()
    )
    assert "Paid ACME 40.00 EUR" in page.locator("#answer").inner_text()
    assert page.locator("#approvals").count() == 0

    other_tab.locator("#pending-call-pay button.approve").click()
    assert "Already decided: call-pay was approved" in other_tab.locator("#outcome").inner_text()
    assert _ledger(ledger) == [{"payee": "ACME", "amount_eur": 40.0}]


def test_an_edited_approval_runs_the_edited_call_once_and_the_run_finishes(
    viewer: Viewer, journal: Any, page: Any
) -> None:
    store_path, _, ledger = journal
    paid = _ledger(ledger)
    call = ToolCall("pay", {"payee": "Initech", "amount_eur": 900}, id="pay-edit")
    run_id = _waiting_run(store_path, call, "Pay Initech.")
    run_url = f"{viewer.url}runs/{run_id}"
    page.goto(run_url)
    other_tab = page.context.new_page()
    other_tab.goto(run_url)

    pending = page.locator("#pending-pay-edit")
    pending.locator("details.edit summary").click()
    pending.locator("textarea[name=arguments]").fill('{"payee": "Initech", "amount_eur": 90}')
    pending.locator("button.edit-approve").click()
    page.wait_for_selector("#run-status.status-completed")
    assert (
        "pay-edit approved with edits; the run went on and ended completed"
        in page.locator("#notice").inner_text()
    )
    assert page.locator("#approvals").count() == 0
    page.locator(".bar-row.kind-tool").first.click()
    detail = page.locator("#detail .tool-detail")
    detail.wait_for()
    assert json.loads(detail.locator("pre.args").inner_text()) == {
        "payee": "Initech",
        "amount_eur": 90,
    }
    assert "paid 90.00 EUR to Initech" in detail.locator("pre.result").inner_text()

    # The tab opened before the decision cannot run the call a second time.
    other_tab.locator("#pending-pay-edit button.approve").click()
    assert "Already decided: pay-edit was" in other_tab.locator("#outcome").inner_text()
    assert _ledger(ledger) == [*paid, {"payee": "Initech", "amount_eur": 90.0}]

    async def started() -> list[ToolCallStarted]:
        store = SQLiteStore(store_path)
        try:
            return [e for e in await store.load(run_id) if isinstance(e, ToolCallStarted)]
        finally:
            await store.close()

    (only,) = _run_async(started)
    assert (only.call.id, only.call.arguments) == (
        "pay-edit",
        {"payee": "Initech", "amount_eur": 90},
    )


def _waiting_run(store_path: Path, call: ToolCall, prompt: str) -> str:
    """A new payments run that stops for approval of ``call``; its id."""

    async def run() -> str:
        store = SQLiteStore(store_path)
        agent = payments([call])
        agent.store = store
        try:
            return (await agent.run(prompt)).run_id
        finally:
            await store.close()

    return _run_async(run)


def test_rejecting_tells_the_model_why_and_runs_nothing(
    viewer: Viewer, journal: Any, page: Any
) -> None:
    store_path, _, ledger = journal
    paid = _ledger(ledger)
    call = ToolCall("pay", {"payee": "Globex", "amount_eur": 5000}, id="pay-big")
    run_id = _waiting_run(store_path, call, "Pay Globex.")
    page.goto(f"{viewer.url}runs/{run_id}")
    page.fill("#pending-pay-big input[name=message]", "5000 EUR needs a second signature")
    page.click("#pending-pay-big button.reject")
    page.wait_for_selector("#run-status.status-completed")
    assert "pay-big rejected" in page.locator("#notice").inner_text()
    page.locator(".bar-row.kind-tool").first.click()
    detail = page.locator("#detail .tool-detail")
    detail.wait_for()
    assert "rejected this call: “5000 EUR needs a second signature”" in detail.inner_text()
    assert "5000 EUR needs a second signature" in detail.locator("pre.result").inner_text()
    assert _ledger(ledger) == paid


def test_a_live_run_appears_by_itself_and_can_be_cancelled(
    viewer: Viewer, journal: Any, page: Any
) -> None:
    store_path, _, _ = journal
    page.goto(viewer.url)
    before = page.locator("tr.run-row").count()
    code = (
        "import asyncio, pathlib, sys, ui_agents; "
        "asyncio.run(ui_agents.run_long(pathlib.Path(sys.argv[1])))"
    )
    live = subprocess.Popen([sys.executable, "-c", code, str(store_path)], cwd=TESTS)
    try:
        row = page.locator("tr.run-row[data-status=running]")
        row.wait_for()  # no reload: the list follows the journal
        assert page.locator("tr.run-row").count() == before + 1
        row.locator("a").click()
        assert page.locator("#diagnosis .dx-category").inner_text() == "Still running"
        page.locator(".bar-row.kind-tool.state-open").wait_for()
        page.fill("#cancel input[name=reason]", "the deploy was rolled back")
        page.click("#cancel button")
        # the run's own process stops it; the page follows the journal until it has
        expect(page.locator("#diagnosis .dx-category")).to_have_text("Cancelled")
        assert "the deploy was rolled back" in page.locator("#diagnosis").inner_text()
        assert live.wait(10) == 0
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()


def test_the_loopback_viewer_refuses_other_hosts_and_foreign_posts(
    viewer: Viewer, journal: Any
) -> None:
    _, ids, _ = journal
    assert httpx2.get(viewer.url).status_code == 200  # loopback: no token
    rebound = httpx2.get(viewer.url, headers={"host": "attacker.example"})
    assert rebound.status_code == 403
    decide = f"{viewer.url}runs/{ids['approval']}/decide"
    foreign = httpx2.post(decide, headers={"origin": "http://attacker.example"})
    assert foreign.status_code == 403
    cross = httpx2.post(decide, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    no_csrf = httpx2.post(decide, data={"call_id": "call-pay", "action": "approve"})
    assert no_csrf.status_code == 403


@pytest.fixture(scope="module")
def guarded(journal: tuple[Path, dict[str, str], Path]) -> Iterator[Viewer]:
    """A viewer bound beyond 127.0.0.1, with a generated token and no --agent."""
    store, _, ledger = journal
    served = _serve(store, ledger, "--host", "127.0.0.2")
    yield served
    served.stop()


def test_beyond_loopback_every_request_needs_the_token(guarded: Viewer) -> None:
    assert guarded.token is not None
    assert len(guarded.token) >= 24
    assert guarded.url.startswith("http://127.0.0.2:")
    for path in ("", "api/runs", "static/ui.css"):
        refused = httpx2.get(guarded.url + path)
        assert refused.status_code == 401, path
    wrong = httpx2.get(guarded.url, headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    bearer = {"authorization": f"Bearer {guarded.token}"}
    assert httpx2.get(guarded.url + "api/runs", headers=bearer).status_code == 200
    assert httpx2.get(guarded.url, headers={**bearer, "host": "localhost"}).status_code == 403

    once = httpx2.get(f"{guarded.url}?token={guarded.token}&status=completed")
    assert once.status_code == 303
    assert once.headers["location"] == "/?status=completed"
    cookie = once.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    name, _, rest = cookie.partition("=")
    jar = {name: rest.partition(";")[0]}
    assert httpx2.get(guarded.url, cookies=jar).status_code == 200


def test_without_an_agent_the_decision_buttons_explain_why_they_are_off(
    guarded: Viewer, journal: Any, page: Any
) -> None:
    store_path, _, _ = journal

    call = ToolCall("pay", {"payee": "Hooli", "amount_eur": 12}, id="pay-3")
    run_id = _waiting_run(store_path, call, "Pay Hooli.")
    page.goto(f"{guarded.url}?token={guarded.token}")  # the cookie carries it from here
    _row(page, run_id).locator("a").click()
    assert page.locator("#pending-pay-3 fieldset.decisions").get_attribute("disabled") == ""
    for button in ("approve", "reject", "edit-approve"):
        assert page.locator(f"#pending-pay-3 button.{button}").is_disabled()
    blocked = page.locator("#decide-blocked").inner_text()
    assert "is of agent 'payments'" in blocked
    assert "--agent module:attribute" in blocked


def test_the_waterfall_marks_retries_switches_guardrails_and_failures() -> None:

    call = ToolCall("wire", {"iban": "<b>DE00</b>"}, id="c1")
    run = {"run_id": "r1"}
    events = [
        RunStarted(**run, seq=0, at=100.0, agent="bank", prompt="Wire it", model="a"),
        ModelRequested(**run, seq=1, at=100.1, step=1),
        ModelRetried(**run, seq=2, at=100.2, model="a", attempt=1, error="503", delay_s=0.5),
        ModelSwitched(**run, seq=3, at=100.8, from_model="a", to_model="b", cause="503 again"),
        ModelResponded(
            **run,
            seq=4,
            at=101.0,
            step=1,
            response=ModelResponse(tool_calls=[call], model="b"),
            cost_usd=0.01,
            duration_s=0.9,
        ),
        GuardrailChecked(
            **run,
            seq=5,
            at=101.1,
            stage="tool_call",
            guardrail="no-wires",
            tripped=True,
            action="end",
            reason="wires are not allowed",
            call_id="c1",
        ),
        ToolCallStarted(**run, seq=6, at=101.2, step=1, call=call, idempotency_key="r1:c1"),
        ModelRequested(**run, seq=7, at=101.3, step=2),
        ModelFailed(**run, seq=8, at=101.5, step=2, error="context too long"),
        RunFinished(
            **run,
            seq=9,
            at=102.0,
            status="failed",
            reason=Reason("guardrail_tripped", "A guardrail ended the run.", "no-wires"),
        ),
    ]
    view = run_view("r1", events)
    marks = [r.kind for r in view.rows if not r.is_bar]
    assert marks == ["retry", "switch", "guardrail"]
    bars = [(r.kind, r.state) for r in view.rows if r.is_bar]
    assert bars == [("model", "ok"), ("tool", "cut"), ("model", "error")]
    assert view.diagnosis.category == "guardrail"
    env = _environment()
    html = env.get_template("run.html").render(
        view=view,
        outcome=None,
        notice=None,
        decide_blocked=None,
        typed={},
        busy=False,
        csrf="x",
        store="s",
    )
    assert "Guardrail tripped" in html
    assert "503 again" in html
    assert "<b>DE00</b>" not in html
    detail = env.get_template("_tool_call.html").render(d=tool_call_detail(events, 6))
    assert "&lt;b&gt;DE00&lt;/b&gt;" in detail
    assert "no result journaled" in detail


def test_a_run_with_an_unreadable_record_is_shown_as_damaged_not_missing(
    tmp_path: Path, page: Any
) -> None:
    import sqlite3

    store = tmp_path / "damaged.db"

    async def make() -> dict[str, str]:
        journal = SQLiteStore(store)
        try:
            return {
                name: (await Agent(ScriptedModel(["fine"]), store=journal).run(name)).run_id
                for name in ("good", "bad")
            }
        finally:
            await journal.close()

    ids = _run_async(make)
    conn = sqlite3.connect(store)
    conn.execute(
        'UPDATE events SET data = replace(data, \'"type":"model_responded"\', '
        '\'"type":"model_exploded"\') WHERE run_id = ?',
        (ids["bad"],),
    )
    conn.commit()
    conn.close()
    served = _serve(store, tmp_path / "ledger.jsonl")
    try:
        listed = {r["run_id"]: r for r in httpx2.get(f"{served.url}api/runs").json()["runs"]}
        assert listed[ids["good"]]["reason"] == "final_answer"
        bad = listed[ids["bad"]]
        assert (bad["reason"], bad["category"], bad["detail"]) == (
            "journal_unreadable",
            "journal_unreadable",
            "seq 2",
        )
        assert "unreadable record at seq 2 (model_responded)" in bad["summary"]
        api = httpx2.get(f"{served.url}api/runs/{ids['bad']}")
        assert api.status_code == 409
        assert [(r["seq"], r["type"]) for r in api.json()["unreadable"]] == [(2, "model_responded")]
        assert httpx2.get(f"{served.url}runs/not-a-run").status_code == 404  # still missing
        page.goto(f"{served.url}runs/{ids['bad']}")
        expect(page.locator("h1")).to_have_text("This run's journal is damaged")
        expect(page.locator("tr.unreadable[data-seq='2']")).to_contain_text("model_responded")
        expect(page.locator("p.damage")).to_contain_text("tether doctor")
    finally:
        served.stop()
