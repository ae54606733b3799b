"""The public API: one sorted namespace, every name importable."""

from __future__ import annotations

import types

import pytest

import tether
import tether.models
import tether.testing


@pytest.mark.parametrize("module", [tether, tether.models, tether.testing])
def test_all_is_sorted_and_complete(module: types.ModuleType) -> None:
    names = module.__all__

    def order(name: str) -> tuple[int, str]:  # constants, then classes, then the rest
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert list(names) == sorted(names, key=order)
    for name in names:
        assert hasattr(module, name), name


def test_errors_share_one_root() -> None:
    for name in ("ConfigError", "ModelError", "UsageError", "JournalError", "ScriptExhausted"):
        assert issubclass(getattr(tether, name), tether.TetherError)
    assert not issubclass(tether.ModelRetry, tether.TetherError)  # a signal, not an error
