"""The model interface, the model wrappers, prices and model names.

A :class:`Model` turns a message history into a :class:`~tether.ModelResponse`.
Providers (``tether.models.openai``, ``tether.models.anthropic``, the embedded
``tether.models.local``) and the fakes of :mod:`tether.testing` implement it;
cross-cutting behaviour (retries, fallback chains, recording) wraps a model in
another model (:class:`WrapperModel`).
"""

from ._base import (
    Model,
    ModelParams,
    Price,
    WrapperModel,
    allow_model_requests,
    check_allow_model_requests,
    current_run,
)
from ._cassette import RecordingModel, ReplayModel
from ._chain import FallbackModel
from ._prices import PRICES_AS_OF, price_for, register_price
from ._registry import known_model_names, register_model, resolve_model
from ._retry import CircuitBreaker, RetryingModel

__all__ = [
    "PRICES_AS_OF",
    "CircuitBreaker",
    "FallbackModel",
    "Model",
    "ModelParams",
    "Price",
    "RecordingModel",
    "ReplayModel",
    "RetryingModel",
    "WrapperModel",
    "allow_model_requests",
    "check_allow_model_requests",
    "current_run",
    "known_model_names",
    "price_for",
    "register_model",
    "register_price",
    "resolve_model",
]
