"""The library kexts kextlab's kernel provides itself, as data.

Mirrors xnu's pseudo-extensions, the ``OSKernelResource`` kexts of
``config/System.kext/PlugIns/*.kext/Info.plist`` that stand for the kernel's own
KPIs, and the families kextlab builds in.  Each is a ``LibraryKext``: a kernel
component with no dependencies, which drivers name in ``OSBundleLibraries``.

Sources of the numbers
----------------------
* **KPIs** (``com.apple.kpi.*``): ``CFBundleVersion`` is the kernel's version
  (``###KERNEL_VERSION_LONG###``, stamped by ``config/newvers.pl``).  kextlab's
  kernel claims Darwin **19.0.0**, the ``config/MasterVersion`` of xnu-6153.11.26
  (macOS 10.15), so every real third-party plist of the last twenty years that asks
  for ``com.apple.kpi.* 8.0`` ... ``19.0`` loads.  The compatible versions are those of
  the same commit's plists: ``iokit`` 7.0; ``libkern`` and ``mach`` 8.0.0d0;
  ``bsd``, ``dsep`` (MACFramework.kext), ``unsupported`` and ``private`` 8.0.0b1.
  (``com.apple.kpi.private`` is included because Apple's own Info-IOPCIFamily.plist
  needs it; the resolver lets only ``com.apple.*`` kexts use it.)
* **Old kernel libraries** (``com.apple.kernel.iokit``, ``com.apple.kernel.libkern``,
  from ``IOKit6.0.kext`` and ``Libkern6.0.kext`` of xnu-1486.2.11, the last
  releases that shipped them): version **7.9.9** (``KERNEL6_VERSION`` in
  ``OSKext.cpp``), compatible back to **1.0.0b1**.

The families (``com.apple.iokit.IOPCIFamily`` ...) are library kexts too, each with
its own ``Info.plist`` in its package (``kextlab.families.pci``); they sit above the
kernel, so the kernel learns of them as boot kexts and adds them to its index.

Every call builds new objects: nothing here is shared between machines.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from kextlab.kernel.kext.dependencies import LibraryKext
from kextlab.kernel.kext.version import parse_version

#: The Darwin version kextlab's kernel claims (xnu-6153.11.26 ``config/MasterVersion``).
KERNEL_VERSION: Final = "19.0.0"
#: The version of the ``com.apple.kernel.*`` compatibility libraries (``KERNEL6_VERSION``).
KERNEL6_VERSION: Final = "7.9.9"

#: KPI identifier -> OSBundleCompatibleVersion (xnu-6153.11.26 ``config/System.kext``).
KPI_COMPATIBLE_VERSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "com.apple.kpi.bsd": "8.0.0b1",
        "com.apple.kpi.dsep": "8.0.0b1",
        "com.apple.kpi.iokit": "7.0",
        "com.apple.kpi.libkern": "8.0.0d0",
        "com.apple.kpi.mach": "8.0.0d0",
        "com.apple.kpi.private": "8.0.0b1",
        "com.apple.kpi.unsupported": "8.0.0b1",
    }
)
#: The 32-bit era's kernel libraries kextlab keeps for old plists (xnu-1486.2.11).
KERNEL6_LIBRARIES: Final = ("com.apple.kernel.iokit", "com.apple.kernel.libkern")
KERNEL6_COMPATIBLE_VERSION: Final = "1.0.0b1"


def kpi_libraries() -> list[LibraryKext]:
    """The ``com.apple.kpi.*`` libraries, by identifier."""
    return [
        LibraryKext(
            bundle_id,
            parse_version(KERNEL_VERSION),
            parse_version(compatible),
            origin="xnu pseudo-extension",
        )
        for bundle_id, compatible in sorted(KPI_COMPATIBLE_VERSIONS.items())
    ]


def kernel6_libraries() -> list[LibraryKext]:
    """The old ``com.apple.kernel.*`` libraries."""
    return [
        LibraryKext(
            bundle_id,
            parse_version(KERNEL6_VERSION),
            parse_version(KERNEL6_COMPATIBLE_VERSION),
            origin="xnu pseudo-extension",
        )
        for bundle_id in KERNEL6_LIBRARIES
    ]


def builtin_libraries() -> list[LibraryKext]:
    """Every library kext of the kernel itself: KPIs, then old kernel libraries.

    The families are library kexts too, but they sit above the kernel: the kernel
    adds each boot kext it is given (``Kernel(..., boot_kexts=...)``) to its index."""
    return [*kpi_libraries(), *kernel6_libraries()]
