"""The guided strategy: the orchestrator, not the model, decides when a run stops.

Which strategy to pick:

* :class:`~tether.ToolLoop` (the default) trusts the model to steer: it calls tools
  natively until it writes a final answer. Right for capable models (hosted models,
  local models of several billion parameters with native tool calling).
* :class:`GuidedStrategy` asks the model only what a small model does well, and
  decides the rest itself. Right for the embedded 0.5B model
  (:class:`~tether.models.local.LocalModel`) and other small local models, whose
  first tool call is usually right but who do not know when to stop: given 391
  by the calculator they call ``calculator("391")``, or ``calculator("391*23")``.

Each guided step:

1. **decide**: the model, prompted with its own chat template and the tools, answers
   freely; a tool call in the answer means "call a tool", text means "no tool": the
   answer is then asked for again in a fresh context without tools.
2. **repair**: a call whose arguments do not validate loses the arguments its tool
   does not take, or else is generated again with the tool forced (``tool_choice``),
   which constrained decoding makes valid.
3. **check**: a call that repeats the last one, feeds the last result back into the
   same tool or only restates it ends the run with that result; a call copied from
   the tool's description example, or one repeating a failed call, is not run and
   the model answers without tools, in a fresh context with the facts found.
4. **run** the call through the tool loop's own machinery
   (:class:`~tether._loop.RunTools`: journal events, budget checks, loop detection,
   approval, bad calls reported back to the model).
5. **stop or go on**: a question in sequential clauses ("A, then B") goes on clause
   by clause, each put to the model as a fresh question starting from the last
   result ("R, then B"): small models are good at a first step and poor at every
   later one. Otherwise, when every number and name of the question has been used by
   a call, the orchestrator ends the run with the last result; if not, the model is
   told "Tool X returned R. If this answers the question, answer now." and what of
   the question is still unused. An answer that only restates the result is
   replaced by the result itself (small models miscopy names and numbers), and an
   answer that is not in the output type takes one constrained finishing step.

Each technique is a constructor flag, so that ``bench/eval_local.py`` can measure what
each adds. Both strategies share the run's journal, budget, progress monitor and
fallback. The orchestrator's own judgements (which values a question names, the
"then" of sequential clauses) read English questions.

Example:
    ```python
    from tether import Agent
    from tether._guided import GuidedStrategy
    from tether.models.local import LocalModel

    agent = Agent(LocalModel(), tools=[calculator], strategy=GuidedStrategy())
    agent.run_sync("What is 17*23?").output  # "391"
    ```
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._events import OutputInvalid, Reason, ToolCallFinished
from ._loop import Finish, GiveUp, RunState, RunTools, model_step
from ._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    UserMessage,
)
from ._prompt import OrchestratorPrompt
from ._strategy import Strategy
from .models import ModelParams

__all__ = ["GUIDED_PROMPT", "TECHNIQUES", "GuidedStrategy"]

TECHNIQUES = (
    "native_decision",
    "fresh_answers",
    "repair_calls",
    "check_calls",
    "track_question",
    "follow_clauses",
    "result_notes",
    "finish_with_results",
    "compact_prompt",
)
"""The guided strategy's techniques, each a constructor flag that is on by default."""

GUIDED_PROMPT = OrchestratorPrompt(
    template="""{instructions}

Use a tool when the question needs one; answer directly when it does not.
Call one tool at a time.

Final answer format:
{output_format}
{extra}"""
)
"""The compact system prompt the guided strategy uses when the agent keeps the default one.

The tools are not listed: the model's chat template shows them with their schemas.
"""

_NO_TOOLS_PROMPT = OrchestratorPrompt(
    template="""\
{instructions}

Answer the question from what you know and the facts given. No tool is available.

Final answer format:
{output_format}"""
)
_RESULT_NOTE = "Tool {name} returned {result}. If this answers the question, answer now."
_ERROR_NOTE = (
    "Tool {name} failed: {result}\nCall it again with the arguments fixed as the error "
    "says, or answer from what you know."
)
_LEFT_NOTE = "Not used yet from the question: {left}."
_COMBINE_NOTE = "Known so far: {facts}. Answer the question from these."
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


Verdict = list[ToolCall] | _Result | Literal["answer"]


