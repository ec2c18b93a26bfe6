"""IOCDStorageFamily as a built-in library kext: its Info.plist, its classes.

``com.apple.iokit.IOCDStorageFamily``, version 1.8, depending on IOStorageFamily 1.7
or later, with Apple's personalities less the CD partition scheme (the ``Info.plist``
beside this module).  It loads after IOStorageFamily and before the SCSI families at
boot (``userland.system.BOOT_KEXTS``).
"""

from __future__ import annotations

from kextlab.families.pci.kext import FamilyKext
from kextlab.families.storage.cd.block_storage_device import IOCDBlockStorageDevice
from kextlab.families.storage.cd.block_storage_driver import IOCDBlockStorageDriver
from kextlab.families.storage.cd.media import IOCDMedia
from kextlab.families.storage.cd.media_bsd_client import IOCDMediaBSDClient

__all__ = ["IOCDSTORAGEFAMILY"]

IOCDSTORAGEFAMILY = FamilyKext(
    "kextlab.families.storage.cd",
    (IOCDBlockStorageDevice, IOCDBlockStorageDriver, IOCDMedia, IOCDMediaBSDClient),
)
"""IOCDStorageFamily (built-in library kext ``com.apple.iokit.IOCDStorageFamily``)."""
