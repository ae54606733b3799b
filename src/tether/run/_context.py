"""Working memory: the conversation kept under a token budget.

Before a model call on the conversation, a run with working memory counts what
it would send. Past the budget, the oldest turns give way to a running summary
written by a summariser model: the system message (with its pinned facts) and
the run's own prompt always stay, the newest turns stay verbatim, and the cut
falls only where a turn begins, so a tool call is never parted from its result
and the sequence stays one that providers accept (the system message, then a
user turn, then assistant turns each followed by their results).

The compaction is journaled as :class:`~tether.ContextCompacted` and applied by
the fold, so a resumed run rebuilds exactly the context it had before a crash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tether._errors import ConfigError
from tether._events import ContextCompacted
from tether._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    TokenUsage,
    ToolResultMessage,
    UserMessage,
)
from tether.models import Model, ModelParams, resolve_model

from ._state import RunState

E = TypeVar("E")


class _Recording(Protocol):
    """What compaction needs of a run: its state, and recording an event."""

    @property
    def state(self) -> RunState: ...

    def record(self, kind: type[E], /, **fields: Any) -> E: ...


__all__ = [
    "SUMMARY_HEADING",
    "ContextKeeper",
    "WorkingMemory",
    "summarise",
    "valid_sequence",
]

SUMMARY_HEADING = "\n\n## Summary of the earlier part of this conversation\n"
"""What precedes the running summary in the system message."""

PINNED_HEADING = "\n\n## Facts to keep in mind\n"
"""What precedes the pinned facts in the system message."""

_PER_MESSAGE = 4  # tokens a chat template adds around each message, about
# The most tokens a setting may say: sizes are compared as floats (scaled by a ratio),
# which hold whole numbers exactly up to here, and no context window comes near it.
_MAX_TOKENS = 2**53
_SUMMARISE = (
    "You keep the notes of a long task. Write a short summary of the conversation "
    "below for whoever goes on with the task: the facts found (exact numbers, names "
    "and values), what was done and what it returned, what failed, and what is still "
    "to do. Plain sentences or a list; no preamble. At most {words} words."
)


@dataclass(frozen=True, slots=True)
class WorkingMemory:
    """How much of the conversation a run sends to the model, and what becomes of the rest.

    Args:
        max_tokens: the conversation's budget in tokens. By default the model's context
            window (:attr:`~tether.models.Model.context_window`) less ``reserve``.
        reserve: tokens left free for the answer when the budget comes from the window.
        compact_to: once past the budget, the conversation is cut down to this fraction
            of it (so compactions are rare, not one per step).
        summarizer: the model that writes the summaries, or its name (``"demo"``,
            ``"openai:gpt-4o-mini"``), resolved when the policy is made, as
            :class:`~tether.Agent` resolves its model (the attribute then holds the
            model); the run's own by default.
        pinned: facts always shown to the model, in the system message (kept as a
            tuple; ``None`` is none).
        summary_tokens: about how long a summary may be.

    Raises:
        ConfigError: a value out of range or of the wrong type, or an unknown model
            name (the message says which).
    """

    max_tokens: int | None = None
    reserve: int = 1024
    compact_to: float = 0.6
    summarizer: Model | str | None = None
    pinned: Sequence[str] | None = ()
    summary_tokens: int = 300

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            _check_tokens("max_tokens", self.max_tokens, 64, " (None: the model's window)")
        _check_tokens("reserve", self.reserve, 0)
        _check_tokens("summary_tokens", self.summary_tokens, 16)
        fraction = self.compact_to
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0.1 <= fraction < 1
        ):
            raise ConfigError(
                f"WorkingMemory.compact_to must be a fraction in [0.1, 1), got {_shown(fraction)}"
            )
        object.__setattr__(self, "summarizer", _summarizer(self.summarizer))
        object.__setattr__(self, "pinned", _pinned(self.pinned))

    def budget_for(self, model: Model) -> int:
        """The conversation's budget in tokens for a run on ``model``.

        Raises:
            ConfigError: no ``max_tokens`` was given and the model does not say its window.
        """
        if self.max_tokens is not None:
            return self.max_tokens
        window = model.context_window
        if window is None:
            raise ConfigError(
                f"model {model.name!r} does not say its context window: give "
                "WorkingMemory(max_tokens=...), or the model's context_window="
            )
        if window - self.reserve < 64:
            raise ConfigError(
                f"model {model.name!r} has a context window of {window} tokens, too small "
                f"for WorkingMemory(reserve={self.reserve}); lower reserve"
            )
        return window - self.reserve

    def system_with_pins(self, system: str) -> str:
        """The system message with the pinned facts added."""
        if not self.pinned:
            return system
        return system + PINNED_HEADING + "\n".join(f"- {p}" for p in self.pinned)


def _check_tokens(name: str, value: object, least: int, none: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= _MAX_TOKENS:
        raise ConfigError(
            f"WorkingMemory.{name} must be a whole number of tokens from {least} to "
            f"{_MAX_TOKENS:,}{none}, got {_shown(value)}"
        )


def _summarizer(summarizer: object) -> Model | None:
    if summarizer is None or isinstance(summarizer, Model):
        return summarizer
    if not isinstance(summarizer, str):
        raise ConfigError(
            "WorkingMemory.summarizer is a tether.models.Model, a model name such as "
            f"'demo', or None for the run's own model; got {_shown(summarizer)}"
        )
    return resolve_model(summarizer)


def _pinned(pinned: object) -> tuple[str, ...]:
    if pinned is None:
        return ()
    facts = tuple(pinned) if isinstance(pinned, Iterable) and not isinstance(pinned, str) else None
    if facts is None or not all(isinstance(p, str) for p in facts):
        raise ConfigError(
            "WorkingMemory.pinned is a sequence of str (facts), not one str; None for none; "
            f"got {_shown(pinned)}"
        )
    return facts


def _shown(value: object) -> str:
    """``value`` for an error message (Python writes no int of over 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length():,} bits"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def message_text(m: Message) -> str:
    """What a message says, as the model reads it (for counting and summarising)."""
    if isinstance(m, AssistantMessage):
        calls = " ".join(f"{c.name}({c.arguments_json()})" for c in m.tool_calls)
        return f"{m.text or ''} {calls}" if calls else m.text or ""
    if isinstance(m, ToolResultMessage):
        return f"{m.name}: {m.content}"
    return m.content


