"""SCSI Architecture Model numbers: the constants of Apple's SAM family headers.

A data module.  Every name and value is Apple's, from the IOSCSIArchitectureModelFamily
headers (``SCSITask.h``, ``SCSICommandOperationCodes.h``,
``SCSICmds_REQUEST_SENSE_Defs.h``, ``SCSICmds_INQUIRY_Definitions.h``,
``SCSICmds_REPORT_LUNS_Definitions.h``, ``IOSCSIProtocolInterface.h``, ``SCSIPort.h``,
``IOStorageProtocolCharacteristics.h``, ``IOStorageDeviceCharacteristics.h``) and the
I/O constraint keys of xnu's ``IOKitKeys.h``; the protocol features past 11 are those
of the modern ``IOSCSIProtocolInterface.h`` (macOS 10.12 and later).

Three small helpers for the structures those headers declare, which Python cannot
simply overlay on memory:

* ``SCSI_Sense_Data`` builds and reads *fixed-format* sense (response codes 0x70/0x71,
  ``kSenseDefaultSize`` = 18 bytes), the format Apple's families exchange;
  ``sense_key_and_codes`` also reads *descriptor-format* sense (0x72/0x73).
* ``SCSICmd_INQUIRY_StandardData`` reads the first 36 bytes of standard INQUIRY data.
* ``report_luns_entries`` decodes a REPORT LUNS parameter list.

The machine's own SCSI numbers (``kextlab.machine.scsi.constants``) are the T10 names
of the same values; kernel code uses these.

Threading rules: none (constants and pure functions).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

# -- SCSITask.h: identifiers, attributes, states, responses, statuses -----------------------------

kSCSIUntaggedTaskIdentifier: Final = 0

kSCSITask_SIMPLE: Final = 0
kSCSITask_ORDERED: Final = 1
kSCSITask_HEAD_OF_QUEUE: Final = 2
kSCSITask_ACA: Final = 3

kSCSITaskState_NEW_TASK: Final = 0
kSCSITaskState_ENABLED: Final = 1
kSCSITaskState_BLOCKED: Final = 2
kSCSITaskState_DORMANT: Final = 3
kSCSITaskState_ENDED: Final = 4

kSCSIServiceResponse_Request_In_Process: Final = 0
kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE: Final = 1
kSCSIServiceResponse_TASK_COMPLETE: Final = 2
kSCSIServiceResponse_LINK_COMMAND_COMPLETE: Final = 3
kSCSIServiceResponse_FUNCTION_COMPLETE: Final = 4
kSCSIServiceResponse_FUNCTION_REJECTED: Final = 5

#: Statuses of a task that completed with TASK_COMPLETE (SAM).
kSCSITaskStatus_GOOD: Final = 0x00
kSCSITaskStatus_CHECK_CONDITION: Final = 0x02
kSCSITaskStatus_CONDITION_MET: Final = 0x04
kSCSITaskStatus_BUSY: Final = 0x08
kSCSITaskStatus_INTERMEDIATE: Final = 0x10
kSCSITaskStatus_INTERMEDIATE_CONDITION_MET: Final = 0x14
kSCSITaskStatus_RESERVATION_CONFLICT: Final = 0x18
kSCSITaskStatus_TASK_SET_FULL: Final = 0x28
kSCSITaskStatus_ACA_ACTIVE: Final = 0x30
#: Apple's statuses of a task that completed with SERVICE_DELIVERY_OR_TARGET_FAILURE.
kSCSITaskStatus_TaskTimeoutOccurred: Final = 0x01
kSCSITaskStatus_ProtocolTimeoutOccurred: Final = 0x02
kSCSITaskStatus_DeviceNotResponding: Final = 0x03
kSCSITaskStatus_DeviceNotPresent: Final = 0x04
kSCSITaskStatus_DeliveryFailure: Final = 0x05
kSCSITaskStatus_No_Status: Final = 0xFF

kSCSICDBSize_Maximum: Final = 16
kSCSICDBSize_6Byte: Final = 6
kSCSICDBSize_10Byte: Final = 10
kSCSICDBSize_12Byte: Final = 12
kSCSICDBSize_16Byte: Final = 16

kSCSIDataTransfer_NoDataTransfer: Final = 0x00
kSCSIDataTransfer_FromInitiatorToTarget: Final = 0x01
kSCSIDataTransfer_FromTargetToInitiator: Final = 0x02

kSCSITaskMode_CommandExecution: Final = 1
kSCSITaskMode_Autosense: Final = 2

# -- SCSICommandOperationCodes.h (the live, alphabetical list) ------------------------------------

kSCSICmd_ACCESS_CONTROL_IN: Final = 0x86
kSCSICmd_ACCESS_CONTROL_OUT: Final = 0x87
kSCSICmd_BLANK: Final = 0xA1
kSCSICmd_CHANGE_DEFINITION: Final = 0x40
kSCSICmd_CLOSE_TRACK_SESSION: Final = 0x5B
kSCSICmd_COMPARE: Final = 0x39
kSCSICmd_COPY: Final = 0x18
kSCSICmd_COPY_AND_VERIFY: Final = 0x3A
kSCSICmd_ERASE_10: Final = 0x2C
kSCSICmd_ERASE_12: Final = 0xAC
kSCSICmd_EXTENDED_COPY: Final = 0x83
kSCSICmd_FORMAT_UNIT: Final = 0x04
kSCSICmd_GET_CONFIGURATION: Final = 0x46
kSCSICmd_GET_EVENT_STATUS_NOTIFICATION: Final = 0x4A
kSCSICmd_GET_PERFORMANCE: Final = 0xAC
kSCSICmd_INQUIRY: Final = 0x12
kSCSICmd_LOAD_UNLOAD_MEDIUM: Final = 0xA6
kSCSICmd_LOCK_UNLOCK_CACHE: Final = 0x36
kSCSICmd_LOCK_UNLOCK_CACHE_16: Final = 0x92
kSCSICmd_LOG_SELECT: Final = 0x4C
kSCSICmd_LOG_SENSE: Final = 0x4D
kSCSICmd_MAINTENANCE_IN: Final = 0xA3
kSCSICmd_MAINTENANCE_OUT: Final = 0xA4
kSCSICmd_MECHANISM_STATUS: Final = 0xBD
kSCSICmd_MEDIUM_SCAN: Final = 0x38
kSCSICmd_MODE_SELECT_6: Final = 0x15
kSCSICmd_MODE_SELECT_10: Final = 0x55
kSCSICmd_MODE_SENSE_6: Final = 0x1A
kSCSICmd_MODE_SENSE_10: Final = 0x5A
kSCSICmd_MOVE_MEDIUM_ATTACHED: Final = 0xA7
kSCSICmd_PAUSE_RESUME: Final = 0x4B
kSCSICmd_PERSISTENT_RESERVE_IN: Final = 0x5E
kSCSICmd_PERSISTENT_RESERVE_OUT: Final = 0x5F
kSCSICmd_PLAY_AUDIO_10: Final = 0x45
kSCSICmd_PLAY_AUDIO_12: Final = 0xA5
kSCSICmd_PLAY_AUDIO_MSF: Final = 0x47
kSCSICmd_PLAY_AUDIO_TRACK_INDEX: Final = 0x48
kSCSICmd_PLAY_CD: Final = 0xBC
kSCSICmd_PLAY_RELATIVE_10: Final = 0x49
kSCSICmd_PLAY_RELATIVE_12: Final = 0xA9
kSCSICmd_PREFETCH: Final = 0x34
kSCSICmd_PREFETCH_16: Final = 0x90
kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL: Final = 0x1E
kSCSICmd_READ_6: Final = 0x08
kSCSICmd_READ_10: Final = 0x28
kSCSICmd_READ_12: Final = 0xA8
kSCSICmd_READ_16: Final = 0x88
kSCSICmd_READ_ATTRIBUTE: Final = 0x8C
kSCSICmd_READ_BUFFER: Final = 0x3C
kSCSICmd_READ_BUFFER_CAPACITY: Final = 0x5C
kSCSICmd_READ_CAPACITY: Final = 0x25
kSCSICmd_READ_CD: Final = 0xBE
kSCSICmd_READ_CD_MSF: Final = 0xB9
kSCSICmd_READ_DEFECT_DATA_10: Final = 0x37
kSCSICmd_READ_DEFECT_DATA_12: Final = 0xB7
kSCSICmd_READ_DISC_INFORMATION: Final = 0x51
kSCSICmd_READ_DVD_STRUCTURE: Final = 0xAD
kSCSICmd_READ_ELEMENT_STATUS_ATTACHED: Final = 0xB4
kSCSICmd_READ_FORMAT_CAPACITIES: Final = 0x23
kSCSICmd_READ_GENERATION: Final = 0x29
kSCSICmd_READ_HEADER: Final = 0x44
kSCSICmd_READ_LONG: Final = 0x3E
kSCSICmd_READ_MASTER_CUE: Final = 0x59
kSCSICmd_READ_SUB_CHANNEL: Final = 0x42
kSCSICmd_READ_TOC_PMA_ATIP: Final = 0x43
kSCSICmd_READ_TRACK_INFORMATION: Final = 0x52
kSCSICmd_READ_UPDATED_BLOCK_10: Final = 0x2D
kSCSICmd_REASSIGN_BLOCKS: Final = 0x07
kSCSICmd_REBUILD: Final = 0x81
kSCSICmd_RECEIVE: Final = 0x08
kSCSICmd_RECEIVE_COPY_RESULTS: Final = 0x84
kSCSICmd_RECEIVE_DIAGNOSTICS_RESULTS: Final = 0x1C
kSCSICmd_REDUNDANCY_GROUP_IN: Final = 0xBA
kSCSICmd_REDUNDANCY_GROUP_OUT: Final = 0xBB
kSCSICmd_REGENERATE: Final = 0x82
kSCSICmd_RELEASE_6: Final = 0x17
kSCSICmd_RELEASE_10: Final = 0x57
kSCSICmd_REPAIR_TRACK: Final = 0x58
kSCSICmd_REPORT_DEVICE_IDENTIFIER: Final = 0xA3
kSCSICmd_REPORT_KEY: Final = 0xA4
kSCSICmd_REPORT_LUNS: Final = 0xA0
kSCSICmd_REQUEST_SENSE: Final = 0x03
kSCSICmd_RESERVE_6: Final = 0x16
kSCSICmd_RESERVE_10: Final = 0x56
kSCSICmd_RESERVE_TRACK: Final = 0x53
kSCSICmd_REZERO_UNIT: Final = 0x01
kSCSICmd_SCAN_MMC: Final = 0xBA
kSCSICmd_SEARCH_DATA_EQUAL_10: Final = 0x31
kSCSICmd_SEARCH_DATA_EQUAL_12: Final = 0xB1
kSCSICmd_SEARCH_DATA_HIGH_10: Final = 0x30
kSCSICmd_SEARCH_DATA_HIGH_12: Final = 0xB0
kSCSICmd_SEARCH_DATA_LOW_10: Final = 0x32
kSCSICmd_SEARCH_DATA_LOW_12: Final = 0xB2
kSCSICmd_SEEK_6: Final = 0x0B
kSCSICmd_SEEK_10: Final = 0x2B
kSCSICmd_SEND: Final = 0x0A
kSCSICmd_SEND_CUE_SHEET: Final = 0x5D
kSCSICmd_SEND_DIAGNOSTICS: Final = 0x1D
kSCSICmd_SEND_DVD_STRUCTURE: Final = 0xBF
kSCSICmd_SEND_EVENT: Final = 0xA2
kSCSICmd_SEND_KEY: Final = 0xA3
kSCSICmd_SEND_OPC_INFORMATION: Final = 0x54
kSCSICmd_SERVICE_ACTION_IN: Final = 0x9E
kSCSICmd_SERVICE_ACTION_OUT: Final = 0x9F
kSCSICmd_SET_CD_SPEED: Final = 0xBB
kSCSICmd_SET_DEVICE_IDENTIFIER: Final = 0xA4
kSCSICmd_SET_LIMITS_10: Final = 0x33
kSCSICmd_SET_LIMITS_12: Final = 0xB3
kSCSICmd_SET_READ_AHEAD: Final = 0xA7
kSCSICmd_SET_STREAMING: Final = 0xB6
kSCSICmd_SPARE_IN: Final = 0xBC
kSCSICmd_SPARE_OUT: Final = 0xBD
kSCSICmd_START_STOP_UNIT: Final = 0x1B
kSCSICmd_STOP_PLAY_SCAN: Final = 0x4E
kSCSICmd_SYNCHRONIZE_CACHE: Final = 0x35
kSCSICmd_SYNCHRONIZE_CACHE_16: Final = 0x91
kSCSICmd_TEST_UNIT_READY: Final = 0x00
kSCSICmd_UPDATE_BLOCK: Final = 0x3D
kSCSICmd_VERIFY_10: Final = 0x2F
kSCSICmd_VERIFY_12: Final = 0xAF
kSCSICmd_VERIFY_16: Final = 0x8F
kSCSICmd_VOLUME_SET_IN: Final = 0xBE
kSCSICmd_VOLUME_SET_OUT: Final = 0xBF
kSCSICmd_WRITE_6: Final = 0x0A
kSCSICmd_WRITE_10: Final = 0x2A
kSCSICmd_WRITE_12: Final = 0xAA
kSCSICmd_WRITE_16: Final = 0x8A
kSCSICmd_WRITE_AND_VERIFY_10: Final = 0x2E
kSCSICmd_WRITE_AND_VERIFY_12: Final = 0xAE
kSCSICmd_WRITE_AND_VERIFY_16: Final = 0x8E
kSCSICmd_WRITE_ATTRIBUTE: Final = 0x8D
kSCSICmd_WRITE_BUFFER: Final = 0x3B
kSCSICmd_WRITE_LONG: Final = 0x3F
kSCSICmd_WRITE_SAME: Final = 0x41
kSCSICmd_WRITE_SAME_16: Final = 0x93
kSCSICmd_XDREAD: Final = 0x52
kSCSICmd_XDWRITE: Final = 0x50
kSCSICmd_XDWRITE_EXTENDED: Final = 0x80
kSCSICmd_XDWRITEREAD_10: Final = 0x53
kSCSICmd_XPWRITE: Final = 0x51
kSCSICmdVariableLengthCDB: Final = 0x7F

kSCSIServiceAction_READ_CAPACITY_16: Final = 0x10
kSCSIServiceAction_READ_LONG_16: Final = 0x11
kSCSIServiceAction_WRITE_LONG_16: Final = 0x11
kSCSIServiceAction_REPORT_DEVICE_IDENTIFIER: Final = 0x05
kSCSIServiceAction_REPORT_TARGET_PORT_GROUPS: Final = 0x0A
kSCSIServiceAction_REPORT_ALIASES: Final = 0x0B
kSCSIServiceAction_REPORT_SUPPORTED_OPERATION_CODES: Final = 0x0C
kSCSIServiceAction_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS: Final = 0x0D
kSCSIServiceAction_REPORT_PRIORITY: Final = 0x0E

# -- SCSICmds_REQUEST_SENSE_Defs.h ----------------------------------------------------------------

kSenseDefaultSize: Final = 18

kSENSE_DATA_VALID: Final = 0x80
kSENSE_NOT_DATA_VALID: Final = 0x00
kSENSE_DATA_VALID_Mask: Final = 0x80
kSENSE_RESPONSE_CODE_Current_Errors: Final = 0x70
kSENSE_RESPONSE_CODE_Deferred_Errors: Final = 0x71
kSENSE_RESPONSE_CODE_Mask: Final = 0x7F
#: Descriptor-format sense (SPC-3): not in Apple's 2004 header, used by newer devices.
SENSE_RESPONSE_CODE_DESCRIPTOR_CURRENT: Final = 0x72
SENSE_RESPONSE_CODE_DESCRIPTOR_DEFERRED: Final = 0x73
kSENSE_FILEMARK_Set: Final = 0x80
kSENSE_FILEMARK_Mask: Final = 0x80
kSENSE_EOM_Set: Final = 0x40
kSENSE_EOM_Mask: Final = 0x40
kSENSE_ILI_Set: Final = 0x20
kSENSE_ILI_Mask: Final = 0x20

kSENSE_KEY_NO_SENSE: Final = 0x00
kSENSE_KEY_RECOVERED_ERROR: Final = 0x01
kSENSE_KEY_NOT_READY: Final = 0x02
kSENSE_KEY_MEDIUM_ERROR: Final = 0x03
kSENSE_KEY_HARDWARE_ERROR: Final = 0x04
kSENSE_KEY_ILLEGAL_REQUEST: Final = 0x05
kSENSE_KEY_UNIT_ATTENTION: Final = 0x06
kSENSE_KEY_DATA_PROTECT: Final = 0x07
kSENSE_KEY_BLANK_CHECK: Final = 0x08
kSENSE_KEY_VENDOR_SPECIFIC: Final = 0x09
kSENSE_KEY_COPY_ABORTED: Final = 0x0A
kSENSE_KEY_ABORTED_COMMAND: Final = 0x0B
kSENSE_KEY_VOLUME_OVERFLOW: Final = 0x0D
kSENSE_KEY_MISCOMPARE: Final = 0x0E
kSENSE_KEY_Mask: Final = 0x0F


class SCSI_Sense_Data:
    """Fixed-format sense data (``struct SCSI_Sense_Data``, 18 bytes), field by field.

    ``SCSI_Sense_Data(sense_key, asc, ascq)`` builds current-error sense;
    ``SCSI_Sense_Data.from_bytes(data)`` reads one; ``bytes(sense)`` is the wire form.
    The field names are the struct's."""

    __slots__ = ("_data",)

    def __init__(
        self,
        sense_key: int = kSENSE_KEY_NO_SENSE,
        asc: int = 0,
        ascq: int = 0,
        *,
        information: int | None = None,
        response_code: int = kSENSE_RESPONSE_CODE_Current_Errors,
    ) -> None:
        data = bytearray(kSenseDefaultSize)
        data[0] = response_code & kSENSE_RESPONSE_CODE_Mask
        data[2] = sense_key & kSENSE_KEY_Mask
        if information is not None:
            data[0] |= kSENSE_DATA_VALID
            data[3:7] = (information & 0xFFFF_FFFF).to_bytes(4, "big")
        data[7] = kSenseDefaultSize - 8  # ADDITIONAL_SENSE_LENGTH
        data[12] = asc & 0xFF
        data[13] = ascq & 0xFF
        self._data = data

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SCSI_Sense_Data:
        """The sense in ``data`` (short data is zero-filled, extra bytes ignored)."""
        sense = cls()
        length = min(len(data), kSenseDefaultSize)
        sense._data[:] = bytes(kSenseDefaultSize)
        sense._data[:length] = bytes(data[:length])
        return sense

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def __repr__(self) -> str:
        key, asc, ascq = sense_key_and_codes(self._data)
        return f"<SCSI_Sense_Data key={key:#x} asc={asc:#04x} ascq={ascq:#04x}>"

    @property
    def VALID_RESPONSE_CODE(self) -> int:
        return self._data[0]

    @property
    def SEGMENT_NUMBER(self) -> int:
        return self._data[1]

    @property
    def SENSE_KEY(self) -> int:
        """Byte 2 whole: FILEMARK, EOM, ILI and the key (mask with ``kSENSE_KEY_Mask``)."""
        return self._data[2]

    @property
    def INFORMATION(self) -> int:
        return int.from_bytes(self._data[3:7], "big")

    @property
    def ADDITIONAL_SENSE_LENGTH(self) -> int:
        return self._data[7]

    @property
    def COMMAND_SPECIFIC_INFORMATION(self) -> int:
        return int.from_bytes(self._data[8:12], "big")

    @property
    def ADDITIONAL_SENSE_CODE(self) -> int:
        return self._data[12]

    @property
    def ADDITIONAL_SENSE_CODE_QUALIFIER(self) -> int:
        return self._data[13]

    @property
    def FIELD_REPLACEABLE_UNIT_CODE(self) -> int:
        return self._data[14]


