"""The ``tether`` command line: ``run``, ``runs``, ``resume`` and ``prune``."""

from . import _main, _runs
from ._app import app

__all__ = ["app", "main"]

del _main, _runs  # imported for their commands, which register on the app


def main() -> None:
    """The console entry point."""
    app()