def valid_sequence(messages: Sequence[Message]) -> str | None:
    """Why a provider would refuse this sequence, or None when OpenAI, Anthropic and
    llama.cpp's chat templates all accept it.

    The rules: at most one system message, first; then a user turn; every tool result
    answers a call of the assistant turn just before it (results of one turn may be in
    any order, but directly after it); every call of a turn that is not the last has
    its result.
    """
    if not messages:
        return "no messages"
    rest = list(messages)
    if isinstance(rest[0], SystemMessage):
        rest = rest[1:]
    if any(isinstance(m, SystemMessage) for m in rest):
        return "a system message after the first message"
    if not rest or not isinstance(rest[0], UserMessage):
        return "the first message after the system message is not a user turn"
    open_ids: set[str] = set()
    answering = False
    for i, m in enumerate(rest):
        if isinstance(m, ToolResultMessage):
            if not answering or m.call_id not in open_ids:
                return f"message {i}: a tool result without its call just before it"
            open_ids.discard(m.call_id)
            continue
        if open_ids:
            return f"message {i}: a call of the turn before has no result"
        answering = False
        if isinstance(m, AssistantMessage) and m.tool_calls:
            open_ids = {c.id for c in m.tool_calls}
            answering = True
    return None


class ContextKeeper:
    """One run's working memory: counts the conversation, and compacts it when needed.

    Counts are the model's own tokens when it has a tokenizer; otherwise an estimate
    (four bytes a token) scaled by the ratio of the input tokens the provider reported
    for the latest call to the estimate sent with it. That ratio is kept in the run's
    state by the fold (:attr:`RunState.ratio`), so a resumed run decides as the run
    would have.
    """

    __slots__ = ("_exact", "budget", "counted_at", "model", "policy", "sizes", "tool_sizes")

    def __init__(self, policy: WorkingMemory, model: Model) -> None:
        self.policy = policy
        self.model = model
        self.budget = policy.budget_for(model)
        self.sizes: list[int] = []  # per message of the conversation, in order
        self.counted_at = -1  # the number of compactions when sizes were counted
        self.tool_sizes: dict[int, int] = {}
        self._exact: bool | None = None  # asked at the first count (it may load weights)

    # --- counting -------------------------------------------------------------------------

    @property
    def exact(self) -> bool:
        """True when the model counts its own tokens."""
        if self._exact is None:
            self._exact = self.model.count_tokens("a") is not None
        return self._exact

    def count(self, text: str) -> int:
        """Tokens of ``text``: the model's tokenizer, or the unscaled estimate."""
        if self.exact:
            return self.model.count_tokens(text) or 0
        return math.ceil(len(text.encode("utf-8", "replace")) / 4)

    def _size(self, m: Message) -> int:
        return self.count(message_text(m)) + _PER_MESSAGE

    def measure(self, messages: Sequence[Message], compactions: int) -> int:
        """The conversation's size, unscaled (new messages are counted, the rest remembered)."""
        sizes = self.sizes
        if compactions != self.counted_at or len(sizes) > len(messages):
            sizes.clear()
            self.counted_at = compactions
        for m in messages[len(sizes) :]:
            sizes.append(self._size(m))
        return sum(sizes)

    def tools_size(self, params: ModelParams) -> int:
        """Tokens the tool definitions of a call take, unscaled."""
        key = id(params.tools)
        size = self.tool_sizes.get(key)
        if size is None:
            size = sum(self.count(f"{t.name} {t.description} {t.parameters}") for t in params.tools)
            self.tool_sizes[key] = size
        return size

    def ratio(self, st: RunState) -> float:
        """Tokens per unit of the estimate: 1 with the model's own tokenizer."""
        return 1.0 if self.exact else st.ratio

    # --- compacting -----------------------------------------------------------------------

    async def fit(self, run: _Recording, params: ModelParams) -> int:
        """Compact the conversation if this call would pass the budget; return the
        size it is sent with (unscaled: journaled with the call, it gives the ratio)."""
        st = run.state
        extra = self.tools_size(params) if params.allow_tools else 0
        extra += sum(self.count(n) + _PER_MESSAGE for n in st.notes)  # joining it now
        size = self.measure(st.messages, st.compactions) + extra
        ratio = self.ratio(st)
        if size * ratio <= self.budget:
            return size
        first = st.messages[0]
        base = st.system_base if st.system_base is not None else message_text(first)
        base_size = self.count(base + SUMMARY_HEADING) + _PER_MESSAGE
        cut = self._cut(st.messages, st.prompt_index, base_size + extra, ratio)
        if cut is None:
            return size  # nothing can go without parting a call from its result
        summary, response, name = await self._summarise(run, st.messages, cut, st.prompt_index)
        usage = response.usage if response is not None else TokenUsage()
        cost = 0.0
        if response is not None:
            if response.cost_usd is not None:
                cost = response.cost_usd
            elif self.summarizer.price is not None:
                cost = self.summarizer.price.cost(usage)
        sizes = self.sizes
        after = base_size + self.count(summary) + extra + sum(sizes[cut:])
        if cut > st.prompt_index:
            after += sizes[st.prompt_index]
        run.record(
            ContextCompacted,
            step=st.step,
            cut=cut,
            summary=summary,
            tokens_before=math.ceil(size * ratio),
            tokens_after=math.ceil(after * ratio),
            model=name,
            usage=usage,
            cost_usd=cost,
        )
        return self.measure(st.messages, st.compactions) + extra

    @property
    def summarizer(self) -> Model:
        """The model that writes the summaries."""
        chosen = self.policy.summarizer  # a Model or None: a name was resolved when made
        return chosen if isinstance(chosen, Model) else self.model

    def _cut(
        self, messages: Sequence[Message], prompt_index: int, head: int, ratio: float
    ) -> int | None:
        """Where the kept tail begins: the first turn start that brings the conversation
        under the target, else the last turn start there is (None: no turn can go).

        ``head`` is the size of what leads the compacted conversation (the system
        message and the tool definitions) without the summary.
        """
        sizes = self.sizes
        target = self.budget * self.policy.compact_to / ratio  # unscaled, as the sizes
        head += self.policy.summary_tokens
        suffix = [0] * (len(sizes) + 1)
        for i in range(len(sizes) - 1, -1, -1):
            suffix[i] = suffix[i + 1] + sizes[i]
        best: int | None = None
        for cut in range(2, len(messages)):
            m = messages[cut]
            if cut <= prompt_index:
                if not isinstance(m, UserMessage):
                    continue
                kept = head + suffix[cut]
            else:
                # Only history before the prompt would go: nothing, when the prompt is first.
                if not isinstance(m, AssistantMessage) or cut - 1 <= 1:
                    continue
                kept = head + sizes[prompt_index] + suffix[cut]
            best = cut
            if kept <= target:
                return cut
        return best

    async def _summarise(
        self, run: _Recording, messages: Sequence[Message], cut: int, prompt_index: int
    ) -> tuple[str, ModelResponse | None, str]:
        st = run.state
        dropped = [m for i, m in enumerate(messages[1:cut], 1) if i != prompt_index]
        remaining = st.tracker.seconds_left()
        return await summarise(
            self.summarizer,
            st.summary,
            dropped,
            tokens=self.policy.summary_tokens,
            budget=self.budget,
            in_time=remaining is None or remaining > 0,
        )


