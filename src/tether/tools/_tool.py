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
import math
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_origin, get_type_hints, overload

import docstring_parser
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUndefinedAnnotation,
    PydanticUserError,
    ValidationError,
    create_model,
)

from tether._errors import ConfigError
from tether._messages import ToolDefinition

from ._context import RunContext
from ._procs import ProcessLimits
from ._secrets import SecretParam, secret_of

__all__ = ["InvalidArguments", "Tool", "format_validation_error", "tool"]

F = TypeVar("F", bound=Callable[..., Any])
Effect = Literal["writes", "pays", "sends"]
EFFECTS: tuple[Effect, ...] = ("writes", "pays", "sends")


_SUBSCHEMA = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "propertyNames",
        "contains",
        "not",
        "if",
        "then",
        "else",
    }
)
_SUBSCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems", "items"})
_SUBSCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)


def _strip_titles(schema: Any) -> Any:
    """The schema without the "title" pydantic gives every property and model (models
    only need the names). Only the keyword goes: a property named ``title`` and a
    default or enum value that holds a "title" key are kept."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [_strip_titles(sub) for sub in value]
        elif key in _SUBSCHEMA:
            out[key] = _strip_titles(value)
        else:
            out[key] = value
    return out


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
    field_names: tuple[str, ...] = ()  # the args model's field of each parameter, in order
    secrets: tuple[SecretParam, ...] = ()
    json_schema: dict[str, Any] | None = None  # what the model sees, titles stripped
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


def _field_name(name: str, index: int, taken: set[str]) -> str:
    """The args model's field for a parameter: its own name, unless pydantic refuses or
    reserves it (``_x``, ``model_config``, ``json``); then an unused name, with the
    parameter's name as its alias, so the schema and the model still use the real one."""
    if not name.startswith(("_", "model_")) and not hasattr(BaseModel, name):
        return name
    field = f"arg{index}"
    while field in taken:
        field += "_"
    taken.add(field)
    return field


