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
4. **run** the call through the tool loop's own node
   (:class:`~tether.run.RunTools`: journal events, budget checks, loop detection,
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

6. **second tries**: when a result leaves the question unfinished, the next call is
   required and decided in a fresh context (``complete_steps``); a number the model
   computed in its head is worked out again by a tool (``check_arithmetic``); a call
   with nothing from the question is decided again without the tools' examples
   (``check_relevance``, ``plain_reask``). Each works from the tools' schemas and the
   question's own values, so it applies to any tool.

Each technique is a constructor flag, so that ``bench/eval_local.py`` can measure what
each adds. The steps are nodes driven by the same loop as the tool loop's, and every
decision is journaled, so a guided run resumed after a crash goes on guided, from
the step it was in. The orchestrator's own judgements (which values a question
names, the "then" of sequential clauses) read English questions; they are pure
functions in :mod:`tether.run.strategies._heuristics`.

Example:
    ```python
    from tether import Agent
    from tether.models.local import LocalModel

    # The embedded model declares the guided strategy: no strategy= needed.
    agent = Agent(LocalModel(), tools=[calculator])
    agent.run_sync("What is 17*23?").output  # "391"
    ```
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from tether._events import ModelResponded, OutputInvalid, Reason, TurnRecorded
from tether._messages import (
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    UserMessage,
)
from tether.models import ModelParams
from tether.run._config import RunConfig
from tether.run._nodes import (
    INVALID_NOTE,
    Finish,
    GiveUp,
    Node,
    RunTools,
    judge_answer,
    model_step,
    reject_output,
)
from tether.run._prompt import OrchestratorPrompt
from tether.run._run import Run
from tether.tools import Tool

from . import _heuristics as h
from ._base import Strategy

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
    "complete_steps",
    "check_relevance",
    "plain_reask",
    "check_arithmetic",
    "ground_codes",
    "split_values",
    "pick_fields",
    "spelled_numbers",
    "code_words",
    "short_answers",
    "arrange_facts",
    "read_copies",
    "sentence_recall",
    "ground_numbers",
    "fan_out",
    "compare_values",
    "unsigned_gaps",
    "id_lookups",
    "field_values",
    "reroute_calls",
    "doubt_answers",
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
_NO_TOOLS_TEXT = OrchestratorPrompt(
    template="""\
{instructions}

Answer the question from what you know and the facts given. No tool is available."""
)
"""For a plain-text answer: no format line, which a small model copies as its answer."""
_RECALL_PROMPT = "You are a helpful assistant. Answer in one short sentence."
"""The plain context of ``sentence_recall``: none of the agent's instructions."""
_SHORT_NOTE = "Reply with the answer alone (a number, a name or a few words), not a sentence."
_RESULT_NOTE = "Tool {name} returned {result}. If this answers the question, answer now."
_ERROR_NOTE = (
    "Tool {name} failed: {result}\nCall it again with the arguments fixed as the error "
    "says, or answer from what you know."
)
_LEFT_NOTE = "Not used yet from the question: {left}."
_COMBINE_NOTE = "Known so far: {facts}. Answer the question from these."
_FINISH_NOTE = "Give the final answer now, as JSON matching this schema:\n{schema}"
_NEXT_STEP = (
    "{question}{facts}\nNot used yet from the question: {left}.\nCall a tool for the next step."
)
_FIRST_STEP = "{question}\n\nUse from the question: {left}.\nCall the tool that answers it."
_RECOMPUTE = "{question}\n\nKnown so far: {facts}.\nWork the answer out with a tool call."

