"""The numbers of Apple's peripheral device drivers: timeouts, mode pages, capacity
data, polling modes, CD/DVD feature flags and the MMC configuration profiles.

A data module.  Every name and value is Apple's, from the IOSCSIArchitectureModelFamily
sources the peripheral drivers are built from: ``IOSCSIPrimaryCommandsDevice.h``
(timeouts, mode page control), ``SCSICmds_MODE_Definitions.h`` (mode parameter
headers, the write-protect bit, the caching page), ``SCSICmds_READ_CAPACITY_Definitions.h``,
``IOSCSIBlockCommandsDevice.h``/``.cpp`` and ``IOSCSIMultimediaCommandsDevice.h``/``.cpp``
(polling modes, ``kDefaultMaxBlocksPerIO``, the GET CONFIGURATION profiles and feature
flags, tray and media-access messages) and IOStorageFamily's
``IOStorageDeviceCharacteristics.h`` (the ``"CD Features"``/``"DVD Features"`` keys).
The family-wide SAM constants (statuses, opcodes, sense, INQUIRY) are in
``kextlab.families.scsi.definitions``.

Threading rules: none (constants).
"""

from __future__ import annotations

from typing import Final

# -- IOSCSIPrimaryCommandsDevice.h ----------------------------------------------------------------

kOneSecondTimeoutInMS: Final = 1000
kTenSecondTimeoutInMS: Final = 10 * kOneSecondTimeoutInMS
kThirtySecondTimeoutInMS: Final = 30 * kOneSecondTimeoutInMS

kModePageControlCurrentValues: Final = 0x00
kModePageControlChangeableValues: Final = 0x01
kModePageControlDefaultValues: Final = 0x02
kModePageControlSavedValues: Final = 0x03

#: PREVENT ALLOW MEDIUM REMOVAL's PREVENT field (``IOSCSIBlockCommandsDevice.h``).
kMediaStateUnlocked: Final = 0
kMediaStateLocked: Final = 1

# -- SCSICmds_MODE_Definitions.h ------------------------------------------------------------------

#: ``sizeof(SPCModeParameterHeader6)`` and ``sizeof(SPCModeParameterHeader10)``.
kModeSense6ParameterHeaderSize: Final = 4
kModeSense10ParameterHeaderSize: Final = 8
#: The device-specific parameter (byte 2 of the 6-byte header, 3 of the 10-byte one).
kModeSenseSBCDeviceSpecific_WriteProtectMask: Final = 0x80
kModePageFormat_PAGE_CODE_Mask: Final = 0x3F
kModePageFormat_PS_Mask: Final = 0x80

kSBCModePageFormatDeviceCode: Final = 0x03
kSBCModePageRigidDiskGeometryCode: Final = 0x04
kSBCModePageFlexibleDiskCode: Final = 0x05
kSBCModePageCachingCode: Final = 0x08
kSPCModePagePowerConditionCode: Final = 0x1A
#: ``SBCModePageCaching.flags`` (byte 2 of the page): write cache enable.
kSBCModePageCaching_WCE_Mask: Final = 0x04
#: ``offsetof(SBCModePageCaching, DEMAND_READ_WRITE_RETENTION_PRIORITY)``: the bytes a
#: caching page must have for its flags to be read (ours; Apple writes the offsetof).
CACHING_PAGE_MINIMUM_SIZE: Final = 4
#: ``sizeof(SBCModePageCaching)``: 20 bytes with its header (ours, as above).
CACHING_PAGE_SIZE: Final = 20

# -- SCSICmds_READ_CAPACITY_Definitions.h ---------------------------------------------------------

kREPORT_CAPACITY_DataSize: Final = 8
kREPORT_CAPACITY_16_DataSize: Final = 32
kREPORT_CAPACITY_MaximumLBA: Final = 0xFFFF_FFFF

# -- IOSCSIBlockCommandsDevice.cpp / IOSCSIMultimediaCommandsDevice.cpp ---------------------------

#: The most blocks one READ/WRITE carries unless the transport says otherwise.
kDefaultMaxBlocksPerIO: Final = 65535
#: How often Apple retries INQUIRY while bringing a device up.
kMaxRetryCount: Final = 8

kPollingMode_Suspended: Final = 0
kPollingMode_NewMedia: Final = 1
kPollingMode_MediaRemoval: Final = 2

# -- IOSCSIMultimediaCommandsDevice.h -------------------------------------------------------------

kIOMessageTrayStateChange: Final = 0x69000035
kMessageTrayStateChangeRequestAccepted: Final = 0
kMessageTrayStateChangeRequestRejected: Final = 1
kIOMessageMediaAccessChange: Final = 0x69000036
kMessageDeterminingMediaPresence: Final = 0
kMessageFoundMedia: Final = 1
kMessageMediaTypeDetermined: Final = 2

