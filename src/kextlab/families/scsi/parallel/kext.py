"""IOSCSIParallelFamily as a built-in library kext: its Info.plist, its classes.

``com.apple.iokit.IOSCSIParallelFamily`` 2.5.0 (the Info.plist beside this module,
Apple's libraries): the HBA superclass, its per-target nub and the pooled parallel
task.  It has no personalities; HBA drivers (``MarvellUMI.kext``) subclass
``IOSCSIParallelInterfaceController`` and name the family in ``OSBundleLibraries``.
It loads after IOSCSIArchitectureModelFamily at boot (``userland.system.BOOT_KEXTS``).
"""

from __future__ import annotations

from kextlab.families.pci.kext import FamilyKext
from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
from kextlab.families.scsi.parallel.timer import SCSIParallelTimer

__all__ = ["IOSCSIPARALLELFAMILY"]

IOSCSIPARALLELFAMILY = FamilyKext(
    "kextlab.families.scsi.parallel",
    (
        IOSCSIParallelInterfaceController,
        IOSCSIParallelInterfaceDevice,
        SCSIParallelTask,
        SCSIParallelTimer,
    ),
)
"""IOSCSIParallelFamily (built-in library kext ``com.apple.iokit.IOSCSIParallelFamily``)."""
