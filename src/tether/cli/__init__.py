"""The ``tether`` command line: ``run``, ``runs``, ``trace``, ``cancel``, ``resume`` and
``prune``."""

from . import _cancel, _main, _runs, _trace, _ui, _worker  # noqa: F401 - kept: `tether ui`
from ._app import app

__all__ = ["app", "main"]

del _cancel, _main, _runs, _trace, _worker  # imported for their commands, which register on the app


def main() -> None:
    """The console entry point."""
    app()