def sense_key_and_codes(data: bytes | bytearray | memoryview | None) -> tuple[int, int, int]:
    """(sense key, ASC, ASCQ) of fixed- or descriptor-format sense; zeros when
    ``data`` is empty, None or of an unknown format."""
    if not data:
        return (0, 0, 0)
    code = data[0] & kSENSE_RESPONSE_CODE_Mask
    if code in (SENSE_RESPONSE_CODE_DESCRIPTOR_CURRENT, SENSE_RESPONSE_CODE_DESCRIPTOR_DEFERRED):
        if len(data) < 4:
            return (0, 0, 0)
        return (data[1] & kSENSE_KEY_Mask, data[2], data[3])
    if code in (kSENSE_RESPONSE_CODE_Current_Errors, kSENSE_RESPONSE_CODE_Deferred_Errors):
        key = data[2] & kSENSE_KEY_Mask if len(data) > 2 else 0
        asc = data[12] if len(data) > 12 else 0
        ascq = data[13] if len(data) > 13 else 0
        return (key, asc, ascq)
    return (0, 0, 0)


# -- SCSICmds_INQUIRY_Definitions.h ---------------------------------------------------------------

kINQUIRY_StandardDataHeaderSize: Final = 5
kINQUIRY_MaximumDataSize: Final = 255
kINQUIRY_VENDOR_IDENTIFICATION_Length: Final = 8
kINQUIRY_PRODUCT_IDENTIFICATION_Length: Final = 16
kINQUIRY_PRODUCT_REVISION_LEVEL_Length: Final = 4
#: ``sizeof(SCSICmd_INQUIRY_StandardData)``.
kINQUIRY_StandardDataSize: Final = 36

