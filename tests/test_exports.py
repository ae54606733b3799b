"""The public namespaces: ``__all__`` is exactly the public names, sorted (httpx's style)."""

from __future__ import annotations

import types

import pytest

import tether
import tether.journal
import tether.mcp
import tether.memory
import tether.models
import tether.run
import tether.sandbox
import tether.testing
import tether.tools
import tether.tracing
import tether.ui


def _public(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } | ({"__version__"} if hasattr(module, "__version__") else set())


@pytest.mark.parametrize(
    "module",
    [
        tether,
        tether.models,
        tether.journal,
        tether.testing,
        tether.tools,
        tether.run,
        tether.mcp,
        tether.memory,
        tether.sandbox,
        tether.tracing,
        tether.ui,
    ],
    ids=lambda m: m.__name__,
)
def test_all_is_exactly_the_public_names(module: types.ModuleType) -> None:
    exported = set(module.__all__)
    public = _public(module)
    assert exported - public == set(), "in __all__ but not defined"
    assert public - exported == set(), "public but missing from __all__"
    assert len(module.__all__) == len(exported), "a name is listed twice"


def test_the_error_tree_has_one_root() -> None:
    errors = [getattr(tether, n) for n in tether.__all__ if n.endswith(("Error", "Exceeded"))]
    errors += [tether.RunLocked, tether.ReplayMismatch, tether.ScriptExhausted]
    assert all(issubclass(e, tether.TetherError) for e in errors)
    assert issubclass(tether.RunLocked, tether.JournalError)
    assert tether.journal.RunLocked is tether.RunLocked


def test_the_new_packages_errors_are_tether_errors() -> None:
    assert issubclass(tether.mcp.MCPError, tether.TetherError)
    assert issubclass(tether.sandbox.SandboxUnavailable, tether.ConfigError)
