"""Long-term memory for agents: facts, episodes and summaries kept across runs.

A :class:`MemoryStore` keeps memories in namespaces (per user, per agent), merges
a new memory into one it restates, expires them by time-to-live, caps each
namespace by evicting the least recently used, and finds them by words, by
meaning, or both fused (:meth:`MemoryStore.search`). Two stores implement it:
:class:`SQLiteMemoryStore` (the default, one file) and :class:`PostgresMemoryStore`.
Embeddings are local by default (:class:`LocalEmbedder`, all-MiniLM-L6-v2 on ONNX
Runtime, shipped as a PyPI package); :class:`OpenAIEmbedder` calls any
OpenAI-compatible server; :class:`HashEmbedder` is a deterministic fake for tests.
"""

from ._embed import Embedder, HashEmbedder
from ._local import LocalEmbedder
from ._openai import OpenAIEmbedder
from ._postgres import PostgresMemoryStore
from ._sqlite import SQLiteMemoryStore, default_memory_path
from ._store import MemoryStore, MemoryStoreError
from ._types import Memory, MemoryHit, NamespaceLike, SearchMode, namespace_of

__all__ = [
    "Embedder",
    "HashEmbedder",
    "LocalEmbedder",
    "Memory",
    "MemoryHit",
    "MemoryStore",
    "MemoryStoreError",
    "NamespaceLike",
    "OpenAIEmbedder",
    "PostgresMemoryStore",
    "SQLiteMemoryStore",
    "SearchMode",
    "default_memory_path",
    "namespace_of",
]
