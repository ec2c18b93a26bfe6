"""CD types: media types, TOC formats, sector areas and sizes, the CDTOC layout.

Mirrors ``IOCDTypes.h`` of IOCDStorageFamily: the constants with Apple's values,
``CDMSF`` and the MSF/LBA conversions (``CDConvertMSFToLBA``,
``CDConvertLBAToMSF``), and ``CDTOC`` as bytes: a big-endian 16-bit length (of
what follows it), the first and last session numbers, then 11-byte descriptors
(``CDTOCDescriptor``: session, ADR/control, TNO, POINT, address MSF, zero, P MSF),
which is exactly the response of READ TOC format 2 (full TOC) that a transport
passes up.  ``CDTOCGetDescriptorCount`` and ``cd_toc_descriptors`` read it.

Threading rules: plain values and functions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CDMSF",
    "CDConvertLBAToMSF",
    "CDConvertMSFToClippedLBA",
    "CDConvertMSFToLBA",
    "CDTOCDescriptor",
    "CDTOCGetDescriptorCount",
    "cd_toc_descriptors",
    "cd_toc_last_lba",
    "kCDMediaTypeMax",
    "kCDMediaTypeMin",
    "kCDMediaTypeR",
    "kCDMediaTypeROM",
    "kCDMediaTypeRW",
    "kCDMediaTypeUnknown",
    "kCDSectorAreaUser",
    "kCDSectorSizeMode1",
    "kCDSectorSizeWhole",
    "kCDSectorTypeMode1",
    "kCDTOCFormatATIP",
    "kCDTOCFormatPMA",
    "kCDTOCFormatTEXT",
    "kCDTOCFormatTOC",
]

# -- CDMediaType ----------------------------------------------------------------------------------
kCDMediaTypeUnknown: Final = 0x0100
kCDMediaTypeROM: Final = 0x0102
kCDMediaTypeR: Final = 0x0104
kCDMediaTypeRW: Final = 0x0105
kCDMediaTypeMin: Final = 0x0100
kCDMediaTypeMax: Final = 0x01FF

# -- CDTOCFormat ----------------------------------------------------------------------------------
kCDTOCFormatTOC: Final = 0x02
kCDTOCFormatPMA: Final = 0x03
kCDTOCFormatATIP: Final = 0x04
kCDTOCFormatTEXT: Final = 0x05

# -- CDSectorArea, CDSectorType, CDSectorSize -----------------------------------------------------
kCDSectorAreaSync: Final = 0x80
kCDSectorAreaHeader: Final = 0x20
kCDSectorAreaSubHeader: Final = 0x40
kCDSectorAreaUser: Final = 0x10
kCDSectorAreaAuxiliary: Final = 0x08
kCDSectorAreaErrorFlags: Final = 0x02
kCDSectorAreaSubChannel: Final = 0x01
kCDSectorAreaSubChannelQ: Final = 0x04

kCDSectorTypeUnknown: Final = 0x00
kCDSectorTypeCDDA: Final = 0x01
kCDSectorTypeMode1: Final = 0x02
kCDSectorTypeMode2: Final = 0x03
kCDSectorTypeMode2Form1: Final = 0x04
kCDSectorTypeMode2Form2: Final = 0x05

kCDSectorSizeCDDA: Final = 2352
kCDSectorSizeMode1: Final = 2048
kCDSectorSizeMode2: Final = 2336
kCDSectorSizeMode2Form1: Final = 2048
kCDSectorSizeMode2Form2: Final = 2328
kCDSectorSizeWhole: Final = 2352

_TOC_HEADER: Final = struct.Struct(">HBB")
_TOC_DESCRIPTOR: Final = struct.Struct(">BBBB3BB3B")


@dataclass(frozen=True, slots=True)
class CDMSF:
    """``CDMSF``: minute, second, frame (75 frames a second)."""

    minute: int
    second: int
    frame: int


def CDConvertMSFToLBA(msf: CDMSF) -> int:
    """The logical block of ``msf`` (MSF 00:02:00 is LBA 0)."""
    return ((msf.minute * 60 + msf.second) * 75) + msf.frame - 150


def CDConvertMSFToClippedLBA(msf: CDMSF) -> int:
    """``CDConvertMSFToLBA``, with the lead-in (before 00:02:00) as LBA 0."""
    return 0 if msf.minute == 0 and msf.second <= 1 else CDConvertMSFToLBA(msf)


def CDConvertLBAToMSF(lba: int) -> CDMSF:
    """The MSF of logical block ``lba``."""
    lba += 150
    return CDMSF(lba // (75 * 60), (lba % (75 * 60)) // 75, lba % 75)


@dataclass(frozen=True, slots=True)
class CDTOCDescriptor:
    """``CDTOCDescriptor``: one entry of a full TOC."""

    session: int
    adr: int
    control: int
    tno: int
    point: int
    address: CDMSF
    zero: int
    p: CDMSF


def CDTOCGetDescriptorCount(toc: bytes | bytearray | memoryview) -> int:
    """How many descriptors ``toc`` holds (by its length field)."""
    if len(toc) < _TOC_HEADER.size:
        return 0
    length: int = _TOC_HEADER.unpack_from(toc)[0]
    size = length + 2
    if size < _TOC_HEADER.size:
        return 0
    return (size - _TOC_HEADER.size) // _TOC_DESCRIPTOR.size


def cd_toc_descriptors(toc: bytes | bytearray | memoryview) -> list[CDTOCDescriptor]:
    """The descriptors of a ``CDTOC`` (only those within both its length and ``toc``)."""
    count = min(CDTOCGetDescriptorCount(toc), (len(toc) - _TOC_HEADER.size) // _TOC_DESCRIPTOR.size)
    descriptors = []
    for index in range(max(count, 0)):
        fields = _TOC_DESCRIPTOR.unpack_from(toc, _TOC_HEADER.size + index * _TOC_DESCRIPTOR.size)
        session, adr_control, tno, point, am, as_, af, zero, pm, ps, pf = fields
        descriptors.append(
            CDTOCDescriptor(
                session,
                adr_control >> 4,
                adr_control & 0x0F,
                tno,
                point,
                CDMSF(am, as_, af),
                zero,
                CDMSF(pm, ps, pf),
            )
        )
    return descriptors


def cd_toc_last_lba(toc: bytes | bytearray | memoryview) -> int | None:
    """The block after the last one of the disc: the lead-out's start (POINT 0xA2 of
    the last session, ADR 1), or None if the TOC names none."""
    lead_out = None
    for descriptor in cd_toc_descriptors(toc):
        if descriptor.point == 0xA2 and descriptor.adr == 1:
            lead_out = CDConvertMSFToLBA(descriptor.p)
    return lead_out
