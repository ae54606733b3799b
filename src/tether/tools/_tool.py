"""Typed tools: schemas from type hints and docstrings, validated arguments.

A tool is a plain function (sync or async). Its parameters' type hints and its
Google-style docstring give the JSON schema the model sees; pydantic validates
the model's arguments against the same schema before the function runs.

A tool whose schema comes from elsewhere (an MCP server, an OpenAPI document) is
built with :meth:`Tool.from_schema`: the model sees that JSON schema exactly, and
``jsonschema`` validates the arguments against it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_origin, get_type_hints, overload

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from tether._errors import ConfigError
from tether._messages import ToolDefinition

from ._context import RunContext
from ._procs import ProcessLimits
from ._secrets import SecretParam, secret_of

__all__ = ["InvalidArguments", "Tool", "format_validation_error", "tool"]

F = TypeVar("F", bound=Callable[..., Any])
Effect = Literal["writes", "pays", "sends"]
EFFECTS: tuple[Effect, ...] = ("writes", "pays", "sends")


def _strip_titles(schema: Any) -> Any:
    # pydantic adds a "title" to every property; models only need the names.
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _takes_context(annotation: Any) -> bool:
    return annotation is RunContext or get_origin(annotation) is RunContext


def format_validation_error(err: ValidationError) -> str:
    """A short, model-readable list of what was wrong with some arguments."""
    lines = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(arguments)"
        got = e.get("input")
        got_text = f" (got {got!r})" if e["type"] != "missing" and not isinstance(got, dict) else ""
        lines.append(f"- {loc}: {e['msg']}{got_text}")
    return "\n".join(lines)


class InvalidArguments(ValueError):
    """Arguments that do not fit a tool's JSON schema (see :meth:`Tool.from_schema`).

    Its text is a short, model-readable list of what is wrong, one ``- place: problem``
    line each, as :func:`format_validation_error` writes for pydantic's errors.
    """


_MAX_PROBLEMS = 10
"""How many schema violations an error lists; more would drown the first ones."""


def _schema_problems(validator: Any, arguments: Any) -> list[str]:
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    lines = []
    for e in errors[:_MAX_PROBLEMS]:
        loc = ".".join(str(p) for p in e.absolute_path) or "(arguments)"
        lines.append(f"- {loc}: {e.message}")
    if len(errors) > _MAX_PROBLEMS:
        lines.append(f"- ... and {len(errors) - _MAX_PROBLEMS} more")
    return lines


class _DictCall:
    """Calls a function of one arguments dict with keyword arguments, as tools are called."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[dict[str, Any]], Awaitable[Any]]) -> None:
        self.fn = fn

    async def __call__(self, **arguments: Any) -> Any:
        result = self.fn(arguments)
        return await result if inspect.isawaitable(result) else result


@dataclass(frozen=True, slots=True)
class _Schema:
    is_async: bool
    description: str
    ctx_param: str | None
    args_model: type[BaseModel] | None
    param_names: tuple[str, ...]
    secrets: tuple[SecretParam, ...] = ()
    json_schema: dict[str, Any] | None = None
    validator: Any = None  # a jsonschema validator, for tools built from a JSON schema