class GuidedStrategy(Strategy):
    """The orchestrator decides when to stop; the model decides only the next move.

    Args:
        native_decision: the model decides "tool or answer" with its own chat
            template and a free answer. False: with a constrained choice among the
            tools' names and ``"answer"`` (measured worse on small models).
        fresh_answers: when the first decision is an answer, not a call, the model
            answers again in a fresh context without tools: the decision only says
            "no tool", the answer comes from a prompt that does not pull towards tool
            calls (a small model answers knowledge questions better there).
        repair_calls: a call whose arguments do not validate is generated again with
            the tool forced, under its argument schema.
        check_calls: check each call before it runs (see step 3 in the module docs).
        track_question: after a result, end the run with it when every number and
            name in the question has been used by a call (and no two results need
            combining); otherwise tell the model what is still unused.
        follow_clauses: a question in sequential clauses ("convert 5 miles to km, then
            double it") is done one clause at a time, each put to the model as a fresh
            question that starts from the last result ("8.04672, then double it").
            Small models are good at a first step and poor at every later one.
        result_notes: after each result, tell the model what the tool returned and
            to answer now if that answers the question.
        finish_with_results: end the run with the tool's result when the model's answer
            only restates it, instead of the model's copy of it.
        compact_prompt: use :data:`GUIDED_PROMPT` as the system prompt when the agent
            has the default orchestrator prompt (a custom prompt is always kept).
    """

    name = "guided"

    def __init__(
        self,
        *,
        native_decision: bool = True,
        fresh_answers: bool = True,
        repair_calls: bool = True,
        check_calls: bool = True,
        track_question: bool = True,
        follow_clauses: bool = True,
        result_notes: bool = True,
        finish_with_results: bool = True,
        compact_prompt: bool = True,
    ) -> None:
        self.native_decision = native_decision
        self.fresh_answers = fresh_answers
        self.repair_calls = repair_calls
        self.check_calls = check_calls
        self.track_question = track_question
        self.follow_clauses = follow_clauses
        self.result_notes = result_notes
        self.finish_with_results = finish_with_results
        self.compact_prompt = compact_prompt

    def __repr__(self) -> str:
        off = [f"{f}=False" for f in TECHNIQUES if not getattr(self, f)]
        return f"GuidedStrategy({', '.join(off)})"

    async def run(self, st: RunState) -> Finish:
        """Run the guided steps until the orchestrator has an answer, or gives up."""
        self._use_prompt(st)
        results: list[_Result] = []
        while True:
            end = await self._step(st, results)
            if isinstance(end, GiveUp):
                return await end.run(st)
            if end is not None:
                return end

    async def _step(self, st: RunState, results: list[_Result]) -> Finish | GiveUp | None:
        """One decision and what follows from it; None when the run goes on."""
        decided = await self._decide(st, self._view(st, results))
        if isinstance(decided, GiveUp | Finish):
            return decided
        if isinstance(decided, str):
            if self.fresh_answers and not results:
                return await self._answer_without_tools(st, results)
            return await self._answer(st, decided, results)
        calls = await self._repair(st, decided)
        if isinstance(calls, GiveUp | Finish):
            return calls
        verdict = self._judge(st, calls, results) if self.check_calls else calls
        if isinstance(verdict, _Result):
            if self.track_question and len(_unconsumed(results)) > 1:
                return await self._answer_without_tools(st, results)
            return await self._answer(st, verdict.content, results, verdict)
        if verdict == "answer":
            return await self._answer_without_tools(st, results)
        st.messages.append(AssistantMessage(None, verdict))
        mark = st.seq
        after = await RunTools(verdict).run(st)
        await st.flush()
        if isinstance(after, GiveUp | Finish):
            return after
        self._collect(st, verdict, mark, results)
        return await self._after_results(st, results)

    # --- the steps -------------------------------------------------------------------------

    def _use_prompt(self, st: RunState) -> None:
        agent = st.agent
        if not self.compact_prompt or agent.prompt != OrchestratorPrompt():
            return
        if st.messages and isinstance(st.messages[0], SystemMessage):
            defs = [t.definition for t in st.tools.values()]
            text = GUIDED_PROMPT.render(agent.instructions, defs, st.spec.schema)
            st.messages[0] = SystemMessage(text)

    def _clauses(self, st: RunState) -> list[str]:
        return _clauses(st.prompt) if self.follow_clauses else [st.prompt]

    def _view(self, st: RunState, results: list[_Result]) -> list[Message] | None:
        """What the model sees for the next decision: the run's history, or one clause."""
        clauses = self._clauses(st)
        done = [r for r in results if r.ok]
        if len(clauses) < 2 or len(done) >= len(clauses):
            return None
        system = st.messages[0] if isinstance(st.messages[0], SystemMessage) else None
        if not done:
            question = f"{clauses[0]}."
        else:
            question = f"{done[-1].content}, then {clauses[len(done)]}."
        return [*([system] if system else []), UserMessage(question)]

    async def _decide(
        self, st: RunState, view: list[Message] | None = None
    ) -> list[ToolCall] | str | GiveUp | Finish:
        """Tool calls, or the model's answer text."""
        if self.native_decision:
            got = await model_step(st, st.params, view)
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
            trimmed = _without_unknown_keys(st, call)
            if trimmed is not None and self.repair_calls:
                out.append(trimmed)
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

    def _judge(self, st: RunState, calls: list[ToolCall], results: list[_Result]) -> Verdict:
        """Run the calls, end with a result, or have the model answer without tools."""
        last = results[-1] if results and results[-1].ok else None
        call = calls[0]
        earlier = next((r for r in reversed(results) if r.call.key() == call.key()), None)
        if earlier is not None:
            return last if earlier is last and last is not None else "answer"
        if last is not None and (
            _restates_value(call, last.content)
            or (_feeds_back(call, last) and not self._progresses(st, call, results))
        ):
            return last
        if _copied_example(st, call, results):
            return last if last is not None else "answer"
        return [c for c in calls if all(c.key() != r.call.key() for r in results)]

    def _progresses(self, st: RunState, call: ToolCall, results: list[_Result]) -> bool:
        """True when feeding a result back is the question's next step, not a rerun."""
        clauses = self._clauses(st)
        if len(clauses) > 1 and sum(r.ok for r in results) < len(clauses):
            return True
        if not self.track_question:
            return False
        left = _unused(st.prompt, [r.call for r in results])
        return len(_unused(st.prompt, [*(r.call for r in results), call])) < len(left)

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

    async def _after_results(self, st: RunState, results: list[_Result]) -> Finish | None:
        """End the run with the last result when the question has nothing left to use."""
        if not results or not results[-1].ok:
            return None
        clauses = self._clauses(st)
        if len(clauses) > 1:  # one clause per result; the last clause's result answers
            if sum(r.ok for r in results) < len(clauses):
                return None
            return await self._answer(st, results[-1].content, results, results[-1])
        if not self.track_question:
            return None
        calls = [r.call for r in results]
        left = _unused(st.prompt, calls)
        waiting = _unconsumed(results)
        if left:
            st.notes.append(_LEFT_NOTE.format(left=", ".join(left)))
            return None
        if len(waiting) > 1:
            st.notes.append(_COMBINE_NOTE.format(facts=_facts(waiting)))
            return None
        return await self._answer(st, results[-1].content, results, results[-1])

    async def _answer_without_tools(self, st: RunState, results: list[_Result]) -> Finish | GiveUp:
        """The model answers in a fresh context: the question and the facts found, no tools."""
        system = _NO_TOOLS_PROMPT.render(st.agent.instructions, [], st.spec.schema)
        facts = _facts([r for r in results if r.ok])
        question = st.prompt if not facts else f"{st.prompt}\n\nFacts: {facts}."
        messages: list[Message] = [SystemMessage(system.strip()), UserMessage(question)]
        got = await model_step(st, st.no_tools_params, messages)
        if isinstance(got, GiveUp | Finish):
            return got
        return await self._answer(st, got.text or "", results)

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

