"""Tools built from the user's functions: secrets however they are spelled, any parameter
name, and options that are checked when the tool is built.

Every bad setting is a :class:`ConfigError` that says what to write, raised by ``Tool``
and ``@tool`` alike (or by ``Tool.check()`` for the signature), never a raw pydantic or
``TypeError`` at the first call, and never a setting that quietly does something else.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from tether import Agent, ConfigError, RunResult, Secret, Tool, ToolCall, tool
from tether.testing import ScriptedModel
from tether.tools import ProcessLimits


def _finished(result: RunResult) -> list[Any]:
    return [e for e in result.events if e.type == "tool_call_finished"]


def _run(made: Tool, *calls: ToolCall, deps: Any = None) -> RunResult:
    model = ScriptedModel([*[[c] for c in calls], "done"])
    return Agent(model, tools=[made]).run_sync("go", deps=deps)


# Secrets -------------------------------------------------------------------------------

got: list[Any] = []


def _as_text(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def optional_secret(user: str, password: Secret[str] | None = None) -> str:
    """Log in."""
    got.append(password)
    return f"logged in {user}"


def optional_typing(user: str, password: Optional[Secret[str]] = None) -> str:  # noqa: UP045
    """Log in."""
    got.append(password)
    return f"logged in {user}"


def optional_secretstr(user: str, password: SecretStr | None = None) -> str:
    """Log in."""
    got.append(password)
    return f"logged in {user}"


def annotated_optional(
    user: str, password: Annotated[Secret[str] | None, "the user's password"] = None
) -> str:
    """Log in."""
    got.append(password)
    return f"logged in {user}"


KeyedSecret = Annotated[SecretStr, Secret(key="pw")]


def optional_keyed(user: str, password: Optional[KeyedSecret]) -> str:  # noqa: UP045
    """Log in."""
    got.append(password)
    return f"logged in {user}"


OPTIONAL_SECRETS = [
    optional_secret,
    optional_typing,
    optional_secretstr,
    annotated_optional,
    optional_keyed,
]


@pytest.mark.parametrize("fn", OPTIONAL_SECRETS)
def test_an_optional_secret_is_hidden_from_the_model_and_filled_from_deps(
    fn: Callable[..., str],
) -> None:
    made = Tool(fn)
    assert set(made.definition.parameters["properties"]) == {"user"}
    assert [s.name for s in made.secrets] == ["password"]
    got.clear()
    result = _run(made, ToolCall(made.name, {"user": "ada"}), deps={"password": "s3", "pw": "s3"})
    (finished,) = _finished(result)
    assert (finished.outcome, finished.content) == ("ok", "logged in ada")
    assert [_as_text(v) for v in got] == ["s3"]  # the deps' value, not the model's


@pytest.mark.parametrize("fn", OPTIONAL_SECRETS)
def test_the_model_cannot_write_an_optional_secret(fn: Callable[..., str]) -> None:
    got.clear()
    call = ToolCall(fn.__name__, {"user": "ada", "password": "chosen-by-the-model"})
    result = _run(Tool(fn), call, deps={"password": "s3", "pw": "s3"})
    (finished,) = _finished(result)
    assert finished.outcome == "invalid_arguments"
    assert "password" in finished.content
    assert got == []  # the tool never ran with the model's value


def test_a_secretstr_that_may_be_none_reaches_the_tool_as_a_secretstr() -> None:
    got.clear()
    _run(
        Tool(optional_secretstr),
        ToolCall("optional_secretstr", {"user": "ada"}),
        deps={"password": "s3"},
    )
    (value,) = got
    assert isinstance(value, SecretStr)
    assert value.get_secret_value() == "s3"


@pytest.mark.parametrize(
    "annotation",
    [Secret[str] | int, SecretStr | str, SecretStr | int | None, SecretStr | SecretBytes],
)
def test_a_union_of_a_secret_and_another_type_is_refused(annotation: Any) -> None:
    def mixed(token: Any) -> str:
        return "ok"

    mixed.__annotations__["token"] = annotation
    with pytest.raises(ConfigError) as caught:
        Tool(mixed).check()
    text = str(caught.value)
    assert "tool 'mixed'" in text
    assert "parameter 'token' mixes a secret with other types" in text
    assert "Secret[str] | None" in text  # how to write it


@pytest.mark.parametrize(
    "annotation",
    [
        list[Secret[str]],
        dict[str, Secret[str]] | None,
        Annotated[list[SecretStr | Secret[int]], "x"],
    ],
)
def test_a_secret_inside_another_type_is_refused(annotation: Any) -> None:
    def nested(tokens: Any) -> str:
        return "ok"

    nested.__annotations__["tokens"] = annotation
    with pytest.raises(ConfigError, match="'tokens': Secret marks a whole parameter"):
        Tool(nested).check()


def test_a_bare_secret_annotation_is_refused_with_the_spelling_to_use() -> None:
    def bare(token: Secret) -> str:
        return "ok"

    with pytest.raises(ConfigError, match=r"annotated Secret without a type: write Secret\[str\]"):
        Tool(bare).check()


# Parameter names -----------------------------------------------------------------------


def odd_names(
    _x: int, model_config: int, model_dump: str, json: int, title: str, arg0: int = 7
) -> str:
    """Takes names pydantic reserves for itself.

    Args:
        _x: a private-looking name.
        model_config: pydantic's config attribute.
        model_dump: one of pydantic's methods.
        json: a BaseModel method.
        title: a JSON schema keyword.
        arg0: a name like the ones tether picks for the others.
    """
    return f"{_x} {model_config} {model_dump} {json} {title} {arg0}"


ODD = {"_x": 1, "model_config": 2, "model_dump": "three", "json": 4, "title": "five"}


def test_any_parameter_name_is_in_the_schema_under_its_own_name() -> None:
    params = Tool(odd_names).definition.parameters
    assert list(params["properties"]) == [*ODD, "arg0"]
    assert params["required"] == list(ODD)
    assert params["properties"]["_x"]["description"] == "a private-looking name."
    assert params["properties"]["arg0"]["default"] == 7


def test_any_parameter_name_reaches_the_tool() -> None:
    result = _run(Tool(odd_names), ToolCall("odd_names", ODD))
    (finished,) = _finished(result)
    assert (finished.outcome, finished.content) == ("ok", "1 2 three 4 five 7")


def test_a_call_is_validated_against_the_real_names_only() -> None:
    made = Tool(odd_names)
    assert made.validate({**ODD, "arg0": 8}) == {**ODD, "arg0": 8}
    internal = {k: v for k, v in ODD.items() if k != "_x"} | {"arg1": 1}
    (finished,) = _finished(_run(made, ToolCall("odd_names", internal)))
    assert finished.outcome == "invalid_arguments"
    assert "- _x: Field required" in finished.content  # the model is told the real name
    assert "- arg1: Extra inputs are not permitted" in finished.content


class Book(BaseModel):
    title: str
    pages: int


def shelve(title: str, book: Book, tags: dict[str, str] | None = None) -> str:
    """Shelve a book."""
    return f"{title}: {book.title}"


def test_properties_named_title_and_defaults_holding_one_stay_in_the_schema() -> None:
    def labelled(label: dict[str, str] = {"title": "kept"}) -> str:  # noqa: B006
        return "ok"

    params = Tool(shelve).definition.parameters
    assert params["required"] == ["title", "book"]
    assert set(params["properties"]) == {"title", "book", "tags"}
    assert set(params["$defs"]["Book"]["properties"]) == {"title", "pages"}
    assert "title" not in params["$defs"]["Book"]  # pydantic's own titles still go
    assert Tool(labelled).definition.parameters["properties"]["label"]["default"] == {
        "title": "kept"
    }


def takes_callable(fn: Callable[[int], int], n: int) -> int:
    """Calls fn."""
    return fn(n)


def takes_lock(n: int, lock: threading.Lock) -> int:
    """Holds a lock."""
    return n


@pytest.mark.parametrize(("fn", "param"), [(takes_callable, "fn"), (takes_lock, "lock")])
def test_a_parameter_type_without_a_json_schema_fails_at_check(
    fn: Callable[..., int], param: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Tool(fn).check()
    text = str(caught.value)
    assert f"tool {fn.__name__!r}: parameter {param!r} has a type the model cannot be shown" in text
    assert "pass the value in the run's deps" in text
    assert "arbitrary_types_allowed" not in text  # pydantic's advice; tools cannot take it


def test_an_agent_with_such_a_tool_fails_with_a_config_error_not_a_pydantic_one() -> None:
    agent = Agent(
        ScriptedModel([ToolCall("takes_callable", {"n": 1}), "done"]), tools=[takes_callable]
    )
    with pytest.raises(ConfigError, match="parameter 'fn'"):
        agent.run_sync("go")


# Options -------------------------------------------------------------------------------


def plain(a: int) -> int:
    """Returns a."""
    return a


def _by_class(fn: Callable[..., Any], **options: Any) -> Tool:
    return Tool(fn, **options)


def _by_decorator(fn: Callable[..., Any], **options: Any) -> Tool:
    return tool(**options)(fn)


BUILDERS = [_by_class, _by_decorator]
NAN = float("nan")
INF = float("inf")

BAD_OPTIONS = [
    ("timeout", NAN, "timeout is a finite number of seconds above 0"),
    ("timeout", INF, "timeout is a finite number of seconds above 0"),
    ("timeout", "5", "timeout is a finite number of seconds above 0"),
    ("timeout", 0, "timeout is a finite number of seconds above 0"),
    ("timeout", True, "timeout is a finite number of seconds above 0"),
    ("retries", 1.5, "retries is a whole number of at least 0"),
    ("retries", NAN, "retries is a whole number of at least 0"),
    ("retries", -1, "retries is a whole number of at least 0"),
    ("retries", True, "retries is a whole number of at least 0"),
    ("retries", "2", "retries is a whole number of at least 0"),
    ("retry_delay", NAN, "retry_delay is a finite number of seconds of at least 0"),
    ("retry_delay", -1, "retry_delay is a finite number of seconds of at least 0"),
    ("retry_delay", "0.1", "retry_delay is a finite number of seconds of at least 0"),
    ("retry_on", ("x",), "retry_on is an exception class or a tuple of them"),
    ("retry_on", "ValueError", "retry_on is an exception class or a tuple of them"),
    ("retry_on", ValueError("boom"), "retry_on is an exception class or a tuple of them"),
    ("retry_on", (int,), "retry_on is an exception class or a tuple of them"),
    ("retry_on", None, "retry_on is an exception class or a tuple of them"),
    ("requires_approval", "yes", "requires_approval is True or False"),
    ("requires_approval", None, "requires_approval is True or False"),
    ("idempotent", 1, "idempotent is True or False"),
    ("trusted_output", "no", "trusted_output is True or False"),
    ("reconcile", 3, "reconcile must be a function"),
    ("effects", None, "effects is a list of any of"),
    ("effects", [["writes"]], "effects is a list of any of"),
    ("description", 3, "description is text"),
]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(("option", "value", "message"), BAD_OPTIONS)
def test_a_bad_tool_option_is_a_config_error_when_the_tool_is_built(
    build: Callable[..., Tool], option: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build(plain, **{option: value})
    assert repr(value) in str(caught.value)
    assert "tool 'plain': " in str(caught.value)


@pytest.mark.parametrize("build", BUILDERS)
def test_limits_that_are_not_process_limits_are_refused(build: Callable[..., Tool]) -> None:
    with pytest.raises(ConfigError, match="limits is a ProcessLimits"):
        build(plain, isolation="process", limits={"memory_mb": 512})
    made = build(plain, isolation="process", limits=ProcessLimits(memory_mb=512))
    assert made.limits == ProcessLimits(memory_mb=512)


def test_a_schema_tool_checks_its_options_too() -> None:
    async def fn(arguments: dict[str, Any]) -> str:
        return "ok"

    with pytest.raises(ConfigError, match="tool 'remote': timeout is a finite number"):
        Tool.from_schema(
            name="remote", description="d", parameters={"type": "object"}, fn=fn, timeout=NAN
        )


def test_good_options_are_kept() -> None:
    made = Tool(plain, timeout=5, retries=3, retry_on=ConnectionError, retry_delay=0)
    assert (made.timeout, made.retries, made.retry_on, made.retry_delay) == (
        5,
        3,
        (ConnectionError,),
        0,
    )
    assert Tool(plain, retry_on=[KeyError, ValueError]).retry_on == (KeyError, ValueError)
    assert Tool(plain, retry_on=()).retry_on == ()


def test_one_class_as_retry_on_retries_a_timeout() -> None:
    calls = 0

    async def flaky() -> str:
        """Hangs the first time."""
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)
        return "ok"

    made = Tool(flaky, timeout=0.1, retries=1, retry_on=TimeoutError)
    (finished,) = _finished(_run(made, ToolCall("flaky", {})))
    assert (finished.outcome, finished.content, finished.attempts) == ("ok", "ok", 2)
