"""The system kextlab boots: the kernel with its built-in families.

ARCHITECTURE.md §6: the kernel starts, the platform expert publishes nubs, the
families' drivers (built-in library kexts) match and publish theirs.  The kernel
layer cannot name the families (they sit above it), so this is where the system
is put together: ``BOOT_KEXTS`` are the built-in kexts every machine boots with,
and ``start_kernel`` is the kernel's part of booting, run until the service plane
is quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.kernel.kernel import BootKext, Kernel

if TYPE_CHECKING:
    from kextlab.firmware.devicetree import DeviceTree
    from kextlab.machine.machine import Machine

#: The families every kextlab kernel carries, in load order.
BOOT_KEXTS: Final[Sequence[BootKext]] = (IOPCIFAMILY,)


def start_kernel(machine: Machine, tree: DeviceTree) -> Kernel:
    """Start the kernel of ``machine`` with the built-in families; return once matching
    has finished everywhere (the machine is quiet)."""
    kernel = Kernel(machine, tree, BOOT_KEXTS)
    kernel.start()
    machine.run()
    kernel.boot_finished()
    return kernel
