"""The guided strategy: the orchestrator, not the model, decides when a run stops.

Which strategy to pick:

* :class:`~tether.ToolLoop` (the default) trusts the model to steer: it calls tools
  natively until it writes a final answer. Right for capable models (hosted models,
  local models of several billion parameters with native tool calling).
* :class:`GuidedStrategy` asks the model only what a small model does well, and
  decides the rest itself. Right for the embedded 0.5B model
  (:class:`~tether.models.local.LocalModel`) and other small local models, whose
  first tool call is usually right but who do not know when to stop: given 391
  by the calculator they call ``calculator("391")``. Each step:

  1. **decide**: the model, prompted with its own chat template and the tools,
     answers freely; a tool call in that answer means "call a tool", text means
     "this is the answer";
  2. **call**: a call whose arguments do not validate is generated again with the
     tool forced (``tool_choice``), which constrained decoding turns into valid
     arguments;
  3. **run**: the call goes through the same machinery as the tool loop
     (:class:`~tether._loop.RunTools`: journal events, budget checks, loop
     detection, approval, bad calls reported back to the model);
  4. **stop or go on**: the model is told "Tool X returned R. If this answers the
     question, answer now."; when it answers by restating the result, or calls a
     tool again with the result itself or with the same call, the orchestrator
     ends the run with the tool's result (small models miscopy names and numbers);
     a result that is not in the output type takes one constrained finishing step.

  Each technique can be switched off, to measure what it adds
  (``bench/eval_local.py``).

Both strategies share the run's journal, budget, progress monitor and fallback.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._events import OutputInvalid, Reason, ToolCallFinished
from ._loop import Finish, GiveUp, RunState, RunTools, model_step
from ._messages import AssistantMessage, ModelResponse, SystemMessage, ToolCall
from ._prompt import OrchestratorPrompt
from ._strategy import Strategy
from .models import ModelParams

__all__ = ["GUIDED_PROMPT", "GuidedStrategy"]

GUIDED_PROMPT = OrchestratorPrompt(
    template="""\
{instructions}

Use a tool when the task needs one; answer directly when it does not.
Call one tool at a time. When a tool's result answers the question, answer with it at once.

Tools:
{tools}

