"""IOSCSIArchitectureModelFamily as a built-in library kext: its Info.plist, its classes.

``com.apple.iokit.IOSCSIArchitectureModelFamily`` 3.5.1 (the Info.plist beside this
module): the SCSI task, the protocol interface and services, the target device and
the logical-unit nubs.  The peripheral drivers (``IOSCSIPeripheralDeviceType00``,
``...05``, the block storage and compact disc services, the task user client) belong
to this family too and join its class list and personalities.  HBA families (the
SCSI Parallel family) and HBA drivers name it in ``OSBundleLibraries``; it loads
after IOStorageFamily at boot (``userland.system.BOOT_KEXTS``).
"""

from __future__ import annotations

from kextlab.families.pci.kext import FamilyKext
from kextlab.families.scsi.block_commands import (
    IOSCSIBlockCommandsDevice,
    IOSCSIPeripheralDeviceType00,
)
from kextlab.families.scsi.block_storage_services import IOBlockStorageServices
from kextlab.families.scsi.command_sets import (
    SCSIBlockCommands,
    SCSIMultimediaCommands,
    SCSIPrimaryCommands,
)
from kextlab.families.scsi.compact_disc_services import IOCompactDiscServices
from kextlab.families.scsi.multimedia_commands import (
    IOSCSIMultimediaCommandsDevice,
    IOSCSIPeripheralDeviceType05,
)
from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub, IOSCSIPeripheralDeviceNub
from kextlab.families.scsi.primary_commands import IOSCSIPrimaryCommandsDevice
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface
from kextlab.families.scsi.protocol_services import IOSCSIProtocolServices
from kextlab.families.scsi.target_device import IOSCSITargetDevice
from kextlab.families.scsi.task import SCSITask
from kextlab.families.scsi.user_client import SCSITaskUserClient, SCSITaskUserClientIniter

__all__ = ["IOSCSIARCHITECTUREMODELFAMILY"]

IOSCSIARCHITECTUREMODELFAMILY = FamilyKext(
    "kextlab.families.scsi",
    (
        SCSITask,
        IOSCSIProtocolInterface,
        IOSCSIProtocolServices,
        IOSCSITargetDevice,
        IOSCSIPeripheralDeviceNub,
        IOSCSILogicalUnitNub,
        SCSITaskUserClientIniter,
        SCSITaskUserClient,
        SCSIPrimaryCommands,
        SCSIBlockCommands,
        SCSIMultimediaCommands,
        IOSCSIPrimaryCommandsDevice,
        IOSCSIBlockCommandsDevice,
        IOSCSIPeripheralDeviceType00,
        IOBlockStorageServices,
        IOSCSIMultimediaCommandsDevice,
        IOSCSIPeripheralDeviceType05,
        IOCompactDiscServices,
    ),
)
"""IOSCSIArchitectureModelFamily (built-in library kext
``com.apple.iokit.IOSCSIArchitectureModelFamily``)."""
