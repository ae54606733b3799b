"""The Python examples of the README and the guides run as they are written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
GUIDES = [README.parent / "docs" / name for name in ("safety.md", "observability.md")]
GUIDE_BLOCKS = [
    (guide, code)
    for guide in GUIDES
    for code in re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL)
]


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize(
    ("guide", "code"), GUIDE_BLOCKS, ids=[f"{g.stem}{i}" for i, (g, _) in enumerate(GUIDE_BLOCKS)]
)
def test_guide_example_runs(guide: Path, code: str) -> None:
    try:
        exec(compile(code, str(guide), "exec"), {"__name__": "guide_example"})
    finally:
        if "tether.tracing" in sys.modules:  # an example that turns tracing on for the process
            sys.modules["tether.tracing"].uninstrument()
