"""Test settings: model requests over the network are blocked unless a test opts in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether import models


@pytest.fixture(autouse=True)
def _block_model_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    allow = request.node.get_closest_marker("allow_model_requests") is not None
    with models.allow_model_requests(allow):
        yield