kCDFeaturesAnalogAudioMask: Final = 1 << 0
kCDFeaturesReadStructuresMask: Final = 1 << 1
kCDFeaturesWriteOnceMask: Final = 1 << 2
kCDFeaturesReWriteableMask: Final = 1 << 3
kCDFeaturesCDDAStreamAccurateMask: Final = 1 << 4
kCDFeaturesPacketWriteMask: Final = 1 << 5
kCDFeaturesTAOWriteMask: Final = 1 << 6
kCDFeaturesSAOWriteMask: Final = 1 << 7
kCDFeaturesRawWriteMask: Final = 1 << 8
kCDFeaturesTestWriteMask: Final = 1 << 9
kCDFeaturesBUFWriteMask: Final = 1 << 10

kDVDFeaturesCSSMask: Final = 1 << 0
kDVDFeaturesReadStructuresMask: Final = 1 << 1
kDVDFeaturesWriteOnceMask: Final = 1 << 2
kDVDFeaturesRandomWriteableMask: Final = 1 << 3
kDVDFeaturesReWriteableMask: Final = 1 << 4
kDVDFeaturesTestWriteMask: Final = 1 << 5
kDVDFeaturesBUFWriteMask: Final = 1 << 6
kDVDFeaturesPlusRMask: Final = 1 << 7
kDVDFeaturesPlusRWMask: Final = 1 << 8

kDiscStatusEmpty: Final = 0
kDiscStatusIncomplete: Final = 1
kDiscStatusComplete: Final = 2
kDiscStatusOther: Final = 3
kDiscStatusMask: Final = 0x03
kDiscStatusErasableMask: Final = 0x10
#: Byte of READ DISC INFORMATION holding the disc status.
kDiscStatusOffset: Final = 2

#: GET CONFIGURATION: the feature header (data length, reserved, current profile), the
#: data length field, and one profile descriptor (also a feature descriptor's header).
kProfileDataLengthFieldSize: Final = 4
kProfileFeatureHeaderSize: Final = 8
kProfileDescriptorSize: Final = 4
kGetConfigurationProfile_ProfileList: Final = 0x0000
kGetConfigurationFeature_CDROM: Final = 0x0008
kGetConfigurationFeature_CDR: Final = 0x0009
kGetConfigurationFeature_CDRW: Final = 0x000A
kGetConfigurationFeature_DVDROM: Final = 0x0010
kGetConfigurationFeature_DVDR: Final = 0x0011
kGetConfigurationFeature_DVDRAM: Final = 0x0012
kGetConfigurationFeature_DVDRW: Final = 0x0014
kGetConfigurationFeature_DVDPlusRW: Final = 0x001A
kGetConfigurationFeature_DVDPlusR: Final = 0x001B

kMechanicalCapabilitiesModePageCode: Final = 0x2A
#: The MM Capabilities page's bytes 2 (what the drive reads), 3 (what it writes), 4 and
#: 5, as ``ParseMechanicalCapabilities`` reads them (Apple's private enum, MMC-3 layout).
kMechanicalCapabilitiesMinBufferSize: Final = 4
kMechanicalCapabilitiesCDRMask: Final = 0x01
kMechanicalCapabilitiesCDRWMask: Final = 0x02
kMechanicalCapabilitiesTestWriteMask: Final = 0x04
kMechanicalCapabilitiesDVDROMMask: Final = 0x08
kMechanicalCapabilitiesDVDRMask: Final = 0x10
kMechanicalCapabilitiesDVDRAMMask: Final = 0x20
kMechanicalCapabilitiesAnalogAudioMask: Final = 0x01
kMechanicalCapabilitiesCDDAStreamAccurateMask: Final = 0x02
kMechanicalCapabilitiesBUFMask: Final = 0x80
#: Byte 6 of the page: the loading mechanism type in bits 7-5 (ours: Apple reads it
#: elsewhere, for its "Loading Mechanism" characteristic).
MM_CAPABILITIES_LOADING_MECHANISM_SHIFT: Final = 5

# -- IOStorageDeviceCharacteristics.h -------------------------------------------------------------

kIOPropertySupportedCDFeaturesKey: Final = "CD Features"
kIOPropertySupportedDVDFeaturesKey: Final = "DVD Features"
kIOPropertySupportedCDFeatures: Final = kIOPropertySupportedCDFeaturesKey
kIOPropertySupportedDVDFeatures: Final = kIOPropertySupportedDVDFeaturesKey
#: ``"Loading Mechanism"`` of an optical drive's device characteristics (real dumps:
#: ``"Tray"``), from the MM Capabilities page (the key's text is Apple's; the name ours).
LOADING_MECHANISM_KEY: Final = "Loading Mechanism"
LOADING_MECHANISMS: Final = {0: "Caddy", 1: "Tray", 2: "Pop-Up", 4: "Changer", 5: "Changer"}