kINQUIRY_PERIPHERAL_QUALIFIER_Connected: Final = 0x00
kINQUIRY_PERIPHERAL_QUALIFIER_SupportedButNotConnected: Final = 0x20
kINQUIRY_PERIPHERAL_QUALIFIER_NotSupported: Final = 0x60
kINQUIRY_PERIPHERAL_QUALIFIER_Mask: Final = 0xE0

kINQUIRY_PERIPHERAL_TYPE_DirectAccessSBCDevice: Final = 0x00
kINQUIRY_PERIPHERAL_TYPE_SequentialAccessSSCDevice: Final = 0x01
kINQUIRY_PERIPHERAL_TYPE_PrinterSSCDevice: Final = 0x02
kINQUIRY_PERIPHERAL_TYPE_ProcessorSPCDevice: Final = 0x03
kINQUIRY_PERIPHERAL_TYPE_WriteOnceSBCDevice: Final = 0x04
kINQUIRY_PERIPHERAL_TYPE_CDROM_MMCDevice: Final = 0x05
kINQUIRY_PERIPHERAL_TYPE_ScannerSCSI2Device: Final = 0x06
kINQUIRY_PERIPHERAL_TYPE_OpticalMemorySBCDevice: Final = 0x07
kINQUIRY_PERIPHERAL_TYPE_MediumChangerSMCDevice: Final = 0x08
kINQUIRY_PERIPHERAL_TYPE_CommunicationsSSCDevice: Final = 0x09
kINQUIRY_PERIPHERAL_TYPE_StorageArrayControllerSCC2Device: Final = 0x0C
kINQUIRY_PERIPHERAL_TYPE_EnclosureServicesSESDevice: Final = 0x0D
kINQUIRY_PERIPHERAL_TYPE_SimplifiedDirectAccessRBCDevice: Final = 0x0E
kINQUIRY_PERIPHERAL_TYPE_OpticalCardReaderOCRWDevice: Final = 0x0F
kINQUIRY_PERIPHERAL_TYPE_ObjectBasedStorageDevice: Final = 0x11
kINQUIRY_PERIPHERAL_TYPE_AutomationDriveInterface: Final = 0x12
kINQUIRY_PERIPHERAL_TYPE_WellKnownLogicalUnit: Final = 0x1E
kINQUIRY_PERIPHERAL_TYPE_UnknownOrNoDeviceType: Final = 0x1F
kINQUIRY_PERIPHERAL_TYPE_Mask: Final = 0x1F

