"""Sense data: the named sense codes, and fixed- and descriptor-format sense buffers.

The table is QEMU's (``scsi/utils.c``, ``sense_code_*``; see
``shared/spec/scsi.md`` §4.4) plus the codes the tape model and the fault injector
need.  ``SenseCode.build`` makes the sense buffer a target returns with CHECK
CONDITION (SPC-4 §4.5):

* fixed format, response code 0x70, 18 bytes: key at byte 2, INFORMATION at bytes
  3-6 (with the VALID bit when given), ASC/ASCQ at bytes 12-13, and the stream
  bits FILEMARK / EOM / ILI at byte 2 for tapes;
* descriptor format, response code 0x72, 8 bytes plus an information descriptor
  when there is INFORMATION to report.

``decode`` reads either format back (the HBA models and tests use it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kextlab.machine.scsi.constants import SenseKey

FIXED_SENSE_LENGTH = 18
_FIXED = struct.Struct(">BBBIBIBBBBBB")
FILEMARK = 0x80
END_OF_MEDIUM = 0x40
INCORRECT_LENGTH = 0x20


@dataclass(frozen=True)
class SenseCode:
    """A sense key with its additional sense code and qualifier."""

    key: SenseKey
    asc: int
    ascq: int
    name: str = ""

    def __str__(self) -> str:
        label = f" ({self.name})" if self.name else ""
        return f"{self.key.name} {self.asc:02X}/{self.ascq:02X}{label}"

    def build(
        self,
        *,
        descriptor: bool = False,
        information: int | None = None,
        filemark: bool = False,
        end_of_medium: bool = False,
        incorrect_length: bool = False,
    ) -> bytes:
        """The sense buffer for this code, in fixed (default) or descriptor format."""
        stream = (
            (FILEMARK if filemark else 0)
            | (END_OF_MEDIUM if end_of_medium else 0)
            | (INCORRECT_LENGTH if incorrect_length else 0)
        )
        if not descriptor:
            valid = 0x80 if information is not None else 0
            return _FIXED.pack(
                0x70 | valid,
                0,
                int(self.key) | stream,
                (information or 0) & 0xFFFF_FFFF,
                FIXED_SENSE_LENGTH - 8,
                0,  # command-specific information
                self.asc,
                self.ascq,
                0,  # field-replaceable unit code
                0,
                0,
                0,  # sense-key specific
            )
        descriptors = b""
        if information is not None:
            # A negative residue (SSC: a record longer than asked for, a reverse
            # SPACE cut short) is two's complement, sign-extended to the 8 bytes.
            information &= 0xFFFF_FFFF_FFFF_FFFF
            descriptors += bytes([0x00, 0x0A, 0x80, 0x00]) + information.to_bytes(8, "big")
        if stream:
            descriptors += bytes([0x04, 0x02, 0x00, stream])
        header = bytes([0x72, int(self.key), self.asc, self.ascq, 0, 0, 0, len(descriptors)])
        return header + descriptors


@dataclass(frozen=True)
class DecodedSense:
    key: SenseKey
    asc: int
    ascq: int
    information: int | None
    filemark: bool
    end_of_medium: bool
    incorrect_length: bool

    @property
    def code(self) -> tuple[SenseKey, int, int]:
        return self.key, self.asc, self.ascq


def decode(sense: bytes) -> DecodedSense:
    """Read a fixed (0x70/0x71) or descriptor (0x72/0x73) sense buffer."""
    if not sense:
        raise ValueError("empty sense buffer")
    response = sense[0] & 0x7F
    if response in (0x70, 0x71):
        if len(sense) < 14:
            raise ValueError(f"fixed sense of {len(sense)} bytes is shorter than 14")
        flags = sense[2]
        information = int.from_bytes(sense[3:7], "big") if sense[0] & 0x80 else None
        return DecodedSense(
            SenseKey(flags & 0x0F),
            sense[12],
            sense[13],
            information,
            bool(flags & FILEMARK),
            bool(flags & END_OF_MEDIUM),
            bool(flags & INCORRECT_LENGTH),
        )
    if response in (0x72, 0x73):
        if len(sense) < 8:
            raise ValueError(f"descriptor sense of {len(sense)} bytes is shorter than 8")
        information = None
        stream = 0
        position = 8
        end = min(len(sense), 8 + sense[7])
        while position + 2 <= end:
            kind, length = sense[position], sense[position + 1]
            body = sense[position + 2 : position + 2 + length]
            if kind == 0x00 and len(body) >= 10:
                information = int.from_bytes(body[2:10], "big")
            elif kind == 0x04 and len(body) >= 2:
                stream = body[1]
            position += 2 + length
        return DecodedSense(
            SenseKey(sense[1] & 0x0F),
            sense[2],
            sense[3],
            information,
            bool(stream & FILEMARK),
            bool(stream & END_OF_MEDIUM),
            bool(stream & INCORRECT_LENGTH),
        )
    raise ValueError(f"unknown sense response code {sense[0]:#04x}")


def _code(key: SenseKey, asc: int, ascq: int, name: str) -> SenseCode:
    return SenseCode(key, asc, ascq, name)


K = SenseKey
NO_SENSE = _code(K.NO_SENSE, 0x00, 0x00, "no additional sense information")
RECOVERED_ERROR = _code(K.RECOVERED_ERROR, 0x5D, 0x00, "failure prediction threshold exceeded")
# NOT READY
NOT_READY = _code(K.NOT_READY, 0x04, 0x00, "logical unit not ready, cause not reportable")
NOT_READY_BECOMING_READY = _code(
    K.NOT_READY, 0x04, 0x01, "logical unit is in process of becoming ready"
)
NOT_READY_INITIALIZING_REQUIRED = _code(
    K.NOT_READY, 0x04, 0x02, "logical unit not ready, initializing command required"
)
LUN_NOT_READY = _code(
    K.NOT_READY, 0x04, 0x03, "logical unit not ready, manual intervention required"
)
NO_MEDIUM = _code(K.NOT_READY, 0x3A, 0x00, "medium not present")
NOT_READY_REMOVAL_PREVENTED = _code(K.NOT_READY, 0x53, 0x02, "medium removal prevented")
# MEDIUM ERROR
READ_ERROR = _code(K.MEDIUM_ERROR, 0x11, 0x00, "unrecovered read error")
WRITE_ERROR = _code(K.MEDIUM_ERROR, 0x0C, 0x00, "write error")
MEDIUM_FORMAT_CORRUPTED = _code(K.MEDIUM_ERROR, 0x31, 0x00, "medium format corrupted")
# HARDWARE ERROR
TARGET_FAILURE = _code(K.HARDWARE_ERROR, 0x44, 0x00, "internal target failure")
# ILLEGAL REQUEST
INVALID_OPCODE = _code(K.ILLEGAL_REQUEST, 0x20, 0x00, "invalid command operation code")
LBA_OUT_OF_RANGE = _code(K.ILLEGAL_REQUEST, 0x21, 0x00, "logical block address out of range")
INVALID_FIELD = _code(K.ILLEGAL_REQUEST, 0x24, 0x00, "invalid field in CDB")
INVALID_PARAM = _code(K.ILLEGAL_REQUEST, 0x26, 0x00, "invalid field in parameter list")
INVALID_PARAM_LEN = _code(K.ILLEGAL_REQUEST, 0x1A, 0x00, "parameter list length error")
LUN_NOT_SUPPORTED = _code(K.ILLEGAL_REQUEST, 0x25, 0x00, "logical unit not supported")
SAVING_PARAMS_NOT_SUPPORTED = _code(
    K.ILLEGAL_REQUEST, 0x39, 0x00, "saving parameters not supported"
)
INCOMPATIBLE_FORMAT = _code(K.ILLEGAL_REQUEST, 0x30, 0x00, "incompatible medium installed")
ILLEGAL_REQ_REMOVAL_PREVENTED = _code(K.ILLEGAL_REQUEST, 0x53, 0x02, "medium removal prevented")
INVALID_TAG = _code(K.ILLEGAL_REQUEST, 0x4B, 0x01, "invalid target port transfer tag received")
# UNIT ATTENTION, in the order SPC gives them priority (see ``UNIT_ATTENTION_PRIORITY``)
POWER_ON_RESET = _code(
    K.UNIT_ATTENTION, 0x29, 0x00, "power on, reset, or bus device reset occurred"
)
POWER_ON_OCCURRED = _code(K.UNIT_ATTENTION, 0x29, 0x01, "power on occurred")
SCSI_BUS_RESET = _code(K.UNIT_ATTENTION, 0x29, 0x02, "SCSI bus reset occurred")
BUS_DEVICE_RESET = _code(K.UNIT_ATTENTION, 0x29, 0x03, "bus device reset function occurred")
DEVICE_INTERNAL_RESET = _code(K.UNIT_ATTENTION, 0x29, 0x04, "device internal reset")
I_T_NEXUS_LOSS_OCCURRED = _code(K.UNIT_ATTENTION, 0x29, 0x07, "I_T nexus loss occurred")
MODE_PARAMETERS_CHANGED = _code(K.UNIT_ATTENTION, 0x2A, 0x01, "mode parameters changed")
CAPACITY_CHANGED = _code(K.UNIT_ATTENTION, 0x2A, 0x09, "capacity data has changed")
MEDIUM_CHANGED = _code(
    K.UNIT_ATTENTION, 0x28, 0x00, "not ready to ready change, medium may have changed"
)
UNIT_ATTENTION_NO_MEDIUM = _code(K.UNIT_ATTENTION, 0x3A, 0x00, "medium not present")
REPORTED_LUNS_CHANGED = _code(K.UNIT_ATTENTION, 0x3F, 0x0E, "reported LUNs data has changed")
MICROCODE_CHANGED = _code(K.UNIT_ATTENTION, 0x3F, 0x01, "microcode has been changed")
# DATA PROTECT
WRITE_PROTECTED = _code(K.DATA_PROTECT, 0x27, 0x00, "write protected")
SPACE_ALLOC_FAILED = _code(K.DATA_PROTECT, 0x27, 0x07, "space allocation failed write protect")
# BLANK CHECK / VOLUME OVERFLOW (tape)
END_OF_DATA_DETECTED = _code(K.BLANK_CHECK, 0x00, 0x05, "end-of-data detected")
BEGINNING_OF_PARTITION = _code(K.NO_SENSE, 0x00, 0x04, "beginning-of-partition/medium detected")
FILEMARK_DETECTED = _code(K.NO_SENSE, 0x00, 0x01, "filemark detected")
END_OF_PARTITION = _code(K.MEDIUM_ERROR, 0x00, 0x02, "end-of-partition/medium detected")
EARLY_WARNING = _code(K.NO_SENSE, 0x00, 0x02, "end-of-partition/medium detected (early warning)")
VOLUME_OVERFLOW = _code(K.VOLUME_OVERFLOW, 0x00, 0x02, "end-of-partition/medium detected")
# ABORTED COMMAND
IO_ERROR = _code(K.ABORTED_COMMAND, 0x00, 0x06, "I/O process terminated")
TRANSPORT_ERROR = _code(K.ABORTED_COMMAND, 0x4B, 0x03, "ACK/NAK timeout")
I_T_NEXUS_LOSS = _code(K.ABORTED_COMMAND, 0x29, 0x07, "I_T nexus loss occurred")
LUN_FAILURE = _code(K.ABORTED_COMMAND, 0x3E, 0x01, "logical unit failure")
OVERLAPPED_COMMANDS = _code(K.ABORTED_COMMAND, 0x4E, 0x00, "overlapped commands attempted")
LUN_COMM_FAILURE = _code(K.ABORTED_COMMAND, 0x08, 0x00, "logical unit communication failure")
# MISCOMPARE
MISCOMPARE_DURING_VERIFY = _code(K.MISCOMPARE, 0x1D, 0x00, "miscompare during verify operation")

#: Unit attentions in the order a logical unit reports them when several are pending
#: (SPC-4 §5.9 and scsi_debug's ``SDEBUG_UA_*`` order): resets first.
UNIT_ATTENTION_PRIORITY = (
    POWER_ON_RESET,
    POWER_ON_OCCURRED,
    SCSI_BUS_RESET,
    BUS_DEVICE_RESET,
    DEVICE_INTERNAL_RESET,
    I_T_NEXUS_LOSS_OCCURRED,
    MEDIUM_CHANGED,
    UNIT_ATTENTION_NO_MEDIUM,
    MODE_PARAMETERS_CHANGED,
    CAPACITY_CHANGED,
    REPORTED_LUNS_CHANGED,
    MICROCODE_CHANGED,
)