Final answer format:
{output_format}
{extra}"""
)
"""The compact system prompt the guided strategy uses when the agent keeps the default one."""

_RESULT_NOTE = "Tool {name} returned {result}. If this answers the question, answer now."
_ERROR_NOTE = (
    "Tool {name} failed: {result}\nCall it again with the arguments fixed as the error "
    "says, or answer from what you know."
)
_FINISH_NOTE = "Give the final answer now, as JSON matching this schema:\n{schema}"
_INVALID = (
    "Your final answer is not valid: {errors}\nAnswer again with only the final answer, "
    "in the required format."
)


@dataclass(slots=True)
class _Result:
    call: ToolCall
    content: str
    ok: bool


class GuidedStrategy(Strategy):
    """The orchestrator decides when to stop; the model decides only the next move.

    Args:
        native_decision: the model decides "tool or answer" with its own chat
            template and a free answer. False: with a constrained choice among the
            tools' names and ``"answer"`` (measured much worse on small models).
        repair_calls: a call whose arguments do not validate is generated again with
            the tool forced, under its argument schema.
        result_notes: after each result, tell the model what the tool returned and
            to answer now if that answers the question.
        finish_with_results: end the run with the tool's result when the model
            restates it or asks for it again, instead of the model's copy of it.
        compact_prompt: use :data:`GUIDED_PROMPT` as the system prompt when the agent
            has the default orchestrator prompt (a custom prompt is always kept).
    """

    name = "guided"

    def __init__(
        self,
        *,
        native_decision: bool = True,
        repair_calls: bool = True,
        result_notes: bool = True,
        finish_with_results: bool = True,
        compact_prompt: bool = True,
    ) -> None:
        self.native_decision = native_decision
        self.repair_calls = repair_calls
        self.result_notes = result_notes
        self.finish_with_results = finish_with_results
        self.compact_prompt = compact_prompt

    def __repr__(self) -> str:
        flags = ("native_decision", "repair_calls", "result_notes", "finish_with_results")
        off = [f"{f}=False" for f in (*flags, "compact_prompt") if not getattr(self, f)]
        return f"GuidedStrategy({', '.join(off)})"

    async def run(self, st: RunState) -> Finish:
        """Run the guided steps until the orchestrator has an answer, or gives up."""
        self._use_prompt(st)
        results: list[_Result] = []
        while True:
            decided = await self._decide(st)
            if isinstance(decided, GiveUp):
                return await decided.run(st)
            if isinstance(decided, Finish):
                return decided
            if isinstance(decided, str):
                return await self._answer(st, decided, results)
            calls = await self._repair(st, decided)
            if isinstance(calls, GiveUp):
                return await calls.run(st)
            if isinstance(calls, Finish):
                return calls
            done = self._asks_again(calls, results)
            if done is not None:
                return await self._answer(st, done.content, results, done)
            st.messages.append(AssistantMessage(None, calls))
            mark = st.seq
            after = await RunTools(calls).run(st)
            await st.flush()
            if isinstance(after, GiveUp):
                return await after.run(st)
            if isinstance(after, Finish):
                return after
            self._collect(st, calls, mark, results)

    # --- the steps -------------------------------------------------------------------------

    def _use_prompt(self, st: RunState) -> None:
        agent = st.agent
        if not self.compact_prompt or agent.prompt != OrchestratorPrompt():
            return
        if st.messages and isinstance(st.messages[0], SystemMessage):
            defs = [t.definition for t in st.tools.values()]
            text = GUIDED_PROMPT.render(agent.instructions, defs, st.spec.schema)
            st.messages[0] = SystemMessage(text)

    async def _decide(self, st: RunState) -> list[ToolCall] | str | GiveUp | Finish:
        """Tool calls, or the model's answer text."""
        if self.native_decision:
            got = await model_step(st, st.params)
            if isinstance(got, GiveUp | Finish):
                return got
            if got.tool_calls:
                return list(got.tool_calls)
            return got.text or ""
        names = [*st.tools, "answer"]
        schema = {
            "type": "object",
            "properties": {"next": {"enum": names}},
            "required": ["next"],
        }
        got = await model_step(st, ModelParams(json_schema=schema, allow_tools=False))
        if isinstance(got, GiveUp | Finish):
            return got
        choice = _json_field(got.text, "next")
        if choice in st.tools:
            return [ToolCall(choice, {}, f"call_{st.step}_0")]
        got = await model_step(st, st.no_tools_params)
        if isinstance(got, GiveUp | Finish):
            return got
        return got.text or ""

    async def _repair(
        self, st: RunState, calls: list[ToolCall]
    ) -> list[ToolCall] | GiveUp | Finish:
        """The calls to run: valid ones as they are, the first invalid one generated again."""
        out: list[ToolCall] = []
        for call in calls:
            if _valid(st, call):
                out.append(call)
                continue
            if out or not self.repair_calls:
                # Later calls are decided again after the valid ones have run.
                return out or [call]
            tool = st.tools.get(call.name)
            defs = (tool.definition,) if tool else tuple(t.definition for t in st.tools.values())
            params = ModelParams(defs, tool_choice=call.name if tool else "required")
            got = await model_step(st, params)
            if isinstance(got, GiveUp | Finish):
                return got
            fixed = _first_call(got)
            if fixed is None:
                return [call]
            fixed.id = call.id
            return [fixed]
        return out

    def _asks_again(self, calls: list[ToolCall], results: list[_Result]) -> _Result | None:
        """The result the model asks for again, when it does: then the run is done."""
        if not self.finish_with_results or not results or not results[-1].ok:
            return None
        last = results[-1]
        call = calls[0]
        if call.key() == last.call.key():
            return last
        args = call.arguments
        values = list(args.values()) if isinstance(args, dict) else [args]
        if values and all(_same_value(str(v), last.content) for v in values):
            return last
        return None

    def _collect(
        self, st: RunState, calls: list[ToolCall], mark: int, results: list[_Result]
    ) -> None:
        """Read the calls' outcomes from the journal; tell the model about them."""
        names = {c.id: c for c in calls}
        for event in st.events[mark:]:
            if isinstance(event, ToolCallFinished) and event.call_id in names:
                ok = event.outcome == "ok"
                results.append(_Result(names[event.call_id], event.content, ok))
                if self.result_notes:
                    note = _RESULT_NOTE if ok else _ERROR_NOTE
                    st.notes.append(note.format(name=event.name, result=event.content))

    async def _answer(
        self,
        st: RunState,
        text: str,
        results: list[_Result],
        chosen: _Result | None = None,
    ) -> Finish:
        """End the run with an answer: the tool's result when the model only restates it."""
        if (
            chosen is None
            and self.finish_with_results
            and results
            and results[-1].ok
            and _restates(text, results[-1].content, st.prompt, [r.content for r in results])
        ):
            chosen = results[-1]
        if chosen is not None:
            text = chosen.content
            reason = Reason(
                "final_answer", f"The orchestrator answered with the result of {chosen.call.name}."
            )
        else:
            reason = Reason("final_answer", "The model gave a final answer.")
        if text.strip() and chosen is None:
            st.messages.append(AssistantMessage(text))
            st.last_text = text
        ok, value = st.spec.parse(text) if text.strip() else (False, "the answer was empty")
        while not ok:
            st.output_attempts += 1
            st.record(OutputInvalid, attempt=st.output_attempts, errors=str(value))
            if st.output_attempts > st.agent.output_retries:
                return Finish(
                    "failed",
                    Reason(
                        "output_invalid",
                        f"The final answer failed validation {st.output_attempts} times; "
                        f"last errors: {value}",
                    ),
                )
            got = await self._finishing_step(st, text, value)
            if isinstance(got, GiveUp):
                return await got.run(st)
            if isinstance(got, Finish):
                return got
            text = got.text or ""
            st.messages.append(AssistantMessage(text))
            st.last_text = text
            ok, value = st.spec.parse(text) if text.strip() else (False, "the answer was empty")
        return Finish("completed", reason, value)

    async def _finishing_step(
        self, st: RunState, text: str, errors: Any
    ) -> ModelResponse | GiveUp | Finish:
        """One constrained step that turns an answer into the output type."""
        schema = st.spec.schema
        if schema is None:  # plain text wanted, but the answer was empty
            st.notes.append("Give your final answer now, as plain text.")
            return await model_step(st, st.no_tools_params)
        if text.strip():
            st.notes.append(_INVALID.format(errors=errors))
        st.notes.append(_FINISH_NOTE.format(schema=json.dumps(schema, separators=(",", ":"))))
        params = ModelParams(output_schema=schema, allow_tools=False, json_schema=schema)
        return await model_step(st, params)