_SCHEMAS: weakref.WeakKeyDictionary[Any, _Schema] = weakref.WeakKeyDictionary()

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The tool names every provider accepts (OpenAI's rule; Anthropic's is the same)."""


def _tool_name(fn: Callable[..., Any], given: str | None) -> str:
    """The name the model sees: the one given, or the function's (a callable object's
    class name); refused unless providers accept it."""
    if given is not None:
        if not isinstance(given, str) or not _NAME.fullmatch(given):
            raise ConfigError(
                "a tool's name is 1 to 64 letters, digits, '_' or '-' (model providers "
                f"refuse others), got name={given!r}"
            )
        return given
    derived = getattr(fn, "__name__", None) or type(fn).__name__
    if not isinstance(derived, str) or not _NAME.fullmatch(derived):
        raise ConfigError(
            f"tool {derived!r} has no name a model provider accepts (1 to 64 letters, "
            "digits, '_' or '-'): pass one with name=..., e.g. Tool(fn, name='lookup') or "
            "@tool(name='lookup')"
        )
    return derived


class Tool:
    """A function the model can call.

    Args:
        fn: the function, sync or async. A first parameter annotated
            ``RunContext[...]`` receives the run context and is not shown to the model.
        name: the name the model sees; the function's name by default. Providers
            accept 1 to 64 letters, digits, ``_`` or ``-``: a lambda, or a function
            whose name has other characters, needs one.
        description: what the tool does; the docstring's description by default.
        timeout: seconds after which the call is stopped (async tools are
            cancelled, and abandoned if they do not end within a short grace; sync
            tools are abandoned in their worker thread, see
            :mod:`tether._workers`) and the model is told it timed out. A
            ``TimeoutError`` the tool raises itself is its own error, not this.
        retries: how many times a call that raises one of ``retry_on`` is run again
            before its error goes back to the model.
        retry_on: the exception types that are retried.
        retry_delay: seconds before the first retry; doubled each time.
        max_result_chars: results longer than this are cut, with a visible marker
            (at least 1; the agent's ``max_result_chars`` when None).
        idempotent: running the same call twice has the effect of running it once
            (the durable-run layer may re-run it after a crash, with the same
            idempotency key).
        requires_approval: a person must approve each call before it runs; the run
            stops as ``interrupted`` with the pending calls and is resumed with decisions.
        reconcile: for a tool that is not idempotent, a function ``(args, key) -> result``
            that asks the outside world whether a call cut off by a crash happened
            (``key`` is its idempotency key): it returns the call's result if it did,
            or raises :class:`LookupError` if it did not (the call then runs).
        isolation: where a sync tool runs: ``"thread"`` (default; abandoned at its
            timeout) or ``"process"`` (a child process, killed at its timeout; the
            function and its arguments must be picklable, and it gets no RunContext).
        limits: what a ``"process"`` tool may use (:class:`ProcessLimits`: memory, CPU
            seconds, open files; 1 GiB, 60 s and 256 by default); a limit that trips
            is an error the model sees.
        effects: what the tool does to the world, for the injection policy: any of
            ``"writes"``, ``"pays"``, ``"sends"``. A tool with effects is high-risk: once
            tool output is in the conversation, its calls wait for approval or are
            refused (see :class:`~tether.InjectionPolicy`).
        trusted_output: the tool's results are trusted (written by you, not by others:
            a calculator, a clock). Results are untrusted by default.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        retry_delay: float = 0.05,
        max_result_chars: int | None = None,
        idempotent: bool = False,
        isolation: Literal["thread", "process"] = "thread",
        requires_approval: bool = False,
        reconcile: Callable[[dict[str, Any], str], Any] | None = None,
        limits: ProcessLimits | None = None,
        effects: Iterable[Effect] = (),
        trusted_output: bool = False,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a tool must be a function, got {fn!r}")
        if isinstance(effects, str):
            effects = (effects,)  # type: ignore[assignment]
        self.effects: frozenset[Effect] = frozenset(effects)
        unknown = sorted(str(e) for e in self.effects - set(EFFECTS))
        if unknown:
            raise ConfigError(
                f"unknown tool effects {unknown}: a tool's effects are any of {list(EFFECTS)}"
            )
        self.trusted_output = trusted_output
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            raise ConfigError(
                f"tool {getattr(fn, '__name__', fn)!r} is a generator; a tool returns one "
                "value: collect the items into a list and return it"
            )
        if retries < 0:
            raise ConfigError(f"tool retries must be >= 0, got {retries}")
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"tool timeout must be > 0 seconds, got {timeout}")
        if max_result_chars is not None and (
            isinstance(max_result_chars, bool)
            or not isinstance(max_result_chars, int)
            or max_result_chars < 1
        ):
            raise ConfigError(
                "tool max_result_chars must be an int of at least 1 (or None for the "
                f"agent's), got {max_result_chars!r}"
            )
        self.fn = fn
        self.name: str = _tool_name(fn, name)
        self.timeout = timeout
        self.retries = retries
        self.retry_on = retry_on
        self.retry_delay = retry_delay
        self.max_result_chars = max_result_chars
        self.idempotent = idempotent
        if isolation not in ("thread", "process"):
            raise ConfigError(f"tool isolation must be 'thread' or 'process', got {isolation!r}")
        self.isolation = isolation
        if limits is not None and isolation != "process":
            raise ConfigError(
                f"tool {self.name!r}: limits apply to isolation='process' tools only "
                "(a thread shares the process's memory and CPU)"
            )
        self.limits = limits or (ProcessLimits() if isolation == "process" else None)
        self.requires_approval = requires_approval
        self.reconcile = reconcile
        self._description = description
        self._schema: _Schema | None = None
        self._definition: ToolDefinition | None = None

    @classmethod
    def from_schema(
        cls,
        *,
        name: str,
        description: str,
        parameters: dict[str, Any],
        fn: Callable[[dict[str, Any]], Awaitable[Any]],
        timeout: float | None = None,
        retries: int = 0,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        retry_delay: float = 0.05,
        max_result_chars: int | None = None,
        idempotent: bool = False,
        requires_approval: bool = False,
    ) -> Tool:
        """A tool whose arguments are described by a JSON schema rather than type hints.

        For tools defined elsewhere (an MCP server, an OpenAPI operation): the model
        sees ``parameters`` exactly as given, the arguments are validated against it
        with ``jsonschema`` before ``fn`` runs (an invalid call never reaches ``fn``;
        the model is told what is wrong), and ``fn`` receives them as one dict.

        Args:
            name: the name the model sees.
            description: what the tool does.
            parameters: the JSON schema of the arguments object.
            fn: an async function of the validated arguments dict; it returns the
                result, or raises to report an error to the model.
            timeout: see :class:`Tool`.
            retries: see :class:`Tool`.
            retry_on: see :class:`Tool`.
            retry_delay: see :class:`Tool`.
            max_result_chars: see :class:`Tool`.
            idempotent: see :class:`Tool`.
            requires_approval: see :class:`Tool`.

        Raises:
            ConfigError: ``parameters`` is not a valid JSON schema, ``fn`` is not callable,
                or ``name`` is not 1 to 64 letters, digits, ``_`` or ``-``.

        Example:
            ```python
            async def search(args: dict[str, Any]) -> str:
                return await index.search(args["query"])

            search_tool = Tool.from_schema(
                name="search",
                description="Search the index.",
                parameters={
                    "type": "object",
                    "properties": {"query": {"type": "string"}},
                    "required": ["query"],
                },
                fn=search,
            )
            ```
        """
        # Imported here: most agents never build a tool from a schema, and jsonschema
        # takes tens of milliseconds to import.
        import jsonschema
        import jsonschema.exceptions

        if not callable(fn):
            raise ConfigError(f"tool {name!r}: fn must be a function, got {fn!r}")
        if not isinstance(parameters, dict):
            raise ConfigError(f"tool {name!r}: parameters must be a JSON schema object")
        schema = copy.deepcopy(parameters)
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise ConfigError(
                f"tool {name!r}: parameters are not a valid JSON schema: {exc.message}"
            ) from None
        made = cls(
            _DictCall(fn),
            name=name,
            description=description,
            timeout=timeout,
            retries=retries,
            retry_on=retry_on,
            retry_delay=retry_delay,
            max_result_chars=max_result_chars,
            idempotent=idempotent,
            requires_approval=requires_approval,
        )
        made._schema = _Schema(
            is_async=True,
            description=description,
            ctx_param=None,
            args_model=None,
            param_names=(),
            json_schema=schema,
            validator=validator_class(schema),
        )
        return made

    def _ensure(self) -> _Schema:
        # Built on first use and shared by every Tool of the same function, so that
        # creating an agent costs microseconds (schemas take hundreds of them).
        if self._schema is None:
            try:
                cached = _SCHEMAS.get(self.fn)
            except TypeError:  # unhashable or not weak-referenceable: no sharing
                cached = None
            if cached is None:
                cached = self._build_schema()
                with contextlib.suppress(TypeError):
                    _SCHEMAS[self.fn] = cached
            if self.isolation == "process" and (cached.is_async or cached.ctx_param):
                raise ConfigError(
                    f"tool {self.name!r}: isolation='process' is for sync tools without a "
                    "RunContext parameter (the call must be sent to another process)"
                )
            self._schema = cached
        return self._schema

    def _build_schema(self) -> _Schema:
        fn = self.fn
        target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn).__call__
        is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(fn)
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        description = "\n\n".join(p for p in (doc.short_description, doc.long_description) if p)
        ctx_param, model, names, secrets = self._build_model(fn, doc)
        return _Schema(is_async, description, ctx_param, model, names, secrets)

    @property
    def is_async(self) -> bool:
        """True for an ``async def`` tool (run on the event loop, cancelled on timeout)."""
        return self._ensure().is_async

    @property
    def description(self) -> str:
        """What the model is told the tool does."""
        return self._description or self._ensure().description

    @property
    def ctx_param(self) -> str | None:
        """The parameter that receives the :class:`RunContext`, if any."""
        return self._ensure().ctx_param

    @property
    def args_model(self) -> type[BaseModel]:
        """The pydantic model that validates the arguments.

        Raises:
            ConfigError: the tool was built from a JSON schema and has no pydantic model.
        """
        model = self._ensure().args_model
        if model is None:
            raise ConfigError(
                f"tool {self.name!r} was built from a JSON schema and has no pydantic model; "
                "read its definition.parameters"
            )
        return model

    @property
    def secrets(self) -> tuple[SecretParam, ...]:
        """The parameters tether fills from the run's deps or the environment."""
        return self._ensure().secrets

    def check(self) -> None:
        """Build the schema now, so a bad signature fails early with a :class:`ConfigError`."""
        self._ensure()

    def _build_model(
        self, fn: Callable[..., Any], doc: docstring_parser.Docstring
    ) -> tuple[str | None, type[BaseModel], tuple[str, ...], tuple[SecretParam, ...]]:
        try:
            sig = inspect.signature(fn)
            hints = get_type_hints(fn, include_extras=True)
        except (TypeError, ValueError, NameError) as exc:
            raise ConfigError(f"cannot read the signature of tool {self.name!r}: {exc}") from exc
        params = list(sig.parameters.values())
        ctx_param = None
        if params and _takes_context(hints.get(params[0].name, params[0].annotation)):
            ctx_param = params[0].name
            params = params[1:]
        docs = {p.arg_name: p.description for p in doc.params}
        fields: dict[str, Any] = {}
        secrets: list[SecretParam] = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ConfigError(
                    f"tool {self.name!r} takes *{p.name}: tools need named, typed parameters"
                )
            if p.kind is p.POSITIONAL_ONLY:
                raise ConfigError(
                    f"tool {self.name!r} has positional-only parameter {p.name!r}; "
                    "tools are called with keyword arguments"
                )
            annotation = hints.get(p.name, Any)
            if _takes_context(annotation):
                raise ConfigError(
                    f"tool {self.name!r}: RunContext must be the first parameter, not {p.name!r}"
                )
            secret = secret_of(p.name, annotation)
            if secret is not None:  # filled by tether, never shown to or written by the model
                secrets.append(secret)
                continue
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (annotation, Field(default, description=docs.get(p.name)))
        model = create_model(
            f"{self.name}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        return ctx_param, model, tuple(fields), tuple(secrets)

    @property
    def definition(self) -> ToolDefinition:
        """The tool as a model sees it."""
        if self._definition is None:
            given = self._ensure().json_schema
            if given is not None:  # from_schema: exactly the schema it was given
                schema = copy.deepcopy(given)
            else:
                schema = _strip_titles(self.args_model.model_json_schema())
                schema.setdefault("properties", {})
            self._definition = ToolDefinition(self.name, self.description, schema)
        return self._definition

    def validate(self, arguments: dict[str, Any] | str) -> dict[str, Any]:
        """The arguments, validated and converted to the parameters' types.

        Raises:
            pydantic.ValidationError: malformed JSON or arguments that do not fit.
            InvalidArguments: the same, for a tool built with :meth:`from_schema`.
        """
        schema = self._schema or self._ensure()
        if schema.validator is not None:
            return _validate_json_schema(schema.validator, arguments)
        assert schema.args_model is not None
        if isinstance(arguments, str):
            model = schema.args_model.model_validate_json(arguments or "{}")
        else:
            model = schema.args_model.model_validate(arguments)
        values = model.__dict__
        return {name: values[name] for name in schema.param_names}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as if it were not a tool."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


def _validate_json_schema(validator: Any, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """The arguments of a :meth:`Tool.from_schema` tool, checked against its schema."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError as exc:
            raise InvalidArguments(f"- (arguments): not valid JSON ({exc})") from None
    if not isinstance(arguments, dict):
        raise InvalidArguments(
            f"- (arguments): expected a JSON object, got {type(arguments).__name__}"
        )
    problems = _schema_problems(validator, arguments)
    if problems:
        raise InvalidArguments("\n".join(problems))
    return dict(arguments)


@overload
def tool(fn: F, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    retry_delay: float = 0.05,
    max_result_chars: int | None = None,
    idempotent: bool = False,
    isolation: Literal["thread", "process"] = "thread",
    requires_approval: bool = False,
    reconcile: Callable[[dict[str, Any], str], Any] | None = None,
    limits: ProcessLimits | None = None,
    effects: Iterable[Effect] = (),
    trusted_output: bool = False,
) -> Callable[[F], Tool]: ...


def tool(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    retry_delay: float = 0.05,
    max_result_chars: int | None = None,
    idempotent: bool = False,
    isolation: Literal["thread", "process"] = "thread",
    requires_approval: bool = False,
    reconcile: Callable[[dict[str, Any], str], Any] | None = None,
    limits: ProcessLimits | None = None,
    effects: Iterable[Effect] = (),
    trusted_output: bool = False,
) -> Tool | Callable[[F], Tool]:
    """Make a function into a :class:`Tool`, with or without options.

    Example:
        ```python
        @tool
        def add(a: int, b: int) -> int:
            \"\"\"Add two integers.\"\"\"
            return a + b

        @tool(timeout=5, retries=2, idempotent=True)
        async def fetch(ctx: RunContext[Deps], url: str) -> str: ...
        ```
    """

    def wrap(f: F) -> Tool:
        return Tool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            retries=retries,
            retry_on=retry_on,
            retry_delay=retry_delay,
            max_result_chars=max_result_chars,
            idempotent=idempotent,
            isolation=isolation,
            requires_approval=requires_approval,
            reconcile=reconcile,
            limits=limits,
            effects=effects,
            trusted_output=trusted_output,
        )

    return wrap(fn) if fn is not None else wrap


ToolFunc = Callable[..., Any] | Callable[..., Awaitable[Any]]