kINQUIRY_PERIPHERAL_RMB_MediumFixed: Final = 0x00
kINQUIRY_PERIPHERAL_RMB_MediumRemovable: Final = 0x80
kINQUIRY_PERIPHERAL_RMB_BitMask: Final = 0x80

kINQUIRY_ANSI_VERSION_NoClaimedConformance: Final = 0x00
kINQUIRY_ANSI_VERSION_SCSI_1_Compliant: Final = 0x01
kINQUIRY_ANSI_VERSION_SCSI_2_Compliant: Final = 0x02
kINQUIRY_ANSI_VERSION_SCSI_SPC_Compliant: Final = 0x03
kINQUIRY_ANSI_VERSION_SCSI_SPC_2_Compliant: Final = 0x04
kINQUIRY_ANSI_VERSION_SCSI_SPC_3_Compliant: Final = 0x05
kINQUIRY_ANSI_VERSION_Mask: Final = 0x07

kINQUIRY_Byte5_TPGS_Mask: Final = 0x18
kINQUIRY_Byte6_Offset: Final = 6
kINQUIRY_Byte6_MULTIP_Mask: Final = 0x10
kINQUIRY_Byte7_Offset: Final = 7
kINQUIRY_Byte7_CMDQUE_Mask: Final = 0x02
kINQUIRY_Byte7_SYNC_Mask: Final = 0x10
kINQUIRY_Byte7_WBUS16_Mask: Final = 0x20
kINQUIRY_Byte56_Offset: Final = 56
kINQUIRY_Byte56_IUS_Mask: Final = 0x01
kINQUIRY_Byte56_QAS_Mask: Final = 0x02
kINQUIRY_Byte56_CLOCKING_Mask: Final = 0x0C
kINQUIRY_Byte56_CLOCKING_ONLY_ST: Final = 0x00
kINQUIRY_Byte56_CLOCKING_ONLY_DT: Final = 0x04
kINQUIRY_Byte56_CLOCKING_ST_AND_DT: Final = 0x0C

