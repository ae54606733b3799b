"""The one error hierarchy of tether.

Every exception tether raises on purpose derives from :class:`TetherError`, so
users can catch one base class::

    TetherError
    ├── ConfigError            a user mistake in how tether is set up (bad agent path,
    │                          unknown model name, missing extra, bad tool signature,
    │                          a negative budget); also a ValueError
    ├── ModelError             a model or provider failed to give a usable response
    │   ├── ModelHTTPError         the provider answered with an HTTP error (status, Retry-After)
    │   │   └── ContextLengthExceeded  the request is longer than the model's context
    │   ├── ModelConnectionError   no answer: connection refused or reset, or a timeout
    │   ├── ModelResponseInvalid   an answer that is not the API's (an HTML page, a tool
    │   │                          call without a name): moves a fallback chain on
    │   ├── ModelUnavailable       a circuit breaker is open: the provider is failing fast
    │   ├── ModelRequestsBlocked   a network model was called where requests are blocked
    │   ├── ReplayMismatch         a replayed run asked for a request not in its cassette
    │   └── ScriptExhausted        a scripted model ran out of responses
    ├── SubRunFailed           an agent called as a tool (or a worker) ended without an
    │                          answer: its run id, status and reason say why
    ├── UsageError             the API was used in a way it does not support
    └── JournalError           a journal record could not be read (unknown schema version)
        ├── RunLocked              another live process holds the run's lease
        └── JournalConflict        a different event is already at that place in the journal

Control signals to the model are *not* errors and do not derive from
:class:`TetherError`: :class:`ModelRetry` asks the model to call a tool again
with a hint. The run loop turns them into messages, never into a failed run.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ContextLengthExceeded",
    "JournalConflict",
    "JournalError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelRequestsBlocked",
    "ModelResponseInvalid",
    "ModelRetry",
    "ModelUnavailable",
    "ReplayMismatch",
    "RunLocked",
    "ScriptExhausted",
    "SubRunFailed",
    "TetherError",
    "UsageError",
]


class TetherError(Exception):
    """Base class of every error tether raises."""


class ConfigError(TetherError, ValueError):
    """A mistake in how tether is set up; the message says what to do.

    It is also a :class:`ValueError`, so code that catches ``ValueError`` for a bad
    setting keeps working.
    """


class UsageError(TetherError):
    """The API was used in a way it does not support."""


class ModelError(TetherError):
    """A model or provider failed to give a usable response."""


class ModelHTTPError(ModelError):
    """The provider answered with an HTTP error.

    Attributes:
        status_code: the HTTP status.
        retry_after: seconds the provider asked to wait (``Retry-After``), if it did.
        body: the start of the response body, for the person debugging.
    """

    def __init__(
        self, message: str, status_code: int, retry_after: float | None = None, body: str = ""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.body = body

    @property
    def retryable(self) -> bool:
        """True for statuses worth retrying: 408, 409, 429 and 5xx."""
        return self.status_code in (408, 409, 429) or self.status_code >= 500


class ContextLengthExceeded(ModelHTTPError):
    """The request does not fit the model's context window; a bigger model may take it."""


class ModelConnectionError(ModelError):
    """The provider could not be reached, or did not answer in time; worth retrying."""


class ModelResponseInvalid(ModelError):
    """The provider answered, but not in its API's form, so there is nothing to read.

    A body that is not JSON (a proxy's HTML login page, a server that is not the
    API's), JSON of the wrong shape, or a field that breaks the API (a tool call with
    no name, text that is a number). A retry would most likely get the same answer, so
    :class:`~tether.models.RetryingModel` does not retry it; a
    :class:`~tether.models.FallbackModel` moves on to its next model. (An answer cut
    off in the middle is a :class:`ModelConnectionError`, which is retried.)

    Attributes:
        body: a short excerpt of what the provider sent, for the person debugging.
    """

    def __init__(self, message: str, body: str = "") -> None:
        super().__init__(message)
        self.body = body


class ModelUnavailable(ModelError):
    """A circuit breaker is open: the provider failed repeatedly and is not being called."""


class ReplayMismatch(ModelError):
    """A replayed run made a request that differs from the recorded one."""


class ModelRequestsBlocked(ModelError):
    """A model that talks to the network was called while such requests are blocked.

    The test suite blocks them by default; a test opts in with the
    ``allow_model_requests`` marker or :func:`tether.models.allow_model_requests`.
    """


class ScriptExhausted(ModelError):
    """A :class:`tether.testing.ScriptedModel` was asked for more responses than it holds."""


class SubRunFailed(TetherError):
    """A sub-agent's run (an agent called as a tool, a worker) ended without an answer.

    Attributes:
        run_id: the sub-run's id (its journal, with a store).
        status: how it ended: ``gave_up``, ``failed`` or ``interrupted``.
        reason: why, as a :class:`~tether.Reason` (kind, sentence, detail).
        output: what its fallback answered, if anything.
    """

    def __init__(
        self, message: str, run_id: str, status: str, reason: object, output: object
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status
        self.reason = reason
        self.output = output


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


class RunLocked(JournalError):
    """Another live process holds the run's lease; it cannot be resumed here now."""


class JournalConflict(JournalError):
    """A different event is already journaled at that sequence number: another process
    wrote the run, and this writer lost it. Nothing was written."""
