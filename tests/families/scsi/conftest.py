"""Fixtures for the SCSI family tests: a bare machine (no HBA of its own), booted,
with the host inside its kernel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.kernel.kernel import Kernel
from kextlab.testing.kernel import booted_kernel

#: A machine with RAM above 4 GiB and nothing on its PCI bus: the tests bring their
#: own software HBA.
BARE_MACHINE = """\
[machine]
name = "scsi-test"
model = "KextLab1,1"
arch = "x86"

[boot]
kernel_bits = 64

[memory]
size = "3G"

[pci]
memory_window = { base = 0x80000000, size = "256M" }
io_window = { cpu_base = 0xF2000000, size = "64K" }
config_registers = { address = 0xF2800000, data = 0xF2C00000 }
interrupt_inputs = [16, 17, 18, 19]
"""


def bare_machine(directory: Path) -> str:
    """Write the bare machine's description into ``directory``; its path."""
    path = directory / "scsi-test.toml"
    path.write_text(BARE_MACHINE)
    return str(path)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """The bare machine, booted and quiet, with the host inside its kernel."""
    with booted_kernel(bare_machine(tmp_path)) as booted, booted.entered():
        yield booted
