"""Runtime tests run on asyncio through anyio's pytest plugin (a dependency of httpx)."""

from __future__ import annotations

import pytest

from tests.helpers.mock_upstream import MockUpstream


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def upstream():
    async with MockUpstream() as up:
        yield up


@pytest.fixture
async def fallback_upstream():
    async with MockUpstream(reply="Hello from the fallback.") as up:
        yield up
