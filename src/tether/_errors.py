"""The one error hierarchy of tether.

Every exception tether raises on purpose derives from :class:`TetherError`, so
users can catch one base class::

    TetherError
    ├── ConfigError            a user mistake in how tether is set up (bad agent path,
    │                          unknown model name, missing extra, bad tool signature)
    ├── ModelError             a model or provider failed to give a usable response
    │   ├── ModelRequestsBlocked   a network model was called where requests are blocked
    │   └── ScriptExhausted        a scripted model ran out of responses
    ├── UsageError             the API was used in a way it does not support
    └── JournalError           a journal record could not be read (unknown schema version)

Control signals to the model are *not* errors and do not derive from
:class:`TetherError`: :class:`ModelRetry` asks the model to call a tool again
with a hint. The run loop turns them into messages, never into a failed run.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "JournalError",
    "ModelError",
    "ModelRequestsBlocked",
    "ModelRetry",
    "ScriptExhausted",
    "TetherError",
    "UsageError",
]


class TetherError(Exception):
    """Base class of every error tether raises."""


class ConfigError(TetherError):
    """A mistake in how tether is set up; the message says what to do."""


class UsageError(TetherError):
    """The API was used in a way it does not support."""


class ModelError(TetherError):
    """A model or provider failed to give a usable response."""


class ModelRequestsBlocked(ModelError):
    """A model that talks to the network was called while such requests are blocked.

    The test suite blocks them by default; a test opts in with the
    ``allow_model_requests`` marker or :func:`tether.models.allow_model_requests`.
    """


class ScriptExhausted(ModelError):
    """A :class:`tether.testing.ScriptedModel` was asked for more responses than it holds."""


class JournalError(TetherError):
    """A journal record could not be read, for example an unknown schema version."""


class ModelRetry(Exception):
    """Raised by a tool to ask the model to call it again, with a hint.

    The hint is sent back to the model as the tool's result. The run goes on.

    Example:
        ```python
        @tool
        def lookup(date: str) -> str:
            if "-" not in date:
                raise ModelRetry("write the date as YYYY-MM-DD")
            ...
        ```
    """

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint
