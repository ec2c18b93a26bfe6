"""SBC-3 numbers for the disk model: CDB layouts, bit names, VPD and mode page formats.

A data module, read like a datasheet next to ``kextlab.machine.scsi.disk``: the
fields of the direct-access block commands (SBC-3, T10/1799-D; two SBC-4 additions
are marked), of the VPD pages a disk adds and of its mode pages, with T10's names.
The precompiled ``struct.Struct`` layouts are the hot path's: ``decode_transfer``
takes every READ/WRITE CDB apart with one ``unpack_from``.
"""

from __future__ import annotations

import struct

# -- CDB layouts (SBC-3) ------------------------------------------------------------------

#: Group 0 (READ(6), WRITE(6)): the operation code and a 21-bit LBA in one word.
CDB_6 = struct.Struct(">I")
#: Group 1 and 2: byte 1 flags, LBA, group number, 16-bit block count.
CDB_10 = struct.Struct(">xBIxH")
#: Group 5: byte 1 flags, LBA, 32-bit block count.
CDB_12 = struct.Struct(">xBII")
#: Group 4: byte 1 flags, 64-bit LBA, 32-bit block count.
CDB_16 = struct.Struct(">xBQI")
_LAYOUT_BY_GROUP = {1: CDB_10, 2: CDB_10, 4: CDB_16, 5: CDB_12}

#: Byte 1 of READ/WRITE/VERIFY/WRITE SAME CDBs.
PROTECT = 0xE0  # RDPROTECT, WRPROTECT, VRPROTECT
DPO = 0x10
FUA = 0x08
BYTCHK = 0x06  # VERIFY, WRITE AND VERIFY (two bits in SBC-4)
WRITE_SAME_ANCHOR = 0x10
WRITE_SAME_UNMAP = 0x08
WRITE_SAME_PBDATA = 0x04
WRITE_SAME_LBDATA = 0x02
WRITE_SAME_NDOB = 0x01  # SBC-4 "no data-out buffer"; reserved in SBC-3
#: What the disk refuses in WRITE SAME: anchoring, the obsolete PBDATA and LBDATA, NDOB.
WRITE_SAME_UNSUPPORTED = WRITE_SAME_ANCHOR | WRITE_SAME_PBDATA | WRITE_SAME_LBDATA | WRITE_SAME_NDOB
UNMAP_ANCHOR = 0x01
#: START STOP UNIT byte 4.
START = 0x01
NO_FLUSH = 0x04  # (LOEJ, 0x02, is ignored: a fixed disk has nothing to load or eject)
#: START STOP UNIT power conditions this unit accepts: START_VALID, ACTIVE, IDLE,
#: STANDBY, LU_CONTROL, FORCE_IDLE_0, FORCE_STANDBY_0 (SBC-3 Table 68).
POWER_CONDITIONS = frozenset({0x0, 0x1, 0x2, 0x3, 0x7, 0xA, 0xB})
#: FORMAT UNIT byte 1.
FORMAT_PROTECTION = 0xC0  # FMTPINFO
FORMAT_LONG_LIST = 0x20
FORMAT_DATA = 0x10

READ_CAPACITY_10 = struct.Struct(">II")  # last LBA, block length
#: Last LBA, block length, protection, LBPPBE, LBPME/LBPRZ/lowest aligned LBA, reserved.
READ_CAPACITY_16 = struct.Struct(">QIBBH16x")
LBPME = 0x8000
LBPRZ = 0x4000
UNMAP_HEADER = struct.Struct(">HH4x")  # unmap data length, block descriptor data length
UNMAP_DESCRIPTOR = struct.Struct(">QI4x")  # LBA, number of blocks
#: The short block descriptor of a direct-access device (SBC-3): number of
#: blocks (0xFFFFFFFF when it does not fit), reserved, 24-bit block length.
BLOCK_DESCRIPTOR = struct.Struct(">IB3s")

#: QEMU refuses allocation lengths above this in 32-bit fields (READ CAPACITY(16)).
MAXIMUM_ALLOCATION_LENGTH = 65536

# -- identity ----------------------------------------------------------------------------------

#: T10 version descriptors: SAM-5, SPC-4, SBC-3.
SAM_5 = 0x00A0
SPC_4 = 0x0460
SBC_3 = 0x04C0

VPD_BLOCK_LIMITS = 0xB0
VPD_BLOCK_DEVICE_CHARACTERISTICS = 0xB1
VPD_LOGICAL_BLOCK_PROVISIONING = 0xB2
#: Block Limits body: WSNZ, max COMPARE AND WRITE, optimal granularity, max transfer,
#: optimal transfer, max prefetch, max unmap LBAs, max unmap descriptors, unmap
#: granularity, UGAVALID/alignment, max WRITE SAME length, reserved (0x3C bytes).
BLOCK_LIMITS = struct.Struct(">BBHIIIIIIIQ20x")
WSNZ = 0x01
#: Block Device Characteristics body: rotation rate, product type, form factor,
#: FUAB/VBULS, reserved (0x3C bytes).
BLOCK_DEVICE_CHARACTERISTICS = struct.Struct(">HBBB55x")
#: VPD 0xB1 MEDIUM ROTATION RATE: 1 means a non-rotating medium (a solid state disk).
NON_ROTATING_MEDIUM = 0x0001
#: Logical Block Provisioning: threshold exponent, LBPU/LBPWS/LBPWS10/LBPRZ,
#: provisioning type, reserved.
LOGICAL_BLOCK_PROVISIONING = struct.Struct(">BBBx")
LBPU = 0x80
LBPWS = 0x40
LBPWS10 = 0x20
VPD_LBPRZ = 0x04
PROVISIONING_THIN = 0x02

# -- mode pages (SBC-3) --------------------------------------------------------------------

PAGE_READ_WRITE_ERROR_RECOVERY = 0x01
PAGE_RIGID_DISK_GEOMETRY = 0x04
PAGE_CACHING = 0x08
PAGE_CONTROL = 0x0A
#: Read-Write Error Recovery: AWRE and ARRE (automatic reallocation on write and read).
AUTOMATIC_REALLOCATION = 0xC0
#: Caching byte 2: write cache enable.
WCE = 0x04
#: Control byte 2: descriptor-format sense; byte 3: unrestricted reordering (QAM 1).
D_SENSE = 0x04
GLTSD = 0x02
QUEUE_ALGORITHM_UNRESTRICTED = 0x10
#: Device-specific parameter of the mode parameter header (SBC-3).
WRITE_PROTECT = 0x80
DPOFUA = 0x10
GEOMETRY_HEADS = 16
GEOMETRY_SECTORS_PER_TRACK = 63


def decode_transfer(cdb: bytes) -> tuple[int, int, int]:
    """``(byte 1 flags, LBA, block count)`` of a READ, WRITE, VERIFY, WRITE SAME or
    SYNCHRONIZE CACHE CDB of any length (a 0 count in READ(6)/WRITE(6) means 256)."""
    opcode = cdb[0]
    if opcode < 0x20:
        return 0, CDB_6.unpack_from(cdb)[0] & 0x1F_FFFF, cdb[4] or 256
    flags, lba, count = _LAYOUT_BY_GROUP[opcode >> 5].unpack_from(cdb)
    return flags, lba, count