async def summarise(
    model: Model,
    previous: str | None,
    messages: Sequence[Message],
    *,
    tokens: int = 300,
    budget: int = 4000,
    in_time: bool = True,
) -> tuple[str, ModelResponse | None, str]:
    """A summary of ``messages`` (after the ``previous`` one) written by ``model``: the
    text, the response (for its usage) and the model's name. A model that fails (or
    no time left) gives a plain digest instead, with no response and no name."""
    words = max(tokens * 3 // 4, 10)
    # About the budget in tokens, so the summariser's own window holds it: every
    # message is in it, the long ones shortened alike.
    window = model_window(model)
    limit = 3 * min(budget, window if window is not None else budget)
    lines = [f"Summary so far: {previous}"] if previous else []
    lines += [f"{m.role}: {message_text(m)}" for m in messages]
    per = max(limit // max(len(lines), 1), 120)
    transcript = "\n".join(line if len(line) <= per else line[:per] + " …" for line in lines)
    ask: list[Message] = [
        SystemMessage(_SUMMARISE.format(words=words)),
        UserMessage(transcript),
    ]
    try:
        if not in_time:
            raise TimeoutError
        response = await model.request(ask, ModelParams((), None, False, "none"))
        text = (response.text or "").strip()
        if not text:
            raise ValueError("the summariser answered with no text")
    except Exception:  # the run goes on with a plain digest of the messages
        return _digest(previous, messages, tokens), None, ""
    return _trim(text, tokens), response, model.name


def model_window(model: Model) -> int | None:
    """A model's context window less room for its answer, if it says its window."""
    window = model.context_window
    return None if window is None else max(window - 512, 256)


def _trim(text: str, tokens: int) -> str:
    chars = tokens * 4
    return text if len(text) <= chars else text[:chars].rstrip() + " …"


def _digest(previous: str | None, dropped: Sequence[Message], tokens: int) -> str:
    """A summary without a model: the previous one, then each call and its result, short."""
    parts = [previous] if previous else []
    for m in dropped:
        if isinstance(m, ToolResultMessage):
            parts.append(f"{m.name} returned {m.content[:120]}")
        elif isinstance(m, UserMessage):
            parts.append(f"user: {m.content[:120]}")
        elif isinstance(m, AssistantMessage) and m.text:
            parts.append(f"assistant: {m.text[:120]}")
    return _trim("; ".join(parts), tokens)


def compacted(
    messages: list[Message], prompt_index: int, system: str, summary: str, cut: int
) -> int:
    """Apply a compaction to ``messages`` in place; return the prompt's new position."""
    head: list[Message] = [SystemMessage(system + SUMMARY_HEADING + summary)]
    if cut > prompt_index:
        head.append(messages[prompt_index])
        new_index = 1
    else:
        new_index = prompt_index - cut + 1
    messages[:] = head + messages[cut:]
    return new_index
