"""SCSI Parallel Interface numbers and the controller's property keys.

A data module.  Mirrors ``IOSCSIParallelControllerCharacteristics.h`` (the SPI
features and their negotiation, the two HBA constraint keys of the family) and the
constants of ``IOSCSIParallelInterfaceController.h``/``.cpp`` and
``IOSCSIParallelInterfaceDevice.cpp`` (IOSCSIParallelFamily-352), with Apple's
values.  The xnu ``IOKitKeys.h`` constraint keys live in
``kextlab.families.scsi.definitions`` and are re-exported here for HBA authors.

Threading rules: none (constants).
"""

from __future__ import annotations

from typing import Final

from kextlab.families.scsi.definitions import (
    kIOCommandPoolSizeKey,
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kIOMaximumByteCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOMaximumSegmentAddressableBitCountKey,
    kIOMaximumSegmentByteCountReadKey,
    kIOMaximumSegmentByteCountWriteKey,
    kIOMaximumSegmentCountReadKey,
    kIOMaximumSegmentCountWriteKey,
    kIOMinimumSegmentAlignmentByteCountKey,
)

# -- SCSIParallelFeature ------------------------------------------------------------------------

kSCSIParallelFeature_WideDataTransfer: Final = 0
kSCSIParallelFeature_SynchronousDataTransfer: Final = 1
kSCSIParallelFeature_QuickArbitrationAndSelection: Final = 2
kSCSIParallelFeature_DoubleTransitionDataTransfers: Final = 3
kSCSIParallelFeature_InformationUnitTransfers: Final = 4
kSCSIParallelFeature_TotalFeatureCount: Final = 5

# -- SCSIParallelFeatureRequest / SCSIParallelFeatureResult (Apple's spelling) --------------------

kSCSIParallelFeature_NoNegotiation: Final = 0
kSCSIParallelFeature_AttemptNegotiation: Final = 1
kSCSIParallelFeature_ClearNegotiation: Final = 2

kSCSIParallelFeature_NegotitiationUnchanged: Final = 0
kSCSIParallelFeature_NegotitiationCleared: Final = 1
kSCSIParallelFeature_NegotitiationSuccess: Final = 2

# -- HBA constraint keys of the family ----------------------------------------------------------

#: True in ``ReportHBAConstraints`` for full 8-byte LUN addressing.
kIOHierarchicalLogicalUnitSupportKey: Final = "SCSI Hierarchical Logical Unit Support"
#: The physical mask of per-task HBA data (also its alignment): required.
kIOMinimumHBADataAlignmentMaskKey: Final = "HBA Data Alignment"

# -- IOSCSIParallelInterfaceController.h / .cpp -------------------------------------------------

kIOPropertySCSIDeviceFeaturesKey: Final = "SCSI Device Features"
kIOPropertySCSI_I_T_NexusFeaturesKey: Final = "SCSI I_T Nexus Features"
kIOPropertySCSIInitiatorManagesTargets: Final = "Manages Targets"
kIOPropertyControllerCharacteristicsKey: Final = "Controller Characteristics"
kIOPropertyDeviceTreeEntryKey: Final = "IODeviceTreeEntry"

#: ``FindTaskForControllerIdentifier`` with this value returns the oldest outstanding task.
kSCSIParallelTaskControllerIDQueueHead: Final = 0
#: The message ``NotifyClientsOfBusReset`` sends the target nubs.
kSCSIControllerNotificationBusReset: Final = 0x68000000

kIOPropertyPortStatusLinkEstablishedKey: Final = "Link Established"
kIOPropertyPortStatusNoLinkEstablishedKey: Final = "No Link Established"
kIOPropertyPortStatusLinkFailedKey: Final = "Link Failed"

# -- IOSCSIParallelInterfaceDevice.cpp ----------------------------------------------------------

#: How often a task that ended in TASK SET FULL is sent again before it fails BUSY.
kMaxTaskRetryCount: Final = 3
#: How long the resend list waits for a completion before resending by itself (ms).
kResendDelayMS: Final = 10_000

#: The keys ``AllocateSCSIParallelTasks`` copies from the constraints to the controller.
COPIED_CONSTRAINT_KEYS: Final = (
    kIOMaximumSegmentCountReadKey,
    kIOMaximumSegmentCountWriteKey,
    kIOMaximumSegmentByteCountReadKey,
    kIOMaximumSegmentByteCountWriteKey,
    kIOMinimumSegmentAlignmentByteCountKey,
    kIOMaximumSegmentAddressableBitCountKey,
)

__all__ = [
    "COPIED_CONSTRAINT_KEYS",
    "kIOCommandPoolSizeKey",
    "kIOHierarchicalLogicalUnitSupportKey",
    "kIOMaximumBlockCountReadKey",
    "kIOMaximumBlockCountWriteKey",
    "kIOMaximumByteCountReadKey",
    "kIOMaximumByteCountWriteKey",
    "kIOMaximumSegmentAddressableBitCountKey",
    "kIOMaximumSegmentByteCountReadKey",
    "kIOMaximumSegmentByteCountWriteKey",
    "kIOMaximumSegmentCountReadKey",
    "kIOMaximumSegmentCountWriteKey",
    "kIOMinimumHBADataAlignmentMaskKey",
    "kIOMinimumSegmentAlignmentByteCountKey",
    "kIOPropertyControllerCharacteristicsKey",
    "kIOPropertyDeviceTreeEntryKey",
    "kIOPropertyPortStatusLinkEstablishedKey",
    "kIOPropertyPortStatusLinkFailedKey",
    "kIOPropertyPortStatusNoLinkEstablishedKey",
    "kIOPropertySCSIDeviceFeaturesKey",
    "kIOPropertySCSIInitiatorManagesTargets",
    "kIOPropertySCSI_I_T_NexusFeaturesKey",
    "kMaxTaskRetryCount",
    "kResendDelayMS",
    "kSCSIControllerNotificationBusReset",
    "kSCSIParallelFeature_AttemptNegotiation",
    "kSCSIParallelFeature_ClearNegotiation",
    "kSCSIParallelFeature_DoubleTransitionDataTransfers",
    "kSCSIParallelFeature_InformationUnitTransfers",
    "kSCSIParallelFeature_NegotitiationCleared",
    "kSCSIParallelFeature_NegotitiationSuccess",
    "kSCSIParallelFeature_NegotitiationUnchanged",
    "kSCSIParallelFeature_NoNegotiation",
    "kSCSIParallelFeature_QuickArbitrationAndSelection",
    "kSCSIParallelFeature_SynchronousDataTransfer",
    "kSCSIParallelFeature_TotalFeatureCount",
    "kSCSIParallelFeature_WideDataTransfer",
    "kSCSIParallelTaskControllerIDQueueHead",
]
