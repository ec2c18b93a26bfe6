"""Mode parameters: MODE SENSE and MODE SELECT lists, whatever the device type.

Owns the framing SPC-4 §7.5 gives every device type: the CDB fields of MODE SENSE(6)
and (10), the mode parameter headers (4 bytes for the 6-byte commands, 8 for the
10-byte ones), block descriptors, the page selection of the PAGE CODE field (one page,
or 0x3F for all of them in ascending order) and the four page controls (current,
changeable, default, saved).  The pages themselves belong to the device models
(MMC-6 clause 7 for the CD-ROM, SSC-3 clause 8 for the tape); a model hands this module its
pages as bytes and gets back the parameter list, or the sense code to fail with.

Pages are kept in SPC "page_0" format (page code, page length, parameters); the PS
bit of byte 0 is set in what MODE SENSE returns when ``savable`` (we never save, so
the models pass False) and ignored in what MODE SELECT sends.

Threading rules: pure functions over bytes; no state.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import Opcode

ALL_PAGES = 0x3F
ALL_SUBPAGES = 0xFF

#: MODE SENSE(6)/MODE SELECT(6) header: mode data length, medium type,
#: device-specific parameter, block descriptor length.
HEADER_6 = struct.Struct(">BBBB")
#: MODE SENSE(10)/MODE SELECT(10) header: mode data length, medium type,
#: device-specific parameter, LONGLBA, reserved, block descriptor length.
HEADER_10 = struct.Struct(">HBBBBH")
#: The short (8-byte) block descriptor: density code and number of blocks in one
#: big-endian word (density in the top byte), reserved byte, 24-bit block length.
BLOCK_DESCRIPTOR = struct.Struct(">IB3s")
BLOCK_DESCRIPTOR_LENGTH = BLOCK_DESCRIPTOR.size


class PageControl(enum.IntEnum):
    """MODE SENSE byte 2 bits 7:6."""

    CURRENT = 0
    CHANGEABLE = 1
    DEFAULT = 2
    SAVED = 3


@dataclass(frozen=True)
class ModeSense:
    """The fields of a MODE SENSE(6) or (10) CDB."""

    ten: bool
    disable_block_descriptors: bool
    page_control: PageControl
    page_code: int
    subpage_code: int
    allocation_length: int


def parse_mode_sense(cdb: bytes) -> ModeSense | sense.SenseCode:
    """Decode a MODE SENSE CDB, or the sense code it deserves.

    Saved values are not supported (SAVING PARAMETERS NOT SUPPORTED, as
    SPC-4 requires of a unit that saves nothing);
    subpages other than 0 (and 0xFF with page 0x3F) are not (INVALID FIELD).
    """
    ten = cdb[0] == Opcode.MODE_SENSE_10
    if len(cdb) < (10 if ten else 6):
        return sense.INVALID_FIELD
    page_control = PageControl(cdb[2] >> 6)
    page_code = cdb[2] & 0x3F
    subpage_code = cdb[3]
    if page_control is PageControl.SAVED:
        return sense.SAVING_PARAMS_NOT_SUPPORTED
    if subpage_code and not (page_code == ALL_PAGES and subpage_code == ALL_SUBPAGES):
        return sense.INVALID_FIELD
    allocation = int.from_bytes(cdb[7:9], "big") if ten else cdb[4]
    return ModeSense(
        ten=ten,
        disable_block_descriptors=bool(cdb[1] & 0x08),
        page_control=page_control,
        page_code=page_code,
        subpage_code=subpage_code,
        allocation_length=allocation,
    )


def select_pages(page_code: int, pages: Mapping[int, bytes]) -> bytes | None:
    """Page ``page_code`` from ``pages``, or all of them for 0x3F; None if unknown.

    All pages come in ascending order with page 0 (vendor specific) last, as SPC-4
    requires for the all-pages request.
    """
    if page_code == ALL_PAGES:
        order = sorted(pages, key=lambda code: (code == 0, code))
        return b"".join(pages[code] for code in order)
    return pages.get(page_code)


def requested_pages(
    cdb: bytes, pages_for: Callable[[PageControl], Mapping[int, bytes]]
) -> tuple[ModeSense, bytes] | sense.SenseCode:
    """A MODE SENSE CDB decoded with the pages it asks for (``pages_for`` gives a
    unit's pages for a page control), or the sense code it deserves: the CDB's own
    (``parse_mode_sense``), or INVALID FIELD IN CDB for a page the unit lacks."""
    parsed = parse_mode_sense(cdb)
    if isinstance(parsed, sense.SenseCode):
        return parsed
    pages = select_pages(parsed.page_code, pages_for(parsed.page_control))
    if pages is None:
        return sense.INVALID_FIELD
    return parsed, pages


def parameter_list(
    ten: bool,
    *,
    medium_type: int = 0,
    device_specific: int = 0,
    block_descriptors: bytes = b"",
    pages: bytes = b"",
) -> bytes:
    """A mode parameter list: the header for MODE SENSE(6) or (10), then the rest."""
    body = block_descriptors + pages
    if ten:
        length = HEADER_10.size - 2 + len(body)
        header = HEADER_10.pack(length, medium_type, device_specific, 0, 0, len(block_descriptors))
    else:
        length = min(HEADER_6.size - 1 + len(body), 0xFF)
        header = HEADER_6.pack(length, medium_type, device_specific, len(block_descriptors))
    return header + body


def block_descriptor(density_code: int, blocks: int, block_length: int) -> bytes:
    """An 8-byte short block descriptor (SPC-4's general mode parameter block
    descriptor: density code, number of blocks, block length)."""
    return BLOCK_DESCRIPTOR.pack(
        (density_code & 0xFF) << 24 | min(blocks, 0xFF_FFFF),
        0,
        block_length.to_bytes(3, "big"),
    )


@dataclass(frozen=True)
class ModeSelectList:
    """A MODE SELECT parameter list taken apart."""

    medium_type: int
    device_specific: int
    block_descriptors: list[tuple[int, int, int]]  # density code, blocks, block length
    pages: list[tuple[int, bytes]]  # page code, the whole page (PS bit cleared)


def parse_mode_select_cdb(cdb: bytes) -> tuple[int, bool] | sense.SenseCode:
    """(parameter list length, PF) of a MODE SELECT(6)/(10) CDB, or the sense code.

    SP (save pages) is refused with SAVING PARAMETERS NOT SUPPORTED.
    """
    ten = cdb[0] == Opcode.MODE_SELECT_10
    if len(cdb) < (10 if ten else 6):
        return sense.INVALID_FIELD
    if cdb[1] & 0x01:
        return sense.SAVING_PARAMS_NOT_SUPPORTED
    length = int.from_bytes(cdb[7:9], "big") if ten else cdb[4]
    return length, bool(cdb[1] & 0x10)


def parse_mode_select(ten: bool, data: bytes) -> ModeSelectList | sense.SenseCode:
    """Take a MODE SELECT parameter list apart, or say why it is malformed.

    A list shorter than its header is PARAMETER LIST LENGTH ERROR; descriptors or
    pages that overrun the list, a block descriptor length that is not a multiple of
    8, or a subpage-format page are INVALID FIELD IN PARAMETER LIST.
    """
    header = HEADER_10 if ten else HEADER_6
    if len(data) < header.size:
        return sense.INVALID_PARAM_LEN
    if ten:
        _, medium_type, device_specific, long_lba, _, descriptor_length = HEADER_10.unpack_from(
            data
        )
        if long_lba & 0x01:  # LONGLBA: 16-byte descriptors, which no model here uses
            return sense.INVALID_PARAM
    else:
        _, medium_type, device_specific, descriptor_length = HEADER_6.unpack_from(data)
    position = header.size
    if descriptor_length % BLOCK_DESCRIPTOR_LENGTH or position + descriptor_length > len(data):
        return sense.INVALID_PARAM
    descriptors = []
    for offset in range(position, position + descriptor_length, BLOCK_DESCRIPTOR_LENGTH):
        word, _, length = BLOCK_DESCRIPTOR.unpack_from(data, offset)
        descriptors.append((word >> 24, word & 0xFF_FFFF, int.from_bytes(length, "big")))
    position += descriptor_length
    pages: list[tuple[int, bytes]] = []
    while position < len(data):
        if position + 2 > len(data) or data[position] & 0x40:  # truncated, or SPF
            return sense.INVALID_PARAM
        end = position + 2 + data[position + 1]
        if end > len(data):
            return sense.INVALID_PARAM
        page = bytes([data[position] & 0x3F]) + data[position + 1 : end]
        pages.append((page[0], page))
        position = end
    return ModeSelectList(medium_type, device_specific, descriptors, pages)