_NUMBER_WORDS = {"twice": 2.0, "double": 2.0, "half": 2.0, "triple": 3.0, "thrice": 3.0}
_NAME = re.compile(r"\b[A-Z][a-zA-Z-]{2,}")
_SENTENCE_START = re.compile(r"(?:^|[.?!]\s+)[\"'(]*([A-Z][a-zA-Z-]*)")


_THEN = re.compile(r"\s*[,;]?\s*\b(?:and\s+)?then\b,?\s*", re.IGNORECASE)


def _clauses(prompt: str) -> list[str]:
    """The sequential clauses of a question: "A, then B" is ["A", "B"]."""
    parts = [p.strip().rstrip(".!?").strip() for p in _THEN.split(prompt.strip())]
    parts = [p for p in parts if p]
    return parts if len(parts) > 1 else [prompt]


def _question_items(prompt: str) -> list[str]:
    """The numbers and names of a question, which the calls answering it should use."""
    starts = {m.start(1) for m in _SENTENCE_START.finditer(prompt)}
    names = [m.group() for m in _NAME.finditer(prompt) if m.start() not in starts]
    words = re.findall(r"[a-z]+", prompt.lower())
    numbers = [n for n in _NUMBER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", prompt))]
    numbers += [f"{_NUMBER_WORDS[w]:g}" for w in words if w in _NUMBER_WORDS]
    return list(dict.fromkeys([*numbers, *names]))


def _unused(prompt: str, calls: Sequence[ToolCall]) -> list[str]:
    """The question's numbers and names that no call has used yet."""
    used = " ".join(json.dumps(_arguments(c), default=str) for c in calls)
    used_numbers = [abs(n) for n in _numbers(used)]
    left = []
    for item in _question_items(prompt):
        if _NUMBER.fullmatch(item):
            if not any(_close(abs(float(item)), n) for n in used_numbers):
                left.append(item)
        elif item.lower() not in used.lower():
            left.append(item)
    return left


def _unconsumed(results: Sequence[_Result]) -> list[_Result]:
    """Results that no later call used: with two or more, the answer must combine them."""
    out = []
    for i, r in enumerate(results):
        if not r.ok:
            continue
        later = " ".join(json.dumps(_arguments(x.call), default=str) for x in results[i + 1 :])
        if not later or not _mentions(later, r.content):
            out.append(r)
    return out


def _mentions(text: str, value: str) -> bool:
    numbers = _numbers(value)
    if len(numbers) == 1 and _NUMBER.fullmatch(value.strip()):
        return any(_close(n, numbers[0]) for n in _numbers(text))
    return value.strip().lower() in text.lower()


def _facts(results: Sequence[_Result]) -> str:
    return "; ".join(f"{_call_text(r.call)} = {r.content}" for r in results)


def _call_text(call: ToolCall) -> str:
    args = _arguments(call)
    if isinstance(args, dict):
        inner = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in args.items())
    else:
        inner = str(args)
    return f"{call.name}({inner})"


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _arguments(call: ToolCall) -> Any:
    if isinstance(call.arguments, str):
        try:
            return json.loads(call.arguments)
        except ValueError:
            return call.arguments
    return call.arguments