kINQUIRY_Page00_PageCode: Final = 0x00
kINQUIRY_Page80_PageCode: Final = 0x80
kINQUIRY_Page83_PageCode: Final = 0x83

kINQUIRY_Page83_CodeSetBinaryData: Final = 0x1
kINQUIRY_Page83_CodeSetASCIIData: Final = 0x2
kINQUIRY_Page83_CodeSetUTF8Data: Final = 0x3
kINQUIRY_Page83_CodeSetMask: Final = 0xF
kINQUIRY_Page83_AssociationMask: Final = 0x30
kINQUIRY_Page83_IdentifierTypeMask: Final = 0xF

kIOPropertySCSIPeripheralDeviceType: Final = "Peripheral Device Type"
kIOPropertySCSIPeripheralDeviceTypeSize: Final = 8
kIOPropertySCSIVendorIdentification: Final = "Vendor Identification"
kIOPropertySCSIProductIdentification: Final = "Product Identification"
kIOPropertySCSIProductRevisionLevel: Final = "Product Revision Level"
kIOPropertySCSIINQUIRYUnitSerialNumber: Final = "INQUIRY Unit Serial Number"
kIOPropertySCSIINQUIRYDeviceIdentification: Final = "INQUIRY Device Identification"
kIOPropertySCSIINQUIRYDeviceIdCodeSet: Final = "Code Set"
kIOPropertySCSIINQUIRYDeviceIdType: Final = "Identifier Type"
kIOPropertySCSIINQUIRYDeviceIdAssociation: Final = "Association"
kIOPropertySCSIINQUIRYDeviceIdentifier: Final = "Identifier"
#: The TPGS field of INQUIRY byte 5, published on a logical unit (real dumps show it).
kIOPropertySCSITPGSInformation: Final = "TPGS Information"

