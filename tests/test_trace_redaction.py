"""Secrets kept out of traces however they are written: escaped in JSON or a ``repr``,
and short ones hidden where they stand as a word, as the journal hides them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tether.tracing
from tether import Agent, ToolCall
from tether.testing import ScriptedModel

# Each holds what JSON or a repr escapes: a backslash (a Windows path), a double quote,
# both kinds of quote, letters outside ASCII.
ENV_SECRETS = {
    "DB_PASSWORD": "C:\\vault\\Tr0ub4dor",
    "SERVICE_TOKEN": 'x"y-tok3n-42',
    "VAULT_KEY_PATH": 'it\'s a "key"-9917',  # named in redact_env, not by its name
    "LEGACY_SECRET": "pässwörd\\Ωmega-31",
}


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tether.tracing.instrument(provider, capture_content=True, redact_env=("VAULT_KEY_PATH",))
    yield exporter
    tether.tracing.uninstrument()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Sequence):
        for item in value:
            yield from _strings(item)


def _texts(spans: Sequence[ReadableSpan]) -> list[str]:
    """Every string of every span: names, attributes, events and statuses."""
    texts: list[str] = []
    for span in spans:
        texts.append(span.name)
        texts.extend(t for v in (span.attributes or {}).values() for t in _strings(v))
        for event in span.events:
            texts.append(event.name)
            texts.extend(t for v in (event.attributes or {}).values() for t in _strings(v))
        if span.status.description:
            texts.append(span.status.description)
    return texts


def _written(secret: str) -> dict[str, str]:
    """The ways a secret may be written into a span."""
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-ascii": json.dumps(secret, ensure_ascii=True)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "repr": repr(secret)[1:-1],
    }


def _spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tether.tracing.flush()
    return list(exporter.get_finished_spans())


async def test_env_secrets_holding_backslashes_or_quotes_reach_no_span_in_any_form(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    values = list(ENV_SECRETS.values())

    def connect(dsn: str, note: str, path: str, legacy: str) -> dict[str, Any]:
        """Connect (echoes what it was given, as tools do)."""
        return {"ok": True, "echo": [dsn, note, path, legacy]}

    def dump(which: int) -> str:
        """Returns a secret as a JSON text of its own (every non-ASCII letter escaped)."""
        return json.dumps({"value": values[which]})

    def check(which: int) -> str:
        """Fails with the secret's repr in its message."""
        raise ValueError(f"cannot use {values[which]!r}")

    calls = [
        ToolCall("connect", dict(zip(("dsn", "note", "path", "legacy"), values, strict=True))),
        *(ToolCall("dump", {"which": i}) for i in range(len(values))),
        *(ToolCall("check", {"which": i}) for i in range(len(values))),
        f"connected with {values[0]} and {values[2]}",
    ]
    agent = Agent(ScriptedModel(calls), tools=[connect, dump, check])
    result = await agent.run(f"connect to {values[0]!r} as {json.dumps(values[1])}")
    assert result.completed

    spans = _spans(exporter)
    assert any("gen_ai.tool.call.arguments" in (s.attributes or {}) for s in spans)
    texts = _texts(spans)
    assert any("***" in t for t in texts)  # content was captured, and redacted
    leaks = [
        (name, form)
        for name, secret in ENV_SECRETS.items()
        for form, written in _written(secret).items()
        if any(written in t for t in texts)
    ]
    assert leaks == []


async def test_a_short_env_secret_is_hidden_only_where_it_stands_as_a_word(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the journal hides a short secret: a four-digit PIN must not blank every number
    # that happens to hold its digits.
    monkeypatch.setenv("DOOR_TOKEN", "4242")
    agent = Agent(ScriptedModel(["done"]))
    await agent.run("the door token is 4242; order 142420 ships today")

    (run,) = [s for s in _spans(exporter) if s.name.startswith("invoke_agent")]
    prompt = str((run.attributes or {})["gen_ai.input.messages"])
    assert "the door token is ***;" in prompt
    assert "order 142420 ships" in prompt
