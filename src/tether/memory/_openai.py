"""An embedder over any OpenAI-compatible ``/v1/embeddings`` endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tether._errors import ConfigError, ModelConnectionError, ModelError, ModelHTTPError

from ._embed import Embedder, Vectors, unit_rows

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder(Embedder):
    """Embeddings from OpenAI, or a server that speaks its API (vLLM, llama.cpp, Ollama).

    Args:
        model: the embedding model's name, e.g. ``"text-embedding-3-small"``.
        dimension: the length of its vectors.
        base_url: the server (``None``: the SDK's default, or ``$OPENAI_BASE_URL``).
        api_key: the key (``None``: ``$OPENAI_API_KEY``).
        duplicate_threshold: the cosine at which two texts are merged; measure it for
            the model (``bench/eval_memory.py`` prints the distributions).
        batch_size: the most texts sent in one request.
        client: an ``openai.AsyncOpenAI`` to use instead of building one.
    """

    def __init__(
        self,
        model: str,
        dimension: int,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        duplicate_threshold: float = 0.9,
        batch_size: int = 256,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import openai
            except ImportError as exc:
                raise ConfigError(
                    "OpenAIEmbedder needs openai: pip install 'tether[openai]'"
                ) from exc
            client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "unused")
        self.name = f"openai:{model}"
        self.model = model
        self.dimension = dimension
        self.duplicate_threshold = duplicate_threshold
        self.batch_size = batch_size
        self._client = client

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ``texts``, in order, normalised to length 1.

        Raises:
            ModelHTTPError: the server answered with an error.
            ModelConnectionError: it did not answer.
            ModelError: it answered with vectors of the wrong length.
        """
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await self._client.embeddings.create(model=self.model, input=batch)
            except openai.APIStatusError as exc:
                raise ModelHTTPError(
                    f"embeddings request failed: {exc}", exc.status_code, body=str(exc.body)[:500]
                ) from exc
            except openai.APIConnectionError as exc:
                raise ModelConnectionError(f"embeddings request got no answer: {exc}") from exc
            rows.extend(d.embedding for d in sorted(response.data, key=lambda d: d.index))
        matrix = np.array(rows, dtype=np.float32).reshape(len(rows), -1)
        if matrix.shape != (len(texts), self.dimension):
            raise ModelError(
                f"{self.model} returned vectors of shape {matrix.shape}, expected "
                f"({len(texts)}, {self.dimension})"
            )
        return unit_rows(matrix)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