_INQUIRY_HEAD = struct.Struct(">BBBBBBBB8s16s4s")


@dataclass(frozen=True)
class SCSICmd_INQUIRY_StandardData:
    """The standard INQUIRY data (``struct SCSICmd_INQUIRY_StandardData``), decoded.

    The identification strings keep their bytes as ASCII with trailing blanks and NULs
    removed, which is how Apple publishes them as properties."""

    PERIPHERAL_DEVICE_TYPE: int
    RMB: int
    VERSION: int
    RESPONSE_DATA_FORMAT: int
    ADDITIONAL_LENGTH: int
    SCCSReserved: int
    flags1: int
    flags2: int
    VENDOR_IDENTIFICATION: str
    PRODUCT_IDENTIFICATION: str
    PRODUCT_REVISION_LEVEL: str

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SCSICmd_INQUIRY_StandardData:
        """Decode ``data`` (zero-filled to 36 bytes if it is shorter)."""
        raw = bytes(data[:kINQUIRY_StandardDataSize]).ljust(kINQUIRY_StandardDataSize, b"\0")
        fields = _INQUIRY_HEAD.unpack(raw)
        return cls(*fields[:8], *(_ascii(field) for field in fields[8:]))

    @property
    def peripheral_device_type(self) -> int:
        return self.PERIPHERAL_DEVICE_TYPE & kINQUIRY_PERIPHERAL_TYPE_Mask

    @property
    def peripheral_qualifier(self) -> int:
        return self.PERIPHERAL_DEVICE_TYPE & kINQUIRY_PERIPHERAL_QUALIFIER_Mask

    @property
    def ansi_version(self) -> int:
        return self.VERSION & kINQUIRY_ANSI_VERSION_Mask

    @property
    def removable(self) -> bool:
        return bool(self.RMB & kINQUIRY_PERIPHERAL_RMB_BitMask)