Verdict = list[ToolCall] | h.Fact | Literal["answer", "reask", "next"]
_FORCED = frozenset({"reask"})
"""Purposes of the orchestrator's second tries: a call decided there is not tried again."""


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
        complete_steps: when a result leaves numbers or names of the question unused
            (a chain, "the population of X divided by 500"; a second lookup), the next
            move is a required tool call, decided in a fresh context that holds the
            question, the facts found and what is still unused; the model does not get
            to stop on the intermediate result or repeat the first call.
        check_relevance: a call none of whose values comes from the question or a
            result (``calculator("7*24")`` for "How many days are in a week?") is not
            run; the model is asked again (``plain_reask``) or answers without tools.
        plain_reask: a call copied from its tool's description example, or not
            relevant, is decided again once with the examples taken out of the tools'
            descriptions, before the model answers without tools.
        check_arithmetic: an answer holding a number that is in no result, call or the
            question (a sum done in the model's head) is worked out again with a
            required tool call given the facts; that call's result is the answer. A
            call's expression written with its own result ("640000 - 0.25 * 640000 =
            400000") is made without it: the tool works the result out; a sum of the
            question's numbers for a question that asks for their mean or average is
            divided by how many there are.
        ground_codes: a short code argument whose meaning, as the tool's own
            description explains its codes ("mi (miles)"), is not in the question is
            replaced by the one explained code that is (``"m"`` for "5 miles" becomes
            ``"mi"``); two codes the wrong way round ("100 kelvin in Celsius" with
            ``from_unit="c", to_unit="k"``) are swapped: the unit written after the
            call's number in the question is the one the number is in. A choice of an
            argument (an enum) that the question does not name is replaced by the one
            choice of that argument it does name (``what="letters"`` for "word count:
            '...'" becomes ``"words"``); quoted text does not count.
        split_values: a failed call whose string argument held several of the
            question's names and nothing else (``country="Kethmoor and Osterwick"``) is
            made again as one call per name.
        pick_fields: a result holding several values (a JSON object or list) does not
            end the run as it is: the model answers from it, without tools, and its
            answer is not replaced by the whole result.
        spelled_numbers: numbers the question spells out are read as numbers: the
            model sees the question with them in digits ("Multiply seventeen by
            forty-three" as "Multiply 17 by 43"), and the progress checks count them,
            and numbers a word brings ("doubled", "a quarter of", "in thousands", a
            percentage as a fraction or a factor), as the question's own.
        code_words: a word of the question that a tool's explained code means
            ("kilometres" for ``km (kilometers)``) is one of the question's items, used
            by a call that gives the code: "15 * 40 feet in meters" is not done after
            the multiplication alone.
        short_answers: a question that asks for one value ("What is the largest
            ocean?", "How many legs does a spider have?") is answered without tools
            with the value alone, not a sentence around it, when the output is text
            (an output type has its own format): the model is asked for the value
            alone, and a one-sentence answer that restates the question around one
            short value ("The largest ocean on Earth is the Pacific Ocean.") ends the
            run with that value ("Pacific"). Small models otherwise wrap the value in
            a sentence that a program reading the answer must take apart.
        arrange_facts: the facts put to the model are in the order the question names
            their inputs ("Norrhaven and Lunaria": Norrhaven's first), and when one tool
            gave a number for each of several inputs, the largest and smallest are
            marked ("Which has fewer people, A or B?" is then read off, not compared
            by a model that compares numbers poorly).
        read_copies: a copied example says which tool the model wants. An answer that
            is a value from one tool's description example ("Merrowgate" for "What is
            the capital of Lunaria?") calls that tool, forced by name; a call whose one
            copied string argument has exactly one unused name of the question to take
            its place (``country="Valdoria"``, the example, for "BRISALTA capital?") is
            made with that name instead of being asked again.
        sentence_recall: a question that asks for one value ("What is the capital of
            Canada?") and is answered without tools, with no facts found and text
            output, is first put to the model in a plain context (no tools, not the
            agent's instructions, "answer in one short sentence"): a small model recalls
            a fact far better in a sentence than as a bare value. The value is read
            out of the sentence (as ``short_answers`` does); when it cannot be, the
            model answers under the agent's instructions with the sentence given as a
            fact. Instructions that speak of what the question asks about (a word in
            common: "When does the office open?" and "The office opens at 9") keep the
            usual answer, so an agent's own facts are never bypassed.
        ground_numbers: a call's one number argument that neither the question nor a
            result holds is replaced by the one number of the question no call has
            used (``price(item="pens", quantity=5)`` for "What do fifty pens cost?" is
            made with ``quantity=50``).
        fan_out: a call whose argument is one item of a list in the question ("Which
            of Valdoria, Osterwick and Norrhaven ...", "how many more live in estrevia
            than in norrhaven") is made again by the orchestrator for each other item,
            the rest of its arguments unchanged, once its result is in: a small model
            asked for the next lookup repeats the first. A text answer that gives at
            most one of those results, when the question asks for all of them ("the
            capitals of A and B"), is all of them joined in the list's order ("X and
            Y").
        compare_values: a "which" question that picks by size ("Which is more
            populous, A or B?", "which has the fewest ...") is answered by the
            orchestrator once one tool has given a number for each name of the
            question's list: the name with the largest or smallest number, by the
            question's comparing word. Small models compare numbers poorly. When the
            question asks something of the name it picks ("Whichever of A and B is
            more populous: what is its capital?") and speaks of exactly one other tool
            ("capital", ``lookup_capital``) that takes one text argument, the
            orchestrator calls that tool with the name and answers with its result.
        unsigned_gaps: a negative number answering a question that asks for a gap ("How
            many more bolts than nuts?", "by how much ...", "the difference between
            ...") is given as its size: the model subtracted the other way round.
        id_lookups: a value of the question shaped like the identifier a tool
            documents for one of its arguments (letters and digits, as "A-1042" in
            ``order_id: the order's id, e.g. "A-1042"``; "#B-2001" and "a-1043" have
            that shape) is looked up with that tool first. When the model's move calls
            that tool with none of these values (it called another tool, wrote a call
            as text, or answered), the orchestrator makes the call itself, once per
            value no call has given it. Only a shape that one argument of one tool
            documents counts.
        field_values: a JSON object result of which the question names exactly one
            field ("... order B-2001's total ...") is given to the model as that field
            alone (``total: 213.4``), and a call's argument that refers to a field of
            an earlier result (``order_details(order_id="B-2001")["total"] - 172.5``)
            is made with its value. A sentence answer from a JSON result ("The order
            A-1043 is currently processing.") ends the run with the one value of the
            result it states ("processing"), when it states exactly one that the
            question does not hold, and the output is text.
        reroute_calls: a call with two or more arguments its tool does not take, all
            of them another tool's (``calculator(expression="0.6 km", from_unit="km",
            to_unit="m")``), is made to that tool: the arguments say which tool the
            model meant. A required number the arguments lack is the one number of
            the call's other values (``value=0.6``). An invalid call with a value that is
            a choice of one other tool's argument (``inventory_count(item="notebooks")``
            when only ``price`` has notebooks among its items) is made to that tool.
        doubt_answers: a first move that answers without any tool is made again as a
            call when the question speaks of exactly one tool by a word of its name that
            no other tool's name has ("the capital of Lunaria" and ``lookup_capital``),
            forced to that tool (a call of the model's choosing when the question
            names several), or when the question holds numbers and the answer holds
            one that is in neither the question nor its spelled-out numbers ("531" for
            "35% of 1,460"), a call of the model's choosing: a model that knows a lot
            answers from memory what the tools are there for. Once a run; the calls go
            through the usual checks.
        delegate_first: the first move is always a tool, chosen among the tools' names
            only (a supervisor routes every task to a worker; off by default).
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
        complete_steps: bool = True,
        check_relevance: bool = True,
        plain_reask: bool = True,
        check_arithmetic: bool = True,
        ground_codes: bool = True,
        split_values: bool = True,
        pick_fields: bool = True,
        spelled_numbers: bool = True,
        code_words: bool = True,
        short_answers: bool = True,
        arrange_facts: bool = True,
        read_copies: bool = True,
        sentence_recall: bool = True,
        ground_numbers: bool = True,
        fan_out: bool = True,
        compare_values: bool = True,
        unsigned_gaps: bool = True,
        id_lookups: bool = True,
        field_values: bool = True,
        reroute_calls: bool = True,
        doubt_answers: bool = True,
        delegate_first: bool = False,
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
        self.complete_steps = complete_steps
        self.check_relevance = check_relevance
        self.plain_reask = plain_reask
        self.check_arithmetic = check_arithmetic
        self.ground_codes = ground_codes
        self.split_values = split_values
        self.pick_fields = pick_fields
        self.spelled_numbers = spelled_numbers
        self.code_words = code_words
        self.short_answers = short_answers
        self.arrange_facts = arrange_facts
        self.read_copies = read_copies
        self.sentence_recall = sentence_recall
        self.ground_numbers = ground_numbers
        self.fan_out = fan_out
        self.compare_values = compare_values
        self.unsigned_gaps = unsigned_gaps
        self.id_lookups = id_lookups
        self.field_values = field_values
        self.reroute_calls = reroute_calls
        self.doubt_answers = doubt_answers
        self.delegate_first = delegate_first

    def __repr__(self) -> str:
        off = [f"{f}=False" for f in TECHNIQUES if not getattr(self, f)]
        if self.delegate_first:
            off.append("delegate_first=True")
        return f"GuidedStrategy({', '.join(off)})"

    # --- the Strategy interface -------------------------------------------------------------

    def system_prompt(self, config: RunConfig) -> str:
        """The compact prompt when the agent kept the default one (and ``compact_prompt``)."""
        if not self.compact_prompt or not config.default_prompt:
            return config.system
        defs = [t.definition for t in config.tools.values()]
        return GUIDED_PROMPT.render(config.instructions, defs, config.spec.schema)

    def start(self, run: Run) -> Node:
        """Every run starts with a decision: a tool, or an answer."""
        return Decide()

    def after_tools(self, run: Run) -> Node:
        """After the calls ran: end with their result, or tell the model and decide again."""
        return AfterResults()

    def resume(self, run: Run) -> Node:
        """Where a rebuilt guided run goes on: from the last thing it journaled."""
        st = run.state
        last = st.last
        if st.purpose == "recall" and st.last_purpose != "recall":  # asked, no response
            return AnswerWithoutTools(again=True)
        if isinstance(last, ModelResponded):
            response, purpose = last.response, st.last_purpose
            if purpose == "choose":
                return Chosen(response)
            if purpose == "repair":
                return Repaired(response)
            if purpose in ("answer", "finish"):
                return Answer(response.text or "", final=purpose == "finish")
            if purpose == "recall":
                return Recalled(response.text or "")
            if purpose in ("next", "recompute"):
                return Attempted(response, purpose)
            return Decided(response, forced=purpose in _FORCED)
        if isinstance(last, TurnRecorded) and not last.calls:
            return Answer(last.text or "", final=True)
        if isinstance(last, OutputInvalid):
            return Finishing(st.last_text or "", last.errors)
        if st.results and not st.open_calls():
            return AfterResults()
        return Decide()

    # --- what the steps share ---------------------------------------------------------------

    def clauses(self, run: Run) -> list[str]:
        """The question's sequential clauses (the whole prompt when not following them)."""
        question = _question(run)
        return h.clauses(question) if self.follow_clauses else [question]

    def progresses(self, run: Run, call: ToolCall, results: list[h.Fact]) -> bool:
        """True when feeding a result back is the question's next step, not a rerun."""
        clauses = self.clauses(run)
        if len(clauses) > 1 and sum(r.ok for r in results) < len(clauses):
            return True
        if not self.track_question:
            return False
        left = _unused(run, [r.call for r in results])
        return len(_unused(run, [*(r.call for r in results), call])) < len(left)


def _terms(run: Run) -> list[str]:
    """The values of the tools' enum arguments: words a question names as items."""
    out: list[str] = []
    for tool in run.config.tools.values():
        for schema in _properties(tool).values():
            values = schema.get("enum", []) if isinstance(schema, dict) else []
            out += [v for v in values if isinstance(v, str)]
    return out


def _all_codes(run: Run) -> dict[str, set[str]] | None:
    """The codes every tool explains, when ``code_words`` is on."""
    if not _strategy(run).code_words:
        return None
    out: dict[str, set[str]] = {}
    for tool in run.config.tools.values():
        for code, means in _codes(tool.definition).items():
            out.setdefault(code, set()).update(means)
    return out


def _unused(run: Run, calls: list[ToolCall]) -> list[str]:
    spelled = _strategy(run).spelled_numbers
    found = [x.content for x in _facts(run) if x.ok]
    return h.unused(
        _question(run), calls, _terms(run), _all_codes(run), spelled=spelled, found=found
    )


def _question(run: Run) -> str:
    """The question as the orchestrator reads it and shows it: with the numbers it
    spells out in digits (``spelled_numbers``)."""
    return h.with_digits(run.prompt) if _strategy(run).spelled_numbers else run.prompt


def _stated(run: Run, results: list[h.Fact]) -> str:
    """The facts for a prompt: arranged for comparing (``arrange_facts``) or as found."""
    g, question = _strategy(run), _question(run)
    return h.facts(
        results,
        question if g.arrange_facts else None,
        asked_fields=question if g.field_values else None,
    )


def _history(run: Run) -> list[Message] | None:
    """The conversation for a decision: the run's own (None), or a copy in which the
    question reads as :func:`_question` (when the context is not being kept in bounds
    by working memory, which then owns the conversation)."""
    question = _question(run)
    if question == run.prompt or run.keeper is not None:
        return None
    return [
        UserMessage(question) if isinstance(m, UserMessage) and m.content == run.prompt else m
        for m in run.state.messages
    ]


def _strategy(run: Run) -> GuidedStrategy:
    s = run.strategy
    assert isinstance(s, GuidedStrategy)
    return s


def _facts(run: Run) -> list[h.Fact]:
    """Every finished call of the run, as the orchestrator judges them."""
    return [h.Fact(r.call, r.content, r.ok) for r in run.state.results]


def _clause_left(run: Run, results: list[h.Fact]) -> str | None:
    """The next clause of a question in clauses, from the last result ("17.7, then
    triple it."); None when the question is one clause or every clause is done."""
    clauses = _strategy(run).clauses(run)
    done = [r for r in results if r.ok]
    if len(clauses) < 2 or len(done) >= len(clauses):
        return None
    return f"{done[-1].content}, then {clauses[len(done)]}." if done else f"{clauses[0]}."


def _view(run: Run, results: list[h.Fact]) -> list[Message] | None:
    """What the model sees for the next decision: the run's history, or one clause."""
    question = _clause_left(run, results)
    if question is None:
        return None
    first = run.state.messages[0]
    system = first if isinstance(first, SystemMessage) else None
    return [*([system] if system else []), UserMessage(question)]


def _decision_view(run: Run, results: list[h.Fact]) -> list[Message] | None:
    view = _view(run, results)
    return view if view is not None else _history(run)


# --- the nodes -------------------------------------------------------------------------------


@dataclass(slots=True)
class Decide:
    """Ask the model for its next move: a tool call, or an answer."""

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        g = _strategy(r)
        if g.delegate_first and not r.state.results:
            # The first move is a call of one of the tools, the model's own pick.
            params = replace(r.config.params, tool_choice="required")
            got = await model_step(r, params, purpose="decide")
            return got if isinstance(got, GiveUp | Finish) else Decided(got)
        if g.native_decision:
            got = await model_step(
                r, r.config.params, _decision_view(r, _facts(r)), purpose="decide"
            )
            return got if isinstance(got, GiveUp | Finish) else Decided(got)
        names = [*r.config.tools, "answer"]
        schema = {"type": "object", "properties": {"next": {"enum": names}}, "required": ["next"]}
        params = ModelParams(json_schema=schema, allow_tools=False)
        got = await model_step(r, params, purpose="choose")
        return got if isinstance(got, GiveUp | Finish) else Chosen(got)


@dataclass(slots=True)
class Chosen:
    """A constrained choice among the tools and "answer" (``native_decision=False``)."""

    response: ModelResponse

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        choice = h.json_field(self.response.text, "next")
        if choice in r.config.tools:
            return Decided(
                ModelResponse(tool_calls=[ToolCall(choice, {}, f"call_{r.state.step}_0")])
            )
        got = await model_step(r, r.config.no_tools_params, purpose="decide")
        return got if isinstance(got, GiveUp | Finish) else Decided(got)


@dataclass(slots=True)
class Decided:
    """The model's move: answer (maybe again, in a fresh context), or repair and check calls.

    ``forced`` marks a move from one of the orchestrator's second tries (a required
    next step, a plain re-ask, a recomputation): its calls are not tried again.
    """

    response: ModelResponse
    forced: bool = False

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        g = _strategy(r)
        calls = list(self.response.tool_calls)
        looked = _id_lookups(r, calls) if g.id_lookups and not self.forced else []
        if looked:
            return Judge(looked, forced=True)
        if (
            not calls
            and g.repair_calls
            and not self.forced
            and h.looks_like_call(self.response.text)
        ):
            # A call of a tool that does not exist, or arguments without a name: the
            # model wants a tool; one is generated under the tools' schemas.
            params = replace(r.config.params, tool_choice="required")
            got = await model_step(r, params, purpose="repair")
            return got if isinstance(got, GiveUp | Finish) else Repaired(got)
        owner = _example_owner(r, self.response.text) if g.read_copies else None
        if not calls and owner is not None and not self.forced and not r.state.results:
            # The answer is a tool's example result: the model wants that tool.
            params = ModelParams((owner,), tool_choice=owner.name)
            got = await model_step(r, params, purpose="repair")
            return got if isinstance(got, GiveUp | Finish) else Repaired(got)
        doubted = (
            _doubted(r, self.response.text or "")
            if not calls and g.doubt_answers and not self.forced
            else None
        )
        if doubted is not None:
            params = (
                ModelParams((doubted,), tool_choice=doubted.name)
                if isinstance(doubted, ToolDefinition)
                else replace(r.config.params, tool_choice="required")
            )
            got = await model_step(r, params, purpose="repair")
            return got if isinstance(got, GiveUp | Finish) else Repaired(got)
        if not calls:
            if g.fresh_answers and not r.state.results:
                return AnswerWithoutTools()
            return Answer(self.response.text or "")
        out: list[ToolCall] = []
        for given in calls:
            call = (_rerouted(r, given) if g.reroute_calls else None) or given
            if _valid(r, call):
                out.append(call)
                continue
            trimmed = _without_unknown_keys(r, call)
            if trimmed is not None and g.repair_calls:
                out.append(trimmed)
                continue
            if out or not g.repair_calls:
                # Later calls are decided again after the valid ones have run.
                return Judge(out or [call], self.forced)
            tool = r.config.tools.get(call.name)
            defs = (
                (tool.definition,) if tool else tuple(t.definition for t in r.config.tools.values())
            )
            params = ModelParams(defs, tool_choice=call.name if tool else "required")
            got = await model_step(r, params, purpose="repair")
            return got if isinstance(got, GiveUp | Finish) else Repaired(got)
        return Judge(out, self.forced)


def _doubted(r: Run, answer: str) -> ToolDefinition | Literal["required"] | None:
    """The call a first answer given without any tool is made again as
    (``doubt_answers``): the one tool the question names, any tool when it names several
    or when the answer holds a number that the question does not while the question
    has numbers of its own, or None to keep the answer. Only before any result: the forced
    move either makes a call (a result follows) or is answered in a fresh context, so a
    run doubts once, and a run resumed before the forced move's response decides and
    doubts again as the run it continues did."""
    if r.state.results:
        return None
    question = _question(r)
    named = h.named_tools(question, list(r.config.tools))
    if len(named) == 1:
        return r.config.tools[named[0]].definition
    if named or (h.numbers(question) and h.computed_numbers(answer, question, [])):
        return "required"
    return None


def _id_lookups(r: Run, calls: list[ToolCall]) -> list[ToolCall]:
    """The orchestrator's calls for the question's values shaped like a tool's
    documented id (``id_lookups``), when the model's move gives that tool none of them:
    one per value no call has given it, each valid."""
    documented: dict[tuple[str, str], list[str]] = {}
    for name, tool in r.config.tools.items():
        for arg, schema in _properties(tool).items():
            if isinstance(schema, dict) and schema.get("type") == "string":
                ids = h.documented_ids(tool.description, arg, schema)
                if ids:
                    documented[(name, arg)] = ids
    if not documented:
        return []
    wanted = h.shaped_ids(_question(r), documented)
    given = {
        (c.name, str(v).strip().lower())
        for c in [*calls, *(x.call for x in _facts(r))]
        for v in h.leaves(c.parsed_arguments())
    }
    if any((owner, value.lower()) in given for owner, _, value in wanted):
        return []  # the model's move (or an earlier call) looks one of them up
    out: list[ToolCall] = []
    for owner, arg, value in wanted:
        call = ToolCall(owner, {arg: value}, f"call_{r.state.step}_id{len(out)}")
        if _valid(r, call):
            out.append(call)
    return out


@dataclass(slots=True)
class Repaired:
    """A call generated again under its tool's schema.

    Still invalid after the plain re-ask (the first call had nothing of the question,
    and neither had the second): the question needs no tool, and the model answers.
    """

    response: ModelResponse

    async def run(self, r: Run) -> Node:
        calls = self.response.tool_calls
        if not calls:
            return AnswerWithoutTools()
        call = calls[0]
        if _strategy(r).repair_calls:
            call = _without_unknown_keys(r, call) or call
        if r.state.asked.get("reask") and not _valid(r, call):
            return AnswerWithoutTools()
        return Judge([call])


@dataclass(slots=True)
class Judge:
    """Run the calls, end with a result, or have the model answer without tools."""

    calls: list[ToolCall]
    forced: bool = False

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        g = _strategy(r)
        results = _facts(r)
        calls = _fixed(r, self.calls)
        verdict: Verdict = _judge(r, calls, results, self.forced) if g.check_calls else calls
        if isinstance(verdict, h.Fact):
            if g.track_question and len(h.unconsumed(results)) > 1:
                return AnswerWithoutTools()
            return Answer(verdict.content, chosen=verdict)
        if verdict == "reask":
            return Reask()
        if verdict == "next":
            return NextStep(_unused(r, [x.call for x in results if x.ok]))
        if verdict == "answer":
            return AnswerWithoutTools()
        r.record(TurnRecorded, step=r.state.step, calls=verdict)
        return RunTools(verdict)


def _fixed(r: Run, calls: list[ToolCall]) -> list[ToolCall]:
    """The calls with codes grounded in the question and joined names split."""
    g = _strategy(r)
    out: list[ToolCall] = []
    facts, question = _facts(r), _question(r)
    for given in calls:
        # schema words added as arguments (``"required": [...]``) are dropped first
        call = (_without_unknown_keys(r, given) if g.repair_calls else None) or given
        args = call.parsed_arguments()
        tool = r.config.tools.get(call.name)
        if tool is None or not isinstance(args, dict):
            out.append(call)
            continue
        if g.complete_steps:
            names = list(r.config.tools)
            args = {
                k: h.resolve_references(v, facts, names, fields=g.field_values)
                if isinstance(v, str)
                else v
                for k, v in args.items()
            }
        if g.check_arithmetic:
            args = {
                k: h.averaged(h.without_result(v), question) if isinstance(v, str) else v
                for k, v in args.items()
            }
        if g.ground_numbers:
            fixed = h.renumbered(ToolCall(call.name, args, call.id), question, facts, _terms(r))
            if fixed is not None and _valid(r, ToolCall(call.name, fixed, call.id)):
                args = fixed
        if g.ground_codes:
            codes = _codes(tool.definition)
            grounded = h.grounded_codes(args, question, codes)
            grounded = h.ordered_codes(grounded, question, codes)
            if grounded != args and _valid(r, ToolCall(call.name, grounded, call.id)):
                args = grounded
            chosen = h.grounded_enums(args, question, _enums(tool.definition))
            if chosen != args and _valid(r, ToolCall(call.name, chosen, call.id)):
                args = chosen
        out.append(ToolCall(call.name, args, call.id) if args != call.parsed_arguments() else call)
    return out


def _split(r: Run, call: ToolCall) -> list[ToolCall]:
    """One call per name, when one argument of a failed call held several of the
    question's names and nothing else (``country="Kethmoor and Osterwick"``)."""
    args = call.parsed_arguments()
    if not isinstance(args, dict):
        return []
    for key, value in args.items():
        names = h.split_names(value, _question(r), _terms(r)) if isinstance(value, str) else []
        if names:
            return [
                ToolCall(call.name, {**args, key: n}, f"{call.id}_{i}") for i, n in enumerate(names)
            ]
    return []


def _codes(definition: ToolDefinition) -> dict[str, set[str]]:
    props = definition.parameters.get("properties", {})
    texts = [definition.description]
    texts += [p.get("description", "") for p in props.values() if isinstance(p, dict)]
    return h.glossary(texts)


def _judge(r: Run, calls: list[ToolCall], results: list[h.Fact], forced: bool = False) -> Verdict:
    g = _strategy(r)
    last = results[-1] if results and results[-1].ok else None
    call = calls[0]
    earlier = next((x for x in reversed(results) if x.call.key() == call.key()), None)
    if earlier is not None:
        if earlier is last and last is not None:
            return last
        if not earlier.ok and g.complete_steps and not forced:
            return "next"  # the same failing call again: another tool is tried
        return "answer"
    if last is not None and (
        h.restates_value(call, last.content)
        or (h.feeds_back(call, last) and not g.progresses(r, call, results))
    ):
        clauses = g.clauses(r)
        pending = len(clauses) > 1 and sum(x.ok for x in results) < len(clauses)
        if pending and g.complete_steps and not forced and _unused(r, [x.call for x in results]):
            return "next"  # a clause is left ("and triple it"): it is not done by restating
        return last
    tool = r.config.tools.get(call.name)
    stray = tool is not None and h.copied_example(
        tool.description, _without_choices(tool, call), _question(r), results
    )
    filled = _filled(r, call, results) if stray and g.read_copies else None
    if filled is not None:
        return [filled]
    routing = g.delegate_first and not results  # a required first call: any pick routes
    if not stray and g.check_relevance and not routing:
        stray = not h.relevant(call, _question(r), results)
    if stray:
        if last is not None:
            return last
        again = g.plain_reask and not forced and not r.state.asked.get("reask")
        return "reask" if again else "answer"
    return [c for c in calls if all(c.key() != x.call.key() for x in results)]


def _without_choices(tool: Tool, call: ToolCall) -> ToolCall:
    """The call without its arguments that take one of a fixed set of choices: a
    choice is named in the tool's description, never copied from it."""
    args = call.parsed_arguments()
    enums = _enums(tool.definition)
    if not isinstance(args, dict) or not enums:
        return call
    return ToolCall(call.name, {k: v for k, v in args.items() if k not in enums}, call.id)


def _example_owner(r: Run, text: str | None) -> ToolDefinition | None:
    """The one tool whose description holds the answer as an example value (the
    answer is three characters or more, and not in the question)."""
    answer = h.squash_text((text or "").strip().strip(".!\"'"))
    if len(answer) < 3 or answer.isdigit() or answer in h.squash_text(_question(r)):
        return None
    owners = [
        t.definition for t in r.config.tools.values() if answer in h.squash_text(t.description)
    ]
    return owners[0] if len(owners) == 1 else None


def _filled(r: Run, call: ToolCall, results: list[h.Fact]) -> ToolCall | None:
    """The call with its one copied string argument replaced by the one name of the
    question still unused; None unless there is exactly one of each."""
    args = call.parsed_arguments()
    tool = r.config.tools.get(call.name)
    if tool is None or not isinstance(args, dict):
        return None
    question = _question(r)
    codes = _all_codes(r) or {}
    names = [
        x
        for x in _unused(r, [f.call for f in results])
        if x[:1].isupper() and not h.numbers(x) and not h.codes_meaning(x, codes)
    ]
    copied = [
        k
        for k, v in args.items()
        if isinstance(v, str)
        and h.copied_example(tool.description, ToolCall(call.name, {k: v}), question, results)
    ]
    if not names and len(copied) == 1:
        # no name the question capitalises: the one word neither of asking nor of the
        # tool's own text ("norrhaven - what's the capital?"), cased as the example
        explained = f"{tool.description} {json.dumps(tool.definition.parameters)}"
        given = {str(v).lower() for f in results for v in h.leaves(f.call.parsed_arguments())}
        words = [
            w
            for w in h.free_words(question, explained)
            if not h.codes_meaning(w, codes) and w.lower() not in given
        ]
        example = str(args[copied[0]])
        cased = [h.cased_like(w, example) for w in words]
        names = cased if len(cased) == 1 else []
    if len(names) != 1 or len(copied) != 1:
        return None
    filled = ToolCall(call.name, {**args, copied[0]: names[0]}, call.id)
    return filled if _valid(r, filled) else None


@dataclass(slots=True)
class AfterResults:
    """End the run with the last result when the question has nothing left to use;
    otherwise tell the model what the tools returned and what is left, and decide again."""

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        g = _strategy(r)
        results = _facts(r)
        batch = {c.id for c in r.state.batch}
        notes: list[str] = []
        if g.result_notes:
            for x in results:
                if x.call.id in batch:
                    note = _RESULT_NOTE if x.ok else _ERROR_NOTE
                    notes.append(note.format(name=x.call.name, result=x.content))
        end = self._end(r, g, results, notes)
        if notes:  # one note per step, so a resumed run sees whether it was journaled
            r.note("\n\n".join(notes))
        return end

    @staticmethod
    def _end(r: Run, g: GuidedStrategy, results: list[h.Fact], notes: list[str]) -> Node:
        if not results:
            return Decide()
        if not results[-1].ok:
            split = _split(r, results[-1].call) if g.split_values else []
            fresh = [c for c in split if all(c.key() != x.call.key() for x in results)]
            return Judge(fresh) if fresh else Decide()
        clauses = g.clauses(r)
        if len(clauses) > 1:  # one clause per result; the last clause's result answers
            if sum(x.ok for x in results) < len(clauses):
                return Decide()
            return Answer(results[-1].content, chosen=results[-1])
        picked = _picked(r, results) if g.compare_values else None
        if picked is not None:  # every name has its number: nothing is left to fan out
            return picked
        fanned = _fanned(r, results) if g.fan_out else []
        if fanned:
            return Judge(fanned, forced=True)
        if not g.track_question:
            return Decide()
        left = _unused(r, [x.call for x in results])
        waiting = h.unconsumed(results)
        if left:
            if g.complete_steps:
                return NextStep(left)
            notes.append(_LEFT_NOTE.format(left=", ".join(left)))
            return Decide()
        if len(waiting) > 1:
            if g.check_arithmetic:
                return AnswerWithoutTools()
            notes.append(_COMBINE_NOTE.format(facts=_stated(r, waiting)))
            return Decide()
        return Answer(results[-1].content, chosen=results[-1])


def _picked(r: Run, results: list[h.Fact]) -> Node | None:
    """The end of a question a comparison answers (``compare_values``): the name it
    picks, or what the question asks of that name (see :func:`_then`)."""
    picked = h.compared(_question(r), results)
    if picked is None:
        return None
    then = _then(r, picked, results)
    if isinstance(then, ToolCall):
        return Judge([then], forced=True)
    if then is not None:
        why = (
            "The orchestrator compared the results for each name, then answered "
            f"with the result of {then.call.name} for {picked}."
        )
        return Answer(then.content, why=why)
    return Answer(picked, why="The orchestrator compared the results for each name.")


def _then(r: Run, picked: str, results: list[h.Fact]) -> ToolCall | h.Fact | None:
    """What the question asks of the name a comparison picked ("Whichever of A and B
    is more populous: what is its capital?"): the call of the one other tool it speaks
    of, with that name as its one required text argument, or that call's result once
    made; None when the question asks for the name itself."""
    compared = sorted({x.call.name for x in results if x.ok and h.numbers(x.content)})
    name = h.asked_of(_question(r), list(r.config.tools), compared)
    tool = r.config.tools.get(name or "")
    if tool is None:
        return None
    required = tool.definition.parameters.get("required", [])
    props = _properties(tool)
    if len(required) != 1 or props.get(required[0], {}).get("type") != "string":
        return None
    call = ToolCall(tool.name, {required[0]: picked}, f"call_{r.state.step}_then")
    made = next((x for x in results if x.call.key() == call.key()), None)
    if made is not None:
        return made if made.ok else None
    return call if _valid(r, call) else None


def _fanned(r: Run, results: list[h.Fact]) -> list[ToolCall]:
    """The calls just made, made again for each other item of the question's list that
    their argument came from (``fan_out``); none already made, each valid."""
    question = _question(r)
    batch = {c.id for c in r.state.batch}
    asked = {
        (x.call.name, str(v).strip().lower())
        for x in results
        for v in h.leaves(x.call.parsed_arguments())
    }
    out: list[ToolCall] = []
    for x in results:
        args = x.call.parsed_arguments()
        if x.call.id not in batch or not x.ok or not isinstance(args, dict):
            continue
        for key, value in args.items():
            if not isinstance(value, str):
                continue
            for sibling in h.siblings(question, value):
                name = h.cased_like(sibling, value)  # as the model wrote the first
                if (x.call.name, name.lower()) in asked:
                    continue
                asked.add((x.call.name, name.lower()))
                call = ToolCall(x.call.name, {**args, key: name}, f"{x.call.id}_{len(out)}")
                if _valid(r, call):
                    out.append(call)
    return out


def _focused(r: Run, text: str) -> list[Message]:
    """A fresh context for one of the orchestrator's own questions: the system prompt
    and the text, none of the run's history."""
    first = r.state.messages[0]
    system = first if isinstance(first, SystemMessage) else None
    return [*([system] if system else []), UserMessage(text)]


@dataclass(slots=True)
class NextStep:
    """A required tool call for what the question still needs, in a fresh context.

    After a result that leaves numbers or names of the question unused, a small model
    asked freely repeats its first call or stops on the intermediate result. Here it
    must call a tool, and sees only the question (with the parts already worked out
    replaced by their results), the facts found and what is unused. A call that uses
    nothing unused is not run: each other tool is then tried, forced by name, until a
    call uses something unused; if none does, the last result ends the run.
    """

    left: list[str]
    tried: tuple[str, ...] = ()

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        done = [x for x in _facts(r) if x.ok]
        if not done:  # after a failed call: another tool for the whole question
            text = _FIRST_STEP.format(question=_question(r), left=", ".join(self.left))
        elif (clause := _clause_left(r, done)) is not None:  # just the clause left
            text = _NEXT_STEP.format(question=clause, facts="", left=", ".join(self.left))
        else:
            # A result worked into the question ("(105) * 6") is not stated again: the
            # model copies a stated call ("67 + 38") instead of taking the next step.
            asked = _question(r)
            shown = [x for x in done if h.rewrite_question(asked, [x]) == asked]
            text = _NEXT_STEP.format(
                question=h.rewrite_question(asked, done),
                facts=f"\n\nKnown so far: {_stated(r, shown)}." if shown else "",
                left=", ".join(self.left),
            )
        got = await _attempt(r, text, self.tried, "next")
        if got is None:
            return Answer(done[-1].content, chosen=done[-1]) if done else AnswerWithoutTools()
        return got


@dataclass(slots=True)
class Recompute:
    """Work an answer's arithmetic out again with a required tool call, given the facts.

    The call must take at least two of the values known (the facts' and the
    question's numbers), one of them a fact's; each tool is tried as for
    :class:`NextStep`. When none does, the model's answer stands.
    """

    answer: str
    tried: tuple[str, ...] = ()

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        done = [x for x in _facts(r) if x.ok]
        text = _RECOMPUTE.format(question=_question(r), facts=_stated(r, done))

        got = await _attempt(r, text, self.tried, "recompute", self.answer)
        if got is None:
            return Answer(self.answer, final=True)
        return got


_TRIES = 4
"""At most this many required calls for one next step or recomputation."""


def _choices(r: Run, left: list[str]) -> list[str]:
    """The order of a required call's tries: first each tool whose explained codes
    mean a word still unused (``code_words``: "Celsius" left, the converter); the
    model's own pick among every tool; then each tool with an enum argument that can
    take something unused, that argument narrowed to what is unused
    (``name#narrow``); then each tool by name."""
    wanted = {x.lower() for x in left}
    narrow = [
        f"{name}#narrow"
        for name, tool in r.config.tools.items()
        if any(wanted & {str(v).lower() for v in e} for e in _enums(tool.definition).values())
    ]
    coded = (
        [
            name
            for name, tool in r.config.tools.items()
            if any(h.codes_meaning(x, _codes(tool.definition)) for x in left)
        ]
        if _strategy(r).code_words
        else []
    )
    # a tool not used yet whose name holds a word of the question ("28 days after ...",
    # ``add_days``)
    called = {x.call.name for x in _facts(r) if x.ok}
    said = set(re.findall(r"[a-z]{3,}", _question(r).lower()))
    said |= {w[:-1] for w in said if w.endswith("s")}
    named = [
        name
        for name in r.config.tools
        if _numbers_left(left)  # a value still to use, not only words ("how many days")
        and name not in called
        and {p for p in re.split(r"[_\W]+", name.lower()) if len(p) >= 3} & said
    ]
    return list(dict.fromkeys([*coded, "required", *named, *narrow, *r.config.tools]))


def _numbers_left(left: list[str]) -> bool:
    """True when a number of the question is still unused (not only its words)."""
    return any(h.numbers(x) for x in left)


def _enums(definition: ToolDefinition) -> dict[str, list[Any]]:
    props = definition.parameters.get("properties", {})
    return {
        k: p["enum"]
        for k, p in (props.items() if isinstance(props, dict) else ())
        if isinstance(p, dict) and isinstance(p.get("enum"), list)
    }


def _narrowed(definition: ToolDefinition, left: list[str]) -> ToolDefinition:
    """The tool with each enum argument limited to the values still unused."""
    wanted = {x.lower() for x in left}
    props = dict(definition.parameters.get("properties", {}))
    for key, values in _enums(definition).items():
        kept = [v for v in values if str(v).lower() in wanted]
        if kept:
            props[key] = {**props[key], "enum": kept}
    return replace(definition, parameters={**definition.parameters, "properties": props})


def _next_choice(r: Run, tried: tuple[str, ...], left: list[str]) -> str | None:
    if len(tried) >= _TRIES:
        return None
    return next((c for c in _choices(r, left) if c not in tried), None)


async def _attempt(
    r: Run, text: str, tried: tuple[str, ...], purpose: str, answer: str = ""
) -> Node | GiveUp | Finish | None:
    """One try of a required call (see :func:`_choices`). None when no try is left."""
    left = _unused(r, [x.call for x in _facts(r) if x.ok])
    choice = _next_choice(r, tried, left)
    if choice is None:
        return None
    params = replace(r.config.params, tool_choice="required")
    if choice != "required":
        name, _, how = choice.partition("#")
        defs = tuple(
            _narrowed(t.definition, left) if t.name == name and how else t.definition
            for t in r.config.tools.values()
        )
        params = replace(r.config.params, tools=defs, tool_choice=name)
    got = await model_step(r, params, _focused(r, text), purpose=purpose)
    if isinstance(got, GiveUp | Finish):
        return got
    return Attempted(got, purpose, tried, answer)


@dataclass(slots=True)
class Attempted:
    """A required call from :class:`NextStep` or :class:`Recompute`: run it when it
    does what it was asked for, else try the next tool.

    A resumed run comes here from the journaled response (without ``tried``: the
    tools are then tried again from the next one).
    """

    response: ModelResponse
    purpose: str
    tried: tuple[str, ...] = ()
    answer: str = ""

    async def run(self, r: Run) -> Node:
        results = _facts(r)
        calls = _unnested(r, _fixed(r, list(self.response.tool_calls)), results)
        new = [c for c in calls if all(c.key() != x.call.key() for x in results) and _valid(r, c)]
        left = _unused(r, [x.call for x in results if x.ok])
        if new and _accepted(r, self.purpose, new, results, left):
            return Judge(new, forced=True)
        choice = _next_choice(r, self.tried, left) or "required"
        tried = (*self.tried, choice)
        if choice == "required" and calls:  # the model's own pick: not again by name
            tried = (*tried, calls[0].name)
        if self.purpose == "next":
            return NextStep(left, tried)
        return Recompute(self.answer or r.state.last_text or "", tried)


def _accepted(
    r: Run, purpose: str, calls: list[ToolCall], results: list[h.Fact], left: list[str]
) -> bool:
    question = _question(r)
    for call in calls:  # a call that copies its tool's example does not use a number left
        tool = r.config.tools.get(call.name)
        if (
            _numbers_left(left)
            and tool is not None
            and h.copied_example(tool.description, call, question, results)
        ):
            return False
    if purpose == "next":  # it uses something of the question not used yet
        return len(_unused(r, [*(x.call for x in results if x.ok), *calls])) < len(left)
    # a recomputation takes two known values, one of them a fact's
    used = " ".join(h.call_text(c) for c in calls)
    facts = [x.content for x in results if x.ok and _used_fact(r, used, x.content)]
    asked = [n for n in h.question_items(_question(r), _terms(r)) if h.mentions(used, n)]
    return bool(facts) and len(facts) + len(asked) >= 2


def _used_fact(r: Run, used: str, content: str) -> bool:
    """True when a call's text uses a result: all of it, or (``field_values``) one of
    the numbers of a JSON result."""
    if h.mentions(used, content):
        return True
    return _strategy(r).field_values and h.uses_field(used, content, texts=False)


def _unnested(r: Run, calls: list[ToolCall], results: list[h.Fact]) -> list[ToolCall]:
    """Calls whose argument spells out a call of another tool not made yet
    (``calculator("lookup_population(country='Valdoria') + 1450000")``): that inner
    call is made first."""
    out: list[ToolCall] = []
    for call in calls:
        inner = None
        for value in h.leaves(call.parsed_arguments()):
            if isinstance(value, str):
                inner = h.inner_call(value, r.config.tools, call.id)
                if inner is not None:
                    break
        out.append(inner if inner is not None and _valid(r, inner) else call)
    return out


@dataclass(slots=True)
class Reask:
    """Decide again, once, with the tools' description examples taken out.

    When the question names values of a tool's enum argument ("hinges" for a part
    enum), that tool is called instead, forced by name, its enum narrowed to them;
    when it names what a tool's codes mean ("220 lbs in kilograms"), that tool is
    called, forced by name (``code_words``).
    """

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        found = _stated(r, [x for x in _facts(r) if x.ok])
        asked = _question(r)
        question = asked if not found else f"{asked}\n\nKnown so far: {found}."
        named = _unused(r, [x.call for x in _facts(r)])
        choices = _choices(r, named)
        narrow = [c for c in choices if c.endswith("#narrow")]
        coded = choices[: choices.index("required")]  # codes mean words of the question
        if coded and not narrow:
            defs = tuple(_plain(t.definition) for t in r.config.tools.values())
            params = replace(r.config.params, tools=defs, tool_choice=coded[0])
        elif narrow:
            name = narrow[0].partition("#")[0]
            defs = tuple(
                _narrowed(t.definition, named) if t.name == name else t.definition
                for t in r.config.tools.values()
            )
            params = replace(r.config.params, tools=defs, tool_choice=name)
        else:
            defs = tuple(_plain(t.definition) for t in r.config.tools.values())
            params = replace(r.config.params, tools=defs)
        got = await model_step(r, params, _focused(r, question), purpose="reask")
        return got if isinstance(got, GiveUp | Finish) else Decided(got, forced=True)


def _one_of_many(text: str, results: list[h.Fact]) -> bool:
    """True when results wait to be combined and a numeric answer is only one of them."""
    waiting = h.unconsumed(results)
    said = h.numbers(text)
    return (
        len(waiting) > 1
        and bool(said)
        and any(all(h.mentions(x.content, f"{n:g}") for n in said) for x in waiting)
    )


def _plain(definition: ToolDefinition) -> ToolDefinition:
    """A tool's definition with the examples taken out of its descriptions."""

    def strip(schema: Any) -> Any:
        if isinstance(schema, dict):
            return {
                k: h.without_examples(v) if k == "description" and isinstance(v, str) else strip(v)
                for k, v in schema.items()
            }
        if isinstance(schema, list):
            return [strip(v) for v in schema]
        return schema

    return replace(
        definition,
        description=h.without_examples(definition.description),
        parameters=strip(definition.parameters),
    )


@dataclass(slots=True)
class AnswerWithoutTools:
    """The model answers in a fresh context: the question and the facts found, no tools.

    ``recalled``: what the model said in a plain context (``sentence_recall``), given
    as a fact. ``again``: a resumed run whose recall was asked but not answered asks
    it again (else a run asks it once).
    """

    recalled: str = ""
    again: bool = False

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        schema = r.config.spec.schema
        g = _strategy(r)
        found = _stated(r, [x for x in _facts(r) if x.ok])
        asked = _question(r)
        value = schema is None and g.short_answers and h.asks_for_value(asked)
        if (
            value
            and g.sentence_recall
            and not found
            and not self.recalled
            and (self.again or not r.state.asked.get("recall"))
            and not h.shares_subject(r.config.instructions, asked)
        ):
            messages: list[Message] = [SystemMessage(_RECALL_PROMPT), UserMessage(asked)]
            got = await model_step(r, r.config.no_tools_params, messages, purpose="recall")
            return got if isinstance(got, GiveUp | Finish) else Recalled(got.text or "")
        template = _NO_TOOLS_PROMPT if schema is not None else _NO_TOOLS_TEXT
        system = template.render(r.config.instructions, [], schema)
        if value:
            system = f"{system.strip()}\n{_SHORT_NOTE}"
        found = found or self.recalled.rstrip(". ")
        question = asked if not found else f"{asked}\n\nFacts: {found}."
        messages = [SystemMessage(system.strip()), UserMessage(question)]
        got = await model_step(r, r.config.no_tools_params, messages, purpose="answer")
        return got if isinstance(got, GiveUp | Finish) else Answer(got.text or "")


@dataclass(slots=True)
class Recalled:
    """The model's sentence from a plain context (``sentence_recall``): the run ends
    with it when the value can be read out of it (:func:`_value_alone` does), else the
    model answers with it as a fact."""

    text: str

    async def run(self, r: Run) -> Node:
        text = self.text.strip()
        if text and not h.looks_like_call(text) and h.answer_span(text, _question(r)):
            return Answer(text)
        return AnswerWithoutTools(recalled="" if h.looks_like_call(text) else text)


@dataclass(slots=True)
class Answer:
    """End the run with an answer: the tool's result when the model only restates it.

    ``final`` marks an answer from a finishing step, taken as it is; ``why``, the
    orchestrator's own answer (``compare_values``), with the reason it gives.
    """

    text: str
    chosen: h.Fact | None = None
    final: bool = False
    why: str = ""

    async def run(self, r: Run) -> Node | Finish:
        g = _strategy(r)
        text, chosen = self.text, self.chosen
        results = _facts(r)
        if self.why:  # the orchestrator's own answer, worked out from the results
            return _judged(r, text, Reason("final_answer", self.why))
        structured = bool(results) and g.pick_fields and h.structured(results[-1].content)
        if chosen is not None and structured and chosen.call.id == results[-1].call.id:
            return AnswerWithoutTools()  # the model picks the answer out of the result
        if (
            chosen is None
            and not self.final
            and g.fresh_answers
            and h.looks_like_call(text)
            and not r.state.asked.get("answer")
        ):
            return AnswerWithoutTools()  # a call written as the answer is no answer
        if (
            chosen is None
            and not self.final
            and g.check_arithmetic
            and any(x.ok for x in results)
            and not r.state.asked.get("recompute")
            and (h.computed_numbers(text, _question(r), results) or _one_of_many(text, results))
        ):
            return Recompute(text)
        if (
            chosen is None
            and not self.final
            and not structured
            and g.finish_with_results
            and results
            and results[-1].ok
            and h.restates(text, results[-1].content, _question(r), [x.content for x in results])
        ):
            chosen = results[-1]
        if chosen is not None:
            text = chosen.content
            reason = Reason(
                "final_answer", f"The orchestrator answered with the result of {chosen.call.name}."
            )
            gap = h.unsigned_difference(_question(r), text) if g.unsigned_gaps else None
            if gap is not None and r.config.spec.schema is None:
                text = gap
                reason = Reason(
                    "final_answer",
                    f"The orchestrator answered with the size of the result of {chosen.call.name}"
                    " (the question asks for a gap).",
                )
        else:
            reason = Reason("final_answer", "The model gave a final answer.")
            last = r.state.last
            if text.strip() and not (
                isinstance(last, TurnRecorded) and not last.calls and last.text == text
            ):
                r.record(TurnRecorded, step=r.state.step, text=text)
            text = _value_alone(r, text, results)
            text = _field_alone(r, text, results)
        return _judged(r, _all_listed(r, text, results), reason)


def _judged(r: Run, text: str, reason: Reason) -> Finish | Finishing:
    """The run's end with this answer, or one finishing step when it is not valid."""
    got = judge_answer(r, text, reason)
    if isinstance(got, Finish):
        return got
    reject_output(r, got)
    return Finishing(text, got)


def _value_alone(r: Run, text: str, results: list[h.Fact]) -> str:
    """The value a sentence answer gives, for a question asking for one value that no
    tool answered, when the output is text (``short_answers``); the journal keeps the
    model's sentence."""
    question = _question(r)
    if (
        not _strategy(r).short_answers
        or r.config.spec.schema is not None
        or any(x.ok for x in results)
        or not h.asks_for_value(question)
    ):
        return text
    return h.answer_span(text, question) or text


def _all_listed(r: Run, text: str, results: list[h.Fact]) -> str:
    """Every result of a fan-out, joined in the question's order ("Varrow and Port
    Halloway"), when the answer gives at most one of them and the output is text
    (``fan_out``); the journal keeps the model's answer."""
    if not _strategy(r).fan_out or r.config.spec.schema is not None:
        return text
    listed = h.listed_results(_question(r), results)
    if listed is None or sum(h.mentions(text, x) for x in listed) > 1:
        return text
    return " and ".join(listed)


def _field_alone(r: Run, text: str, results: list[h.Fact]) -> str:
    """The one value of the last JSON result a sentence answer states, when the
    output is text (``field_values``); the journal keeps the model's sentence."""
    ok = [x for x in results if x.ok]
    if (
        not _strategy(r).field_values
        or r.config.spec.schema is not None
        or not ok
        or not h.structured(ok[-1].content)
    ):
        return text
    return h.field_value(text, _question(r), ok[-1].content) or text


@dataclass(slots=True)
class Finishing:
    """One constrained step that turns an invalid answer into the output type."""

    text: str
    errors: Any

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        schema = r.config.spec.schema
        if schema is None:  # plain text wanted, but the answer was empty
            r.note("Give your final answer now, as plain text.")
            got = await model_step(r, r.config.no_tools_params, purpose="finish")
        else:
            if self.text.strip():
                r.note(INVALID_NOTE.format(errors=self.errors))
            r.note(_FINISH_NOTE.format(schema=json.dumps(schema, separators=(",", ":"))))
            params = ModelParams(output_schema=schema, allow_tools=False, json_schema=schema)
            got = await model_step(r, params, purpose="finish")
        return got if isinstance(got, GiveUp | Finish) else Answer(got.text or "", final=True)


# --- checks on calls that need the tools -----------------------------------------------------


def _valid(r: Run, call: ToolCall) -> bool:
    tool = r.config.tools.get(call.name)
    if tool is None:
        return False
    try:
        tool.validate(call.arguments)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return False
    return True


def _properties(tool: Tool) -> dict[str, Any]:
    props = tool.definition.parameters.get("properties", {})
    return props if isinstance(props, dict) else {}


def _rerouted(r: Run, call: ToolCall) -> ToolCall | None:
    """The call made to the one other tool that takes all of two or more arguments
    its own tool does not (``reroute_calls``), with a required number it lacks taken
    from the call's other values when they hold exactly one; None unless valid."""
    args = call.parsed_arguments()
    tool = r.config.tools.get(call.name)
    if tool is None or not isinstance(args, dict):
        return None
    foreign = set(args) - set(_properties(tool))
    if len(foreign) < 2:
        # A call that is valid once its one foreign argument is dropped keeps its tool:
        # the name the model picked says more than a choice it added.
        if _valid(r, call) or _without_unknown_keys(r, call) is not None:
            return None
        return _rerouted_by_choice(r, call, args)
    owners = [
        t for t in r.config.tools.values() if t is not tool and foreign <= set(_properties(t))
    ]
    if len(owners) != 1:
        return None
    other = owners[0]
    props = _properties(other)
    kept = {k: v for k, v in args.items() if k in props}
    rest = " ".join(str(v) for k, v in args.items() if k not in props)
    found = h.numbers(rest)
    for name in other.definition.parameters.get("required", []):
        kind = props.get(name, {}).get("type") if isinstance(props.get(name), dict) else None
        if name not in kept and kind in ("number", "integer") and len(found) == 1:
            number = found[0]
            kept[name] = int(number) if kind == "integer" and number.is_integer() else number
    rerouted = ToolCall(other.name, kept, call.id)
    return rerouted if _valid(r, rerouted) else None


def _rerouted_by_choice(r: Run, call: ToolCall, args: dict[str, Any]) -> ToolCall | None:
    """An invalid call made to the one other tool that has one of its values among
    the choices of an argument (``inventory_count(item="notebooks", quantity=8)`` to
    ``price(item="notebook", quantity=8)`` when only ``price`` sells notebooks), its
    arguments of the same name kept; None unless valid."""
    values = [str(v) for v in args.values() if isinstance(v, str)]
    found: list[ToolCall] = []
    for tool in r.config.tools.values():
        if tool.name == call.name:
            continue
        for key, choices in _enums(tool.definition).items():
            picked = [
                c for c in choices if any(h.same_word(str(c).lower(), v.lower()) for v in values)
            ]
            if len(picked) == 1:
                props = _properties(tool)
                kept = {k: v for k, v in args.items() if k in props}
                found.append(ToolCall(tool.name, {**kept, key: picked[0]}, call.id))
                break
    valid = [c for c in found if _valid(r, c)]
    return valid[0] if len(valid) == 1 else None


def _without_unknown_keys(r: Run, call: ToolCall) -> ToolCall | None:
    """The call without arguments its tool does not take, when that makes it valid.

    Small models add schema words as arguments (``"required": ["expression"]``);
    dropping them keeps the call the model meant, which a regenerated call may not be.
    """
    tool = r.config.tools.get(call.name)
    args = call.parsed_arguments()
    if tool is None or not isinstance(args, dict):
        return None
    known = _properties(tool)
    kept = {k: v for k, v in args.items() if k in known}
    if len(kept) == len(args):
        return None
    trimmed = ToolCall(call.name, kept, call.id)
    return trimmed if _valid(r, trimmed) else None