class Tool:
    """A function the model can call.

    Args:
        fn: the function, sync or async. A first parameter annotated
            ``RunContext[...]`` receives the run context and is not shown to the model.
            Any parameter name works (``_id``, ``model_config``, ``title``); each
            parameter's type needs a JSON schema, so a ``Callable`` or a lock is refused.
        name: the name the model sees; the function's name by default. Providers
            accept 1 to 64 letters, digits, ``_`` or ``-``: a lambda, or a function
            whose name has other characters, needs one.
        description: what the tool does; the docstring's description by default.
        timeout: seconds (finite, above 0) after which the call is stopped (async tools are
            cancelled, and abandoned if they do not end within a short grace; sync
            tools are abandoned in their worker thread, see
            :mod:`tether._workers`) and the model is told it timed out. A
            ``TimeoutError`` the tool raises itself is its own error, not this.
        retries: how many times (a whole number) a call that raises one of
            ``retry_on`` is run again before its error goes back to the model.
        retry_on: the exception types that are retried: a class or a tuple of them.
            Tether's own timeout is retried when ``TimeoutError`` is among them.
        retry_delay: seconds before the first retry (finite, 0 or more); doubled each time.
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
            or raises :class:`LookupError` if it did not (the call then runs). It may
            be async. A hook that raises anything else, or does not answer within
            ``reconcile_timeout``, leaves the call to a person.
        reconcile_timeout: seconds the ``reconcile`` hook may take to answer (a sync
            hook is then abandoned in its worker thread, an async one cancelled); the
            tool's ``timeout`` by default, else 30 s.
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
        reconcile_timeout: float | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a tool must be a function, got {fn!r}")
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            raise ConfigError(
                f"tool {getattr(fn, '__name__', fn)!r} is a generator; a tool returns one "
                "value: collect the items into a list and return it"
            )
        self.fn = fn
        self.name: str = _tool_name(fn, name)
        if description is not None and not isinstance(description, str):
            raise ConfigError(
                f"tool {self.name!r}: description is text (or None for the docstring's), "
                f"got {description!r}"
            )
        self.effects: frozenset[Effect] = _effects(self.name, effects)
        self.trusted_output = _flag(self.name, "trusted_output", trusted_output)
        self.timeout = _timeout(self.name, timeout)
        self.retries, self.retry_on, self.retry_delay = _retry_options(
            self.name, retries, retry_on, retry_delay
        )
        if max_result_chars is not None and (
            isinstance(max_result_chars, bool)
            or not isinstance(max_result_chars, int)
            or max_result_chars < 1
        ):
            raise ConfigError(
                "tool max_result_chars must be an int of at least 1 (or None for the "
                f"agent's), got {max_result_chars!r}"
            )
        self.max_result_chars = max_result_chars
        self.idempotent = _flag(self.name, "idempotent", idempotent)
        if isolation not in ("thread", "process"):
            raise ConfigError(f"tool isolation must be 'thread' or 'process', got {isolation!r}")
        self.isolation = isolation
        if limits is not None and not isinstance(limits, ProcessLimits):
            raise ConfigError(
                f"tool {self.name!r}: limits is a ProcessLimits (e.g. "
                f"ProcessLimits(memory_mb=512)) or None for the defaults, got {limits!r}"
            )
        if limits is not None and isolation != "process":
            raise ConfigError(
                f"tool {self.name!r}: limits apply to isolation='process' tools only "
                "(a thread shares the process's memory and CPU)"
            )
        self.limits = limits or (ProcessLimits() if isolation == "process" else None)
        self.requires_approval = _flag(self.name, "requires_approval", requires_approval)
        self.reconcile, self.reconcile_timeout = _reconcile_options(
            self.name, reconcile, reconcile_timeout
        )
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
        ctx_param, model, names, fields, secrets = self._build_model(fn, doc)
        return _Schema(
            is_async,
            description,
            ctx_param,
            model,
            names,
            fields,
            secrets,
            json_schema=self._json_schema(model),
        )

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
        """Build the schema now, so a bad signature fails early with a :class:`ConfigError`:
        a parameter type with no JSON schema, or a secret mixed with other types."""
        self._ensure()

    def _build_model(
        self, fn: Callable[..., Any], doc: docstring_parser.Docstring
    ) -> tuple[
        str | None, type[BaseModel], tuple[str, ...], tuple[str, ...], tuple[SecretParam, ...]
    ]:
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
        names: list[str] = []
        taken = {p.name for p in params}
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
            try:
                secret = secret_of(p.name, annotation)
            except ConfigError as exc:
                raise ConfigError(f"tool {self.name!r}: {exc}") from None
            if secret is not None:  # filled by tether, never shown to or written by the model
                secrets.append(secret)
                continue
            default = ... if p.default is p.empty else p.default
            field = _field_name(p.name, len(names), taken)
            alias = p.name if field != p.name else None
            fields[field] = (annotation, Field(default, alias=alias, description=docs.get(p.name)))
            names.append(p.name)
        model = self._create_model(fields, names)
        return ctx_param, model, tuple(names), tuple(fields), tuple(secrets)

    def _create_model(self, fields: dict[str, Any], names: list[str]) -> type[BaseModel]:
        """The pydantic model of the arguments; a parameter whose type pydantic cannot
        validate is a ConfigError that names it."""
        try:
            return create_model(
                f"{self.name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
        except (PydanticUserError, PydanticUndefinedAnnotation) as exc:
            raise self._bad_type(fields, names, exc) from None

    def _json_schema(self, model: type[BaseModel]) -> dict[str, Any]:
        """What the model is shown; a parameter whose type has no JSON schema (a
        ``Callable``, a lock) is a ConfigError that names it, now rather than at a run."""
        try:
            schema = model.model_json_schema()
        except (PydanticUserError, PydanticUndefinedAnnotation) as exc:
            fields = {n: (f.annotation, f) for n, f in model.model_fields.items()}
            names = [f.alias or n for n, f in model.model_fields.items()]
            raise self._bad_type(fields, names, exc) from None
        shown: dict[str, Any] = _strip_titles(schema)
        shown.setdefault("properties", {})
        return shown

    def _bad_type(self, fields: dict[str, Any], names: list[str], exc: Exception) -> ConfigError:
        """The error for a parameter type with no pydantic validator or no JSON schema,
        naming the first parameter that has the problem on its own."""
        # pydantic's first sentence only: its advice (arbitrary_types_allowed) is not ours.
        why = str(exc).splitlines()[0].split(". ")[0].rstrip(".")
        for name, (field, spec) in zip(names, fields.items(), strict=True):
            try:
                create_model("probe", **{field: spec}).model_json_schema()
            except (PydanticUserError, PydanticUndefinedAnnotation):
                return ConfigError(
                    f"tool {self.name!r}: parameter {name!r} has a type the model cannot be "
                    f"shown as JSON ({why}). Give it a type the model can write (str, int, "
                    "a list, a dict, a pydantic model or a dataclass), or leave it out of "
                    "the tool's parameters and pass the value in the run's deps (read it "
                    "from the RunContext)"
                )
        return ConfigError(f"tool {self.name!r}: its parameters have no JSON schema: {why}")

    @property
    def definition(self) -> ToolDefinition:
        """The tool as a model sees it."""
        if self._definition is None:
            schema = copy.deepcopy(self._ensure().json_schema)  # shared by the tools of fn
            assert schema is not None
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
        if schema.field_names == schema.param_names:  # (no parameter renamed: the usual case)
            return {name: values[name] for name in schema.param_names}
        return {
            name: values[field]
            for name, field in zip(schema.param_names, schema.field_names, strict=True)
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as if it were not a tool."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


def _real(value: Any) -> bool:
    """A finite int or float, not a bool (``True`` is an int to Python, not a setting)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _flag(name: str, option: str, value: Any) -> bool:
    """A yes-or-no option, checked: ``"no"`` or ``None`` would read as a mistaken yes or no."""
    if not isinstance(value, bool):
        raise ConfigError(f"tool {name!r}: {option} is True or False, got {value!r}")
    return value


