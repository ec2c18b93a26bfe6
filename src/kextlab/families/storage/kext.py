"""IOStorageFamily as a built-in library kext: its Info.plist, its classes.

``com.apple.iokit.IOStorageFamily``, version 2.1 with Apple's personalities (the
``Info.plist`` beside this module): the block storage driver on ``IOBlockStorageDevice``
nubs, the three partition schemes on whole media, the BSD client on every media.
Peripheral drivers (the SCSI family) name it in ``OSBundleLibraries``; it loads before
them at boot (``userland.system.BOOT_KEXTS``).
"""

from __future__ import annotations

from kextlab.families.pci.kext import FamilyKext
from kextlab.families.storage.apple_partition_scheme import IOApplePartitionScheme
from kextlab.families.storage.block_storage_device import IOBlockStorageDevice
from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.breaker import IOBreaker
from kextlab.families.storage.deblocker import IODeblocker
from kextlab.families.storage.fdisk_partition_scheme import IOFDiskPartitionScheme
from kextlab.families.storage.guid_partition_scheme import IOGUIDPartitionScheme
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.media_bsd_client import IOMediaBSDClient
from kextlab.families.storage.partition_scheme import IOPartitionScheme
from kextlab.families.storage.storage import IOStorage

__all__ = ["IOSTORAGEFAMILY"]

IOSTORAGEFAMILY = FamilyKext(
    "kextlab.families.storage",
    (
        IOStorage,
        IOMedia,
        IOBlockStorageDevice,
        IOBlockStorageDriver,
        IODeblocker,
        IOBreaker,
        IOPartitionScheme,
        IOApplePartitionScheme,
        IOFDiskPartitionScheme,
        IOGUIDPartitionScheme,
        IOMediaBSDClient,
    ),
)
"""IOStorageFamily (built-in library kext ``com.apple.iokit.IOStorageFamily``)."""
