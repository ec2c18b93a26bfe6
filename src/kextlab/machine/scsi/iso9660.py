"""ISO 9660 images: a small, deterministic writer for the CDs kextlab's machines carry.

Owns ``build_iso``, which lays out a single-session, mode-1 data disc as ECMA-119
(2nd edition, 1987; the same text as ISO 9660:1988) describes it, with the files
flat in the root directory:

======  ==========================================================================
sector  contents
======  ==========================================================================
0-15    the system area, zero (ECMA-119 §6.2.1)
16      the primary volume descriptor (§8.4)
17      the volume descriptor set terminator (§8.3)
18      the type L path table (little-endian, §9.4), one record: the root
19      the type M path table (big-endian)
20      the root directory: ``.``, ``..`` and one record per file (§9.1), sorted
21-     the files' data, each starting on a sector of its own
======  ==========================================================================

Names are d-characters (``A-Z``, ``0-9``, ``_``) in 8.3 form with the version
suffix ``;1`` (Level 1, §10.1).  Every date is the ``recorded`` argument, so the same
files always give the same bytes: a shipped image can be checked against the writer.
The root directory holds at most one sector of records, which is plenty for a
laboratory disc; more files are refused with a message, not laid out wrongly.

The CD-ROM target (``kextlab.machine.scsi.cdrom``) reads such a file as its disc.

Threading rules: none; a pure function.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

#: A recording date: year, month, day, hour, minute, second (GMT).  A plain tuple, as
#: nothing below user space may read the host's clock or calendar.
Recorded = tuple[int, int, int, int, int, int]

SECTOR = 2048
SYSTEM_AREA_SECTORS = 16
PRIMARY_VOLUME_DESCRIPTOR = 16
TERMINATOR = 17
L_PATH_TABLE = 18
M_PATH_TABLE = 19
ROOT_DIRECTORY = 20
FIRST_FILE = 21

_NAME = re.compile(r"[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3})?")
_IDENTIFIER = re.compile(r"[A-Z0-9_ ]*")
_FLAG_DIRECTORY = 0x02


def _both16(value: int) -> bytes:
    """A 16-bit number recorded both-byte orders (§7.2.3)."""
    return struct.pack("<H", value) + struct.pack(">H", value)


def _both32(value: int) -> bytes:
    """A 32-bit number recorded both-byte orders (§7.3.3)."""
    return struct.pack("<I", value) + struct.pack(">I", value)


def _record_date(when: Recorded) -> bytes:
    """The 7-byte date of a directory record (§9.1.5), GMT offset 0."""
    year, month, day, hour, minute, second = when
    return bytes((year - 1900, month, day, hour, minute, second, 0))


def _volume_date(when: Recorded) -> bytes:
    """The 17-byte digit date of a volume descriptor (§8.4.26.1), GMT offset 0."""
    year, month, day, hour, minute, second = when
    digits = f"{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}00"
    return digits.encode("ascii") + b"\x00"


def _directory_record(extent: int, length: int, name: bytes, flags: int, when: Recorded) -> bytes:
    size = 33 + len(name)
    size += size % 2  # records start on even bytes (§9.1.12)
    record = bytearray(size)
    record[0] = size
    record[2:10] = _both32(extent)
    record[10:18] = _both32(length)
    record[18:25] = _record_date(when)
    record[25] = flags
    record[28:32] = _both16(1)  # volume sequence number
    record[32] = len(name)
    record[33 : 33 + len(name)] = name
    return bytes(record)


def _text(value: str, size: int, what: str) -> bytes:
    if len(value) > size or not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"ISO 9660 {what} {value!r}: expected at most {size} of A-Z, 0-9, _ and space"
        )
    return value.encode("ascii").ljust(size)


def _sectors(length: int) -> int:
    return max(1, -(-length // SECTOR))


def build_iso(
    volume_id: str,
    files: Mapping[str, bytes],
    *,
    recorded: Recorded,
    system_id: str = "KEXTLAB",
    publisher: str = "",
) -> bytes:
    """The bytes of an ISO 9660 image holding ``files`` (8.3 names) in its root."""
    names = sorted(files)
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"ISO 9660 file name {name!r}: expected an 8.3 name of A-Z, 0-9, _")
    extents: dict[str, int] = {}
    next_extent = FIRST_FILE
    for name in names:
        extents[name] = next_extent
        next_extent += _sectors(len(files[name]))
    total = next_extent

    root = bytearray()
    root += _directory_record(ROOT_DIRECTORY, SECTOR, b"\x00", _FLAG_DIRECTORY, recorded)
    root += _directory_record(ROOT_DIRECTORY, SECTOR, b"\x01", _FLAG_DIRECTORY, recorded)
    for name in names:
        identifier = (name if "." in name else name + ".").encode("ascii") + b";1"
        root += _directory_record(extents[name], len(files[name]), identifier, 0, recorded)
    if len(root) > SECTOR:
        raise ValueError(f"ISO 9660: {len(names)} files do not fit one root directory sector")

    root_record = _directory_record(ROOT_DIRECTORY, SECTOR, b"\x00", _FLAG_DIRECTORY, recorded)
    path_record_l = bytes((1, 0)) + struct.pack("<IH", ROOT_DIRECTORY, 1) + b"\x00\x00"
    path_record_m = bytes((1, 0)) + struct.pack(">IH", ROOT_DIRECTORY, 1) + b"\x00\x00"
    path_table_size = 8 + 1  # one record: 8 bytes + a 1-byte identifier (the pad excluded)

    descriptor = bytearray(SECTOR)
    descriptor[0] = 1
    descriptor[1:6] = b"CD001"
    descriptor[6] = 1
    descriptor[8:40] = _text(system_id, 32, "system identifier")
    descriptor[40:72] = _text(volume_id, 32, "volume identifier")
    descriptor[80:88] = _both32(total)
    descriptor[120:124] = _both16(1)  # volume set size
    descriptor[124:128] = _both16(1)  # volume sequence number
    descriptor[128:132] = _both16(SECTOR)
    descriptor[132:140] = _both32(path_table_size)
    descriptor[140:144] = struct.pack("<I", L_PATH_TABLE)
    descriptor[148:152] = struct.pack(">I", M_PATH_TABLE)
    descriptor[156:190] = root_record
    descriptor[190:318] = b" " * 128  # volume set identifier
    descriptor[318:446] = _text(publisher, 128, "publisher")
    descriptor[446:574] = b" " * 128  # data preparer
    descriptor[574:702] = _text("KEXTLAB ISO9660", 128, "application")
    descriptor[702:813] = b" " * 111  # copyright, abstract, bibliographic file identifiers
    descriptor[813:830] = _volume_date(recorded)  # creation
    descriptor[830:847] = _volume_date(recorded)  # modification
    descriptor[847:864] = b"0" * 16 + b"\x00"  # expiration: not specified
    descriptor[864:881] = b"0" * 16 + b"\x00"  # effective: not specified
    descriptor[881] = 1  # file structure version

    terminator = bytearray(SECTOR)
    terminator[0] = 255
    terminator[1:7] = b"CD001\x01"

    image = bytearray(total * SECTOR)
    image[PRIMARY_VOLUME_DESCRIPTOR * SECTOR : (PRIMARY_VOLUME_DESCRIPTOR + 1) * SECTOR] = (
        descriptor
    )
    image[TERMINATOR * SECTOR : (TERMINATOR + 1) * SECTOR] = terminator
    image[L_PATH_TABLE * SECTOR : L_PATH_TABLE * SECTOR + len(path_record_l)] = path_record_l
    image[M_PATH_TABLE * SECTOR : M_PATH_TABLE * SECTOR + len(path_record_m)] = path_record_m
    image[ROOT_DIRECTORY * SECTOR : ROOT_DIRECTORY * SECTOR + len(root)] = root
    for name in names:
        start = extents[name] * SECTOR
        image[start : start + len(files[name])] = files[name]
    return bytes(image)


def read_iso_root(image: bytes) -> dict[str, bytes]:
    """The files in the root directory of an ISO 9660 image, by name without the
    version suffix: the reader a test checks the writer with (and a tool can use)."""
    descriptor = image[
        PRIMARY_VOLUME_DESCRIPTOR * SECTOR : (PRIMARY_VOLUME_DESCRIPTOR + 1) * SECTOR
    ]
    if descriptor[0] != 1 or descriptor[1:6] != b"CD001":
        raise ValueError("not an ISO 9660 image: no primary volume descriptor at sector 16")
    root_extent, root_length = struct.unpack_from("<I4xI", descriptor, 156 + 2)
    directory = image[root_extent * SECTOR : root_extent * SECTOR + root_length]
    files: dict[str, bytes] = {}
    offset = 0
    while offset < len(directory) and directory[offset]:
        size = directory[offset]
        extent, length = struct.unpack_from("<I4xI", directory, offset + 2)
        flags = directory[offset + 25]
        name = directory[offset + 33 : offset + 33 + directory[offset + 32]]
        if not flags & _FLAG_DIRECTORY:
            text = name.decode("ascii").split(";")[0].rstrip(".")
            files[text] = image[extent * SECTOR : extent * SECTOR + length]
        offset += size
    return files
