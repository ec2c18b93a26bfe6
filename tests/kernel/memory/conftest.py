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
from kextlab.testing.kernel import booted_kernel

DEFAULT_MACHINE = Path(__file__).resolve().parents[3] / "src/kextlab/machine/machines/default.toml"


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """The default machine's 64-bit kernel; the test runs as its code."""
    with booted_kernel() as booted, booted.entered():
        yield booted


@pytest.fixture
def kernel32(tmp_path: Path) -> Iterator[Kernel]:
    """The default machine booted with a 32-bit kernel; the test runs as its code."""
    text = DEFAULT_MACHINE.read_text(encoding="utf-8")
    assert "kernel_bits = 64" in text
    machine = tmp_path / "default32.toml"
    machine.write_text(text.replace("kernel_bits = 64", "kernel_bits = 32"), encoding="utf-8")
    with booted_kernel(str(machine)) as booted, booted.entered():
        yield booted
