"""SCSI numbers: operation codes, status codes, sense keys, device types.

A data module.  Names follow the T10 standards (SPC-4, SBC-3, MMC-6, SSC-3) as
Linux's ``scsi_proto.h`` spells them; Apple's names for the same values
(``kSCSICmd_INQUIRY``, ``kSCSITaskStatus_CHECK_CONDITION``) belong to the kernel's
SCSI family, which maps onto these.
"""

from __future__ import annotations

import enum


class Opcode(enum.IntEnum):
    # SPC: every device
    TEST_UNIT_READY = 0x00
    REQUEST_SENSE = 0x03
    INQUIRY = 0x12
    MODE_SELECT_6 = 0x15
    RESERVE_6 = 0x16
    RELEASE_6 = 0x17
    MODE_SENSE_6 = 0x1A
    START_STOP_UNIT = 0x1B  # SSC: LOAD UNLOAD
    SEND_DIAGNOSTIC = 0x1D
    PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
    WRITE_BUFFER = 0x3B
    LOG_SENSE = 0x4D
    MODE_SELECT_10 = 0x55
    RESERVE_10 = 0x56
    RELEASE_10 = 0x57
    MODE_SENSE_10 = 0x5A
    REPORT_LUNS = 0xA0
    MAINTENANCE_IN = 0xA3
    # SBC: direct-access block devices
    FORMAT_UNIT = 0x04
    READ_6 = 0x08
    WRITE_6 = 0x0A
    SEEK_10 = 0x2B
    READ_CAPACITY_10 = 0x25
    READ_10 = 0x28
    WRITE_10 = 0x2A
    WRITE_AND_VERIFY_10 = 0x2E
    VERIFY_10 = 0x2F
    PRE_FETCH_10 = 0x34
    SYNCHRONIZE_CACHE_10 = 0x35
    WRITE_SAME_10 = 0x41
    UNMAP = 0x42
    READ_16 = 0x88
    WRITE_16 = 0x8A
    WRITE_AND_VERIFY_16 = 0x8E
    VERIFY_16 = 0x8F
    SYNCHRONIZE_CACHE_16 = 0x91
    WRITE_SAME_16 = 0x93
    SERVICE_ACTION_IN_16 = 0x9E  # READ CAPACITY(16) is service action 0x10
    READ_12 = 0xA8
    WRITE_12 = 0xAA
    WRITE_AND_VERIFY_12 = 0xAE
    VERIFY_12 = 0xAF
    # MMC: CD/DVD
    READ_TOC = 0x43
    GET_CONFIGURATION = 0x46
    GET_EVENT_STATUS_NOTIFICATION = 0x4A
    READ_DISC_INFORMATION = 0x51
    MECHANISM_STATUS = 0xBD
    READ_CD = 0xBE
    READ_DVD_STRUCTURE = 0xAD
    # SSC: sequential-access (tape)
    REWIND = 0x01
    READ_BLOCK_LIMITS = 0x05
    WRITE_FILEMARKS = 0x10
    SPACE = 0x11
    ERASE = 0x19
    LOCATE_10 = 0x2B  # same code as SEEK(10); the device type decides
    READ_POSITION = 0x34  # same code as PRE-FETCH(10)
    LOCATE_16 = 0x92


#: SERVICE ACTION IN(16) service actions.
SERVICE_ACTION_READ_CAPACITY_16 = 0x10
SERVICE_ACTION_GET_LBA_STATUS = 0x12


class Status(enum.IntEnum):
    """SAM status byte."""

    GOOD = 0x00
    CHECK_CONDITION = 0x02
    CONDITION_MET = 0x04
    BUSY = 0x08
    RESERVATION_CONFLICT = 0x18
    TASK_SET_FULL = 0x28
    ACA_ACTIVE = 0x30
    TASK_ABORTED = 0x40


class SenseKey(enum.IntEnum):
    NO_SENSE = 0x0
    RECOVERED_ERROR = 0x1
    NOT_READY = 0x2
    MEDIUM_ERROR = 0x3
    HARDWARE_ERROR = 0x4
    ILLEGAL_REQUEST = 0x5
    UNIT_ATTENTION = 0x6
    DATA_PROTECT = 0x7
    BLANK_CHECK = 0x8
    VENDOR_SPECIFIC = 0x9
    COPY_ABORTED = 0xA
    ABORTED_COMMAND = 0xB
    VOLUME_OVERFLOW = 0xD
    MISCOMPARE = 0xE


class PeripheralType(enum.IntEnum):
    """INQUIRY byte 0, bits 4:0."""

    DISK = 0x00  # direct access block device (SBC)
    TAPE = 0x01  # sequential access device (SSC)
    PROCESSOR = 0x03
    CDROM = 0x05  # CD/DVD (MMC)
    ENCLOSURE = 0x0D
    NO_LUN = 0x1F  # unknown or no device type


#: INQUIRY byte 0 qualifier: "not capable of supporting a device at this LUN".
PERIPHERAL_QUALIFIER_NOT_SUPPORTED = 0x60
#: The REPORT LUNS well-known logical unit.
REPORT_LUNS_WELL_KNOWN_LUN = 0xC101

#: SPC version byte of our INQUIRY data: SPC-3, as QEMU reports.
SPC_VERSION = 0x05


def cdb_length(opcode: int) -> int | None:
    """The length of a CDB with this operation code, from its group code (SPC-4).

    Group 0 is 6 bytes, groups 1 and 2 are 10, group 4 is 16 and group 5 is 12; group 3
    (reserved, and the variable-length 0x7F) and the vendor-specific groups 6 and 7 have
    no fixed length (None).
    """
    return _CDB_LENGTH_BY_GROUP[opcode >> 5 & 0x7]


_CDB_LENGTH_BY_GROUP: tuple[int | None, ...] = (6, 10, 10, None, 16, 12, None, None)