def _effects(name: str, effects: Any) -> frozenset[Effect]:
    """A tool's effects, checked."""
    if isinstance(effects, str):
        effects = (effects,)
    try:
        given = frozenset(effects)
    except TypeError:  # None, a number, a list of lists
        raise ConfigError(
            f"tool {name!r}: effects is a list of any of {list(EFFECTS)} (or () for none), "
            f"got {effects!r}"
        ) from None
    unknown = sorted(str(e) for e in given - set(EFFECTS))
    if unknown:
        raise ConfigError(
            f"unknown tool effects {unknown}: a tool's effects are any of {list(EFFECTS)}"
        )
    return given


def _timeout(name: str, timeout: Any) -> float | None:
    """A tool's timeout, checked (NaN would end every call at once, infinity never)."""
    if timeout is not None and (not _real(timeout) or timeout <= 0):
        raise ConfigError(
            f"tool {name!r}: timeout is a finite number of seconds above 0, or None for "
            f"no timeout; got {timeout!r}"
        )
    checked: float | None = timeout
    return checked


def _retry_options(
    name: str, retries: Any, retry_on: Any, retry_delay: Any
) -> tuple[int, tuple[type[BaseException], ...], float]:
    """A tool's retry options, checked; ``retry_on`` as a tuple even when one class is given."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            f"tool {name!r}: retries is a whole number of at least 0 (how many times a "
            f"failed call is run again), got {retries!r}"
        )
    classes = tuple(retry_on) if isinstance(retry_on, tuple | list) else (retry_on,)
    if not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
        raise ConfigError(
            f"tool {name!r}: retry_on is an exception class or a tuple of them, e.g. "
            f"retry_on=(ConnectionError, TimeoutError); got {retry_on!r}"
        )
    if not _real(retry_delay) or retry_delay < 0:
        raise ConfigError(
            f"tool {name!r}: retry_delay is a finite number of seconds of at least 0 "
            f"(doubled after each retry), got {retry_delay!r}"
        )
    return retries, classes, retry_delay


def _reconcile_options(
    name: str, hook: Any, timeout: Any
) -> tuple[Callable[[dict[str, Any], str], Any] | None, float | None]:
    """A tool's reconcile hook and its bound, checked."""
    if hook is not None and not callable(hook):
        raise ConfigError(
            f"tool {name!r}: reconcile must be a function (args, key) -> result, got {hook!r}"
        )
    if timeout is None:
        return hook, None
    if hook is None:
        raise ConfigError(
            f"tool {name!r}: reconcile_timeout bounds a reconcile hook, and the tool has "
            "none; pass reconcile=... too, or leave reconcile_timeout out"
        )
    if not _real(timeout) or timeout <= 0:
        raise ConfigError(
            f"tool {name!r}: reconcile_timeout must be a finite number of seconds > 0 "
            f"(or None for the tool's timeout, else 30 s), got {timeout!r}"
        )
    return hook, float(timeout)


def _validate_json_schema(validator: Any, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """The arguments of a :meth:`Tool.from_schema` tool, checked against its schema."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError as exc:
            raise InvalidArguments(f"- (arguments): not valid JSON ({exc})") from None
        except RecursionError:
            raise InvalidArguments("- (arguments): JSON nested too deep to read") from None
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
    reconcile_timeout: float | None = None,
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
    reconcile_timeout: float | None = None,
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
            reconcile_timeout=reconcile_timeout,
        )

    return wrap(fn) if fn is not None else wrap


ToolFunc = Callable[..., Any] | Callable[..., Awaitable[Any]]
