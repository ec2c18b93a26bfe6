"""The system kextlab boots: the kernel with its built-in families and its extensions.

ARCHITECTURE.md §6: the kernel starts, the platform expert publishes nubs, the
families' drivers (built-in library kexts) match and publish theirs.  The kernel
layer cannot name the families (they sit above it), so this is where the system
is put together: ``BOOT_KEXTS`` are the built-in kexts every machine boots with,
and ``start_kernel`` is the kernel's part of booting, run until the service plane
is quiet.

Extensions
----------
Like ``/System/Library/Extensions`` on a Mac, an *extensions folder* holds driver
kexts; kextlab's own is ``kextlab.kexts.SHIPPED``.  Those whose ``OSBundleRequired``
puts them in a boot set (``BOOT_REQUIRED``: Root, Local-Root, Network-Root, Console,
Safe Boot; seed 000: "If the driver would like to support booting, that need add
into Local-Root") are the boot's drivers.  As on a Mac, such a kext is *loaded only
when its hardware is there*: xnu asks kextd for a kext when a personality of it
matches a nub, and ``load_boot_extensions`` does the same after each quiet point,
loading every boot-set kext one of whose personalities passively matches a
registered service, until nothing more loads.  So a machine without a Marvell HBA
never loads MarvellUMI.kext, and ``kextstat`` says so.

Threading rules: host context, at boot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.families.scsi.kext import IOSCSIARCHITECTUREMODELFAMILY
from kextlab.families.scsi.parallel.kext import IOSCSIPARALLELFAMILY
from kextlab.families.storage.cd.kext import IOCDSTORAGEFAMILY
from kextlab.families.storage.kext import IOSTORAGEFAMILY
from kextlab.kernel.kernel import BootKext, Kernel
from kextlab.kernel.kext.bundle import BUNDLE_EXTENSION, KextBundle
from kextlab.kernel.kext.discovery import bundles_in
from kextlab.kernel.kext.errors import KextBundleError, KextError
from kextlab.kernel.kext.personalities import copy_personalities
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService, kIOServiceRegisteredState
from kextlab.kexts import SHIPPED

if TYPE_CHECKING:
    from kextlab.firmware.devicetree import DeviceTree
    from kextlab.machine.machine import Machine

#: The families every kextlab kernel carries, in load order.
BOOT_KEXTS: Final[Sequence[BootKext]] = (
    IOPCIFAMILY,
    IOSTORAGEFAMILY,
    IOCDSTORAGEFAMILY,
    IOSCSIARCHITECTUREMODELFAMILY,
    IOSCSIPARALLELFAMILY,
)

#: The ``OSBundleRequired`` values that put a kext in the boot set.
BOOT_REQUIRED: Final = frozenset({"Root", "Local-Root", "Network-Root", "Console", "Safe Boot"})

#: The extensions folders a kernel boots with unless told otherwise.
DEFAULT_EXTENSIONS: Final[Sequence[Path]] = (SHIPPED,)


def start_kernel(
    machine: Machine, tree: DeviceTree, extensions: Sequence[Path] = DEFAULT_EXTENSIONS
) -> Kernel:
    """Start the kernel of ``machine`` with the built-in families and the boot-set
    kexts of ``extensions`` its hardware needs; return once matching has finished
    everywhere (the machine is quiet)."""
    kernel = Kernel(machine, tree, BOOT_KEXTS)
    # The BSD layer is up: xnu's bsd_init publishes the IOBSD resource, which the
    # media BSD clients wait for (IOResourceMatch = IOBSD).
    with kernel.entered():
        kernel.resources.publish_resource("IOBSD")
    kernel.start()
    machine.run()
    load_boot_extensions(kernel, boot_set(kernel, extensions))
    kernel.boot_finished()
    return kernel


def boot_set(kernel: Kernel, extensions: Iterable[Path]) -> list[KextBundle]:
    """The kexts of the extensions folders whose ``OSBundleRequired`` is a boot set.

    A bundle that cannot be read is left out with a line in the kernel's log naming
    it and why, as kextd skips a damaged kext rather than failing the boot.
    """
    found: list[KextBundle] = []
    for folder in extensions:
        for path in sorted(Path(folder).glob(f"*{BUNDLE_EXTENSION}")):
            try:
                bundles = bundles_in(path)
            except KextBundleError as error:
                kernel.log(f"kextd: skipping {path.name}: {error}")
                continue
            found += [bundle for bundle in bundles if bundle.required in BOOT_REQUIRED]
    return found


def load_boot_extensions(kernel: Kernel, candidates: Sequence[KextBundle]) -> list[str]:
    """Load, kextd-style, each candidate a registered service needs; run the machine
    after each; repeat until nothing more loads.  The identifiers loaded, in order."""
    loaded: list[str] = []
    pending = [bundle for bundle in candidates if kernel.kexts.find(bundle.bundle_id) is None]
    while True:
        wanted = next((bundle for bundle in pending if _needed(kernel, bundle)), None)
        if wanted is None:
            return loaded
        pending.remove(wanted)
        try:
            with kernel.entered():
                kernel.kexts.load(wanted, candidates=candidates)
        except KextError as error:
            # kextd logs a kext it cannot load and boots on without it.
            kernel.log(f"kextd: cannot load {wanted.path.name}: {error}")
            continue
        loaded.append(wanted.bundle_id)
        kernel.machine.run()


def _needed(kernel: Kernel, bundle: KextBundle) -> bool:
    """Whether a personality of ``bundle`` passively matches a registered service."""
    plane = kernel.registry.getPlane(kIOServicePlane)
    assert plane is not None
    services = [
        entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, IOService) and entry.getState() & kIOServiceRegisteredState
    ]
    with kernel.entered():
        personalities = copy_personalities(bundle)
        try:
            return any(
                service.passiveMatch(personality)
                for personality in personalities
                for service in services
            )
        finally:
            for personality in personalities:
                personality.release()