# --- small judgements the orchestrator makes -------------------------------------------------


def _valid(st: RunState, call: ToolCall) -> bool:
    tool = st.tools.get(call.name)
    if tool is None:
        return False
    try:
        tool.validate(call.arguments)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return False
    return True


def _first_call(response: ModelResponse) -> ToolCall | None:
    return response.tool_calls[0] if response.tool_calls else None


def _json_field(text: str | None, key: str) -> Any:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value.get(key) if isinstance(value, dict) else None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_FILLER = frozenset(
    """a an and answer are as at be by equals final for from i in is it its of on result
    so that the then there this to was which will with you""".split()
)


def _numbers(text: str) -> list[float]:
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return [float(n) for n in _NUMBER.findall(flat)]


def _same_value(a: str, b: str) -> bool:
    """True when two texts are the same value: equal text, or the same single number."""
    if a.strip().lower() == b.strip().lower():
        return True
    na, nb = _numbers(a), _numbers(b)
    if len(na) != 1 or len(nb) != 1 or len(a.strip()) > len(_NUMBER.findall(a)[0]) + 2:
        return False
    return _close(na[0], nb[0])


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= max(1e-6, 5e-3 * abs(y)) or round(y, 2) == round(x, 2)


def _words(text: str) -> list[str]:
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    return _WORD.findall(flat)


def _restates(answer: str, result: str, prompt: str, earlier: Sequence[str] = ()) -> bool:
    """True when an answer says nothing but the result (words of the question aside).

    "The capital of Valdoria is Merowgate." restates "Merrowgate" for the question
    "What is the capital of Valdoria?"; "Merrowgate and Port Halloway" does not
    restate "Port Halloway" alone when Merrowgate was an earlier result. One other
    word is allowed (a unit, say).
    """
    result_words = _words(result)
    if not result_words or not answer.strip():
        return False
    result_numbers = _numbers(result)
    asked = set(_words(prompt)) | _FILLER
    others = {w for text in earlier for w in _words(text)} - set(result_words) - asked
    matched = 0
    extra = 0
    for word in _words(answer):
        if word in others:
            return False
        if (
            word in result_words
            or _matches_number(word, result_numbers)
            or any(_fuzzy(word, r) for r in result_words)
        ):
            matched += 1
        elif word not in asked:
            extra += 1
    return matched > 0 and extra <= 1


def _matches_number(word: str, numbers: Sequence[float]) -> bool:
    if not numbers or not _NUMBER.fullmatch(word):
        return False
    return any(_close(float(word), n) for n in numbers)


def _fuzzy(a: str, b: str) -> bool:
    if len(a) < 4 or len(b) < 4 or a.isdigit() or b.isdigit():
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8