def _ascii(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("ascii", "replace").strip()


# -- SCSICmds_REPORT_LUNS_Definitions.h -----------------------------------------------------------

kREPORT_LUNS_HeaderSize: Final = 8
kREPORT_LUNS_ADDRESS_METHOD_PERIPHERAL_DEVICE: Final = 0
kREPORT_LUNS_ADDRESS_DEVICE_TYPE_SPECIFIC: Final = 1
kREPORT_LUNS_ADDRESS_METHOD_LOGICAL_UNIT: Final = 2
kREPORT_LUNS_ADDRESS_METHOD_OFFSET: Final = 14


def report_luns_entries(data: bytes | bytearray | memoryview) -> list[bytes]:
    """The 8-byte LUN entries of a REPORT LUNS parameter list, as many as both the
    list length in the header and ``data`` hold."""
    if len(data) < kREPORT_LUNS_HeaderSize:
        return []
    listed = int.from_bytes(bytes(data[0:4]), "big") // 8
    available = (len(data) - kREPORT_LUNS_HeaderSize) // 8
    return [
        bytes(data[kREPORT_LUNS_HeaderSize + 8 * index : kREPORT_LUNS_HeaderSize + 8 * index + 8])
        for index in range(min(listed, available))
    ]


# -- IOSCSIProtocolInterface.h --------------------------------------------------------------------

kSCSIProtocolNotification_DeviceRemoved: Final = 0x69000010
kSCSIProtocolNotification_VerifyDeviceState: Final = 0x69000020
kSCSIServicesNotification_ExclusivityChanged: Final = 0x69000030
kSCSIProtocolNotification_ForcePowerDown: Final = 0x69000040
kSCSIProtocolNotification_ForcePowerUp: Final = 0x69000050

kSCSIProtocolFeature_ACA: Final = 1
kSCSIProtocolFeature_CPUInDiskMode: Final = 2
kSCSIProtocolFeature_ProtocolSpecificPolling: Final = 3
kSCSIProtocolFeature_ProtocolSpecificSleepCommand: Final = 4
kSCSIProtocolFeature_GetMaximumLogicalUnitNumber: Final = 5
kSCSIProtocolFeature_MaximumReadBlockTransferCount: Final = 6
kSCSIProtocolFeature_MaximumWriteBlockTransferCount: Final = 7
kSCSIProtocolFeature_MaximumReadTransferByteCount: Final = 8
kSCSIProtocolFeature_MaximumWriteTransferByteCount: Final = 9
kSCSIProtocolFeature_SubmitDefaultInquiryData: Final = 10
kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData: Final = 11
kSCSIProtocolFeature_ProtocolSpecificPowerOff: Final = 12
kSCSIProtocolFeature_ProtocolSpecificPowerControl: Final = 13
kSCSIProtocolFeature_ProtocolSpecificAsyncNotification: Final = 14
kSCSIProtocolFeature_HierarchicalLogicalUnits: Final = 15
kSCSIProtocolFeature_MultiPathing: Final = 16
kSCSIProtocolFeature_ProtocolSpecificLinkRetrain: Final = 17

kIOPropertySCSIDeviceCharacteristicsKey: Final = "SCSI Device Characteristics"
kIOPropertySCSIInquiryLengthKey: Final = "Inquiry Length"
kIOPropertySCSIManualEjectKey: Final = "Manual Eject"
kIOPropertyReadTimeOutDurationKey: Final = "Read Time Out Duration"
kIOPropertyWriteTimeOutDurationKey: Final = "Write Time Out Duration"
kIOSCSIArchitectureBundleIdentifierKey: Final = "com.apple.iokit.IOSCSIArchitectureModelFamily"

# -- SCSIPort.h -----------------------------------------------------------------------------------

kSCSIPort_NotificationStatusChange: Final = 0x68000001
kSCSIPort_StatusOnline: Final = 0
kSCSIPort_StatusOffline: Final = 1
kSCSIPort_StatusFailure: Final = 2

# -- IOStorageProtocolCharacteristics.h / IOStorageDeviceCharacteristics.h ------------------------

kIOPropertyProtocolCharacteristicsKey: Final = "Protocol Characteristics"
kIOPropertySCSIInitiatorIdentifierKey: Final = "SCSI Initiator Identifier"
kIOPropertySCSIDomainIdentifierKey: Final = "SCSI Domain Identifier"
kIOPropertySCSITargetIdentifierKey: Final = "SCSI Target Identifier"
kIOPropertySCSILogicalUnitNumberKey: Final = "SCSI Logical Unit Number"
kIOPropertySCSILogicalUnitBytesKey: Final = "SCSI Logical Unit Bytes"
kIOPropertySASAddressKey: Final = "SAS Address"
kIOPropertyRetryCountKey: Final = "Retry Count"
kIOPropertyFibreChannelNodeWorldWideNameKey: Final = "Node World Wide Name"
kIOPropertyFibreChannelPortWorldWideNameKey: Final = "Port World Wide Name"
kIOPropertyFibreChannelAddressIdentifierKey: Final = "Address Identifier"
kIOPropertyFibreChannelALPAKey: Final = "AL_PA"
kIOPropertySCSIPortIdentifierKey: Final = "SCSI Port Identifier"
kIOPropertyPortStatusKey: Final = "Port Status"
kIOPropertyPortSpeedKey: Final = "Port Speed"
kIOPropertyPortTopologyKey: Final = "Port Topology"
kIOPropertyPortDescriptionKey: Final = "Port Description"
kIOPropertySCSIParallelSignalingTypeKey: Final = "SCSI Parallel Signaling Type"
kIOPropertyFibreChannelCableDescriptionKey: Final = "Fibre Channel Cabling Type"
kIOPropertyPhysicalInterconnectTypeKey: Final = "Physical Interconnect"
kIOPropertyPhysicalInterconnectLocationKey: Final = "Physical Interconnect Location"
kIOPropertySCSIProtocolMultiInitKey: Final = "Multiple Initiators"
kIOPropertyInternalKey: Final = "Internal"
kIOPropertyExternalKey: Final = "External"
kIOPropertyInternalExternalKey: Final = "Internal/External"
kIOPropertyInterconnectFileKey: Final = "File"
kIOPropertyInterconnectRAMKey: Final = "RAM"
kIOPropertyPhysicalInterconnectTypeATA: Final = "ATA"
kIOPropertyPhysicalInterconnectTypeSerialATA: Final = "SATA"
kIOPropertyPhysicalInterconnectTypeSerialAttachedSCSI: Final = "SAS"
kIOPropertyPhysicalInterconnectTypeATAPI: Final = "ATAPI"
kIOPropertyPhysicalInterconnectTypeUSB: Final = "USB"
kIOPropertyPhysicalInterconnectTypeFireWire: Final = "FireWire"
kIOPropertyPhysicalInterconnectTypeSCSIParallel: Final = "SCSI Parallel Interface"
kIOPropertyPhysicalInterconnectTypeFibreChannel: Final = "Fibre Channel Interface"
kIOPropertyPhysicalInterconnectTypeVirtual: Final = "Virtual Interface"

kIOPropertyDeviceCharacteristicsKey: Final = "Device Characteristics"
kIOPropertyVendorNameKey: Final = "Vendor Name"
kIOPropertyProductNameKey: Final = "Product Name"
kIOPropertyProductRevisionLevelKey: Final = "Product Revision Level"
kIOPropertyProductSerialNumberKey: Final = "Serial Number"

#: The registry's unit keys (IOKitKeys.h ``kIOUnitKey``; the LUN's own from the SAM family).
kIOPropertyIOUnitKey: Final = "IOUnit"
kIOPropertyIOUnitLUNKey: Final = "IOUnitLUN"
#: The device tree's location key (IOKitKeys.h ``kIODeviceLocationKey``).
kIODeviceLocationKey: Final = "IODeviceLocation"

# -- IOKitKeys.h: I/O constraints a controller publishes for the storage stack ---------------------

kIOCommandPoolSizeKey: Final = "IOCommandPoolSize"
kIOMaximumBlockCountReadKey: Final = "IOMaximumBlockCountRead"
kIOMaximumBlockCountWriteKey: Final = "IOMaximumBlockCountWrite"
kIOMaximumByteCountReadKey: Final = "IOMaximumByteCountRead"
kIOMaximumByteCountWriteKey: Final = "IOMaximumByteCountWrite"
kIOMaximumSegmentCountReadKey: Final = "IOMaximumSegmentCountRead"
kIOMaximumSegmentCountWriteKey: Final = "IOMaximumSegmentCountWrite"
kIOMaximumSegmentByteCountReadKey: Final = "IOMaximumSegmentByteCountRead"
kIOMaximumSegmentByteCountWriteKey: Final = "IOMaximumSegmentByteCountWrite"
kIOMinimumSegmentAlignmentByteCountKey: Final = "IOMinimumSegmentAlignmentByteCount"
kIOMaximumSegmentAddressableBitCountKey: Final = "IOMaximumSegmentAddressableBitCount"
kIOMinimumSaturationByteCountKey: Final = "IOMinimumSaturationByteCount"
