"""Long-term memory in an agent: tools the model calls, and recall when a run starts.

:class:`LongTermMemory` ties a :class:`~tether.memory.MemoryStore` to an agent. The
model gets three tools: ``remember`` (written with the call's idempotency key, so a
resumed or retried call writes once), ``recall`` and ``forget`` (only memories of
the run's own namespace). When a run starts, the memories that best match its
prompt are put into the system message, within a token budget; what was recalled
is journaled (:class:`~tether.MemoryRecalled`), so a resumed run sees the same
memories without searching again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from tether._errors import ConfigError
from tether._events import MemoryRecalled
from tether._messages import SystemMessage
from tether.tools import RunContext, Tool

from ._context import SUMMARY_HEADING
from ._state import RunState

if TYPE_CHECKING:  # tether.memory needs the memory extra (numpy): imported when used
    from tether.memory import MemoryStore, NamespaceLike
else:
    NamespaceLike: TypeAlias = "str | tuple[str, ...]"

__all__ = ["RECALL_HEADING", "LongTermMemory", "apply_recall", "recall_block"]

RECALL_HEADING = "\n\n## What you remember (from earlier conversations)\n"
"""What precedes the recalled memories in the system message."""

Namespacer = Callable[[Any], NamespaceLike]
"""A function of the run's ``deps`` that names the namespace (one per user, say)."""


@dataclass(frozen=True, slots=True)
class LongTermMemory:
    """Long-term memory for an agent's runs.

    Args:
        store: where memories live (:class:`~tether.memory.SQLiteMemoryStore`,
            :class:`~tether.memory.PostgresMemoryStore`).
        namespace: whose memories: a namespace (``("user-42", "support")``), or a
            function of the run's ``deps`` that returns one.
        recall: how many memories matching the prompt are put into the system message
            when a run starts (0: none).
        recall_tokens: about how many tokens those memories may take.
        tools: give the model the ``remember``, ``recall`` and ``forget`` tools.
        kinds: the kinds of memory recalled at the start (all by default).

    Raises:
        ConfigError: a negative count, or a namespace that is neither.
    """

    store: MemoryStore
    namespace: NamespaceLike | Namespacer
    recall: int = 5
    recall_tokens: int = 400
    tools: bool = True
    kinds: tuple[str, ...] | None = None
    _tools: list[Tool] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        from tether.memory import MemoryStore, namespace_of  # the optional memory extra
        from tether.memory._types import check_kinds

        if not isinstance(self.store, MemoryStore):
            raise ConfigError(
                f"LongTermMemory needs a MemoryStore (SQLiteMemoryStore(...)), got {self.store!r}"
            )
        if not isinstance(self.recall, int) or isinstance(self.recall, bool) or self.recall < 0:
            raise ConfigError(f"LongTermMemory.recall must be an int >= 0, got {self.recall!r}")
        if not isinstance(self.recall_tokens, int) or self.recall_tokens < 16:
            raise ConfigError(
                f"LongTermMemory.recall_tokens must be an int >= 16, got {self.recall_tokens!r}"
            )
        if not (callable(self.namespace) or isinstance(self.namespace, str | tuple)):
            raise ConfigError(
                "LongTermMemory.namespace is a str, a tuple of str, or a function of deps; "
                f"got {self.namespace!r}"
            )
        if not callable(self.namespace):
            try:
                namespace_of(self.namespace)
            except ConfigError as exc:
                raise ConfigError(f"LongTermMemory.namespace: {exc}") from None
        try:
            object.__setattr__(self, "kinds", check_kinds(self.kinds))  # a str is one kind
        except ConfigError as exc:
            raise ConfigError(f"LongTermMemory.kinds: {exc}") from None
        if self.tools:
            self._tools.extend(_memory_tools(self))

    def namespace_for(self, deps: Any) -> NamespaceLike:
        """The namespace of a run with these ``deps``."""
        ns = self.namespace
        if callable(ns):
            got = ns(deps)
            if not isinstance(got, str | tuple):
                raise ConfigError(
                    f"the LongTermMemory namespace function returned {got!r}; "
                    "return a str or a tuple of str"
                )
            return got
        return ns

    def agent_tools(self) -> list[Tool]:
        """The memory tools the model gets (none when ``tools=False``)."""
        return list(self._tools)

    async def recalled(self, prompt: str, deps: Any) -> tuple[str, list[str], list[str]]:
        """The namespace, ids and texts of the memories to recall for ``prompt``."""
        ns = self.namespace_for(deps)
        key = "/".join(_namespace_of(ns))
        if self.recall == 0 or not prompt.strip():
            return key, [], []
        hits = await self.store.search(ns, prompt, self.recall, kinds=self.kinds)
        ids: list[str] = []
        texts: list[str] = []
        room = self.recall_tokens * 4  # characters, about
        for hit in hits:
            text = hit.memory.text
            if len(text) > room:  # a shorter one further down may still fit
                continue
            room -= len(text) + 3
            ids.append(hit.memory.id)
            texts.append(text)
        return key, ids, texts


def _namespace_of(ns: NamespaceLike) -> tuple[str, ...]:
    from tether.memory import namespace_of  # the optional memory extra

    return namespace_of(ns)


def recall_block(texts: Sequence[str]) -> str:
    """The system message's part that lists recalled memories."""
    return RECALL_HEADING + "\n".join(f"- {t}" for t in texts)


def apply_recall(st: RunState, e: MemoryRecalled) -> None:
    """Fold: the recalled memories join the system message (and stay after compactions)."""
    st.recalled = True
    if not e.texts:
        return
    block = recall_block(e.texts)
    first = st.messages[0]
    if not isinstance(first, SystemMessage):
        return
    if st.system_base is None:
        st.messages[0] = SystemMessage(first.content + block)
    else:
        st.system_base += block
        st.messages[0] = SystemMessage(st.system_base + SUMMARY_HEADING + (st.summary or ""))


def _memory_tools(memory: LongTermMemory) -> list[Tool]:
    store = memory.store

    async def remember(ctx: RunContext[Any], text: str, kind: str = "fact") -> str:
        """Remember a fact about the user or the task for later conversations.

        Args:
            text: the fact, in one sentence that makes sense on its own.
            kind: "fact", "preference" or "episode".
        """
        ns = memory.namespace_for(ctx.deps)
        key = ctx.idempotency_key or None
        saved = await store.add(ns, text, kind=kind, idempotency_key=key)
        return f"Remembered (memory {saved.id})."

    async def recall(ctx: RunContext[Any], query: str, k: int = 5) -> str:
        """Search your memory of earlier conversations.

        Args:
            query: what to look for.
            k: how many memories to return (1 to 20).
        """
        ns = memory.namespace_for(ctx.deps)
        hits = await store.search(ns, query, max(1, min(k, 20)))
        if not hits:
            return "Nothing remembered about that."
        return "\n".join(f"- [{h.memory.id}] {h.memory.text}" for h in hits)

    async def forget(ctx: RunContext[Any], memory_id: str) -> str:
        """Forget one memory, by the id that recall showed.

        Args:
            memory_id: the memory's id.
        """
        ns = memory.namespace_for(ctx.deps)
        found = await store.get(memory_id)
        if found is None or found.namespace != _namespace_of(ns):
            return f"There is no memory {memory_id!r}; recall shows the ids."
        await store.forget(memory_id)
        return f"Forgot memory {memory_id}."

    return [
        Tool(remember, idempotent=True),
        Tool(recall, idempotent=True),
        Tool(forget, idempotent=True),
    ]