def _restates_value(call: ToolCall, result: str) -> bool:
    """``calculator("391")`` after 391: the call's only input is the result."""
    values = _leaves(_arguments(call))
    return bool(values) and all(_same_value(str(v), result) for v in values)


def _feeds_back(call: ToolCall, last: _Result) -> bool:
    """The same tool again with its own result as an input: ``81/9`` = 9, then ``9/9``."""
    if call.name != last.call.name:
        return False
    numbers = _numbers(last.content)
    for value in _leaves(_arguments(call)):
        text = str(value)
        if text.strip().lower() == last.content.strip().lower():
            return True
        if len(numbers) == 1 and any(_close(n, numbers[0]) for n in _numbers(text)):
            return True
    return False


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _copied_example(st: RunState, call: ToolCall, results: list[_Result]) -> bool:
    """True when the call takes a value from its tool's description that the task lacks.

    Small models copy a description's example when no tool fits the question, or
    when they do not know how to fill an argument: ``calculator("(17 + 3) * 23 / 4")``
    for "How many legs does a spider have?", or ``convert_units(value=10, ...)`` (the
    example's 10) for "Convert 5 miles to kilometers". Short strings (unit codes such
    as "km") are not judged: the task may spell them out.
    """
    tool = st.tools.get(call.name)
    if tool is None:
        return False
    described = _squash(tool.description)
    described_numbers = _numbers(tool.description)
    known_text = " ".join([st.prompt, *(r.content for r in results if r.ok)])
    known = _squash(known_text)
    known_numbers = [abs(n) for n in _numbers(known_text)]
    for value in _leaves(_arguments(call)):
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            number = float(value)
            if any(_close(number, d) for d in described_numbers) and not any(
                _close(abs(number), k) for k in known_numbers
            ):
                return True
            continue
        text = _squash(str(value))
        if len(text) >= 3 and text in described and text not in known:
            return True
    return False


def _without_unknown_keys(st: RunState, call: ToolCall) -> ToolCall | None:
    """The call without arguments its tool does not take, when that makes it valid.

    Small models add schema words as arguments (``"required": ["expression"]``);
    dropping them keeps the call the model meant, which a regenerated call may not be.
    """
    tool = st.tools.get(call.name)
    args = _arguments(call)
    if tool is None or not isinstance(args, dict):
        return None
    known = tool.definition.parameters.get("properties", {})
    kept = {k: v for k, v in args.items() if k in known}
    if len(kept) == len(args):
        return None
    trimmed = ToolCall(call.name, kept, call.id)
    return trimmed if _valid(st, trimmed) else None


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
    if len(a) < 4 or len(b) < 4 or re.search(r"\d", a + b):
        return False  # numbers must match as numbers
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8
