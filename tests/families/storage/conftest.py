"""Fixtures of the storage family's tests: a booted machine with no devices, where
each test publishes RAM disks (``ramdisk``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.families.storage.ramdisk import Bench, Buffers, bench


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Bench]:
    """A booted kernel with the RAM disk and client classes registered."""
    yield from bench(tmp_path)


@pytest.fixture
def buffers(storage: Bench) -> Iterator[Buffers]:
    """Memory descriptors released at the end of the test."""
    held = Buffers(storage.kernel)
    yield held
    held.release()
