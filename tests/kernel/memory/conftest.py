"""Fixtures of the kernel-memory tests: booted kernels, entered, 64-bit and 32-bit.

``kernel`` is the default machine (a 64-bit kernel, 2 GiB of RAM below the PCI hole
and 1 GiB at 4 GiB) booted and quiet, with the test body running as that kernel's
code.  ``kernel32`` is the same machine booted with a 32-bit kernel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.kernel.kernel import Kernel
from kextlab.testing.kernel import booted_kernel, default_machine_variant


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """The default machine's 64-bit kernel; the test runs as its code."""
    # The runtime alone: the HBA gets no driver, so the kernel holds only what tests make.
    with booted_kernel(extensions=()) as booted, booted.entered():
        yield booted


@pytest.fixture
def kernel32(tmp_path: Path) -> Iterator[Kernel]:
    """The default machine booted with a 32-bit kernel; the test runs as its code."""
    machine = default_machine_variant(
        tmp_path, "default32", {"kernel_bits = 64": "kernel_bits = 32"}
    )
    with booted_kernel(str(machine), extensions=()) as booted, booted.entered():
        yield booted
