"""ISO 9660 images: the writer's layout, its refusals, and the disc the default machine ships."""

from __future__ import annotations

import struct

import pytest

from kextlab.machine.description import parse_machine_description
from kextlab.machine.machines import SAMPLE_CD, sample_cd
from kextlab.machine.scsi.iso9660 import SECTOR, build_iso, read_iso_root

HBA_WITH_CD = (
    '[memory]\nsize = "256M"\n[[device]]\nname = "hba0"\nmodel = "mvumi9143"\nslot = 4\n'
    '[[device.target]]\nid = 2\ntype = "cdrom"\nimage = "kextlab-cd.iso"\n'
)
WHEN = (2001, 3, 24, 9, 41, 0)


def test_files_come_back_from_the_root_directory_byte_for_byte() -> None:
    """What the writer lays out, the reader finds again, each file on its own sectors."""
    files = {"README.TXT": b"hello\n", "DATA.BIN": bytes(range(256)) * 20, "NOEXT": b"x"}
    image = build_iso("LAB", files, recorded=WHEN)
    assert read_iso_root(image) == files
    assert len(image) % SECTOR == 0


def test_the_primary_volume_descriptor_is_where_ecma_119_puts_it() -> None:
    """Sector 16 holds the PVD (both-endian sizes, 2048-byte blocks, root record at 156)
    and sector 17 the set terminator."""
    image = build_iso("KEXTLAB", {"A.TXT": b"a"}, recorded=WHEN)
    pvd = image[16 * SECTOR : 17 * SECTOR]
    assert pvd[:7] == b"\x01CD001\x01"
    assert pvd[40:72].rstrip() == b"KEXTLAB"
    blocks_le, blocks_be = (
        struct.unpack_from("<I", pvd, 80)[0],
        struct.unpack_from(">I", pvd, 84)[0],
    )
    assert blocks_le == blocks_be == len(image) // SECTOR
    assert struct.unpack_from("<H", pvd, 128)[0] == struct.unpack_from(">H", pvd, 130)[0] == SECTOR
    assert pvd[156] == 34  # the root's directory record
    assert pvd[813:827] == b"20010324094100"
    assert image[17 * SECTOR : 17 * SECTOR + 7] == b"\xffCD001\x01"
    assert not any(image[: 16 * SECTOR])  # the system area


def test_the_same_files_always_give_the_same_bytes() -> None:
    """No wall clock, no ordering accident: the image is a function of its arguments."""
    files = {"B.TXT": b"b", "A.TXT": b"a"}
    assert build_iso("V", files, recorded=WHEN) == build_iso(
        "V", dict(reversed(files.items())), recorded=WHEN
    )


@pytest.mark.parametrize(
    ("volume", "name", "message"),
    [
        ("LAB", "readme.txt", "file name 'readme.txt': expected an 8.3 name"),
        ("LAB", "TOOLONGNAME.TXT", "file name 'TOOLONGNAME.TXT'"),
        ("lab", "A.TXT", "volume identifier 'lab': expected at most 32 of A-Z"),
    ],
)
def test_names_iso_9660_cannot_record_are_refused_by_name(
    volume: str, name: str, message: str
) -> None:
    """Level 1 names and d-character identifiers only; the message names the culprit."""
    with pytest.raises(ValueError, match=message):
        build_iso(volume, {name: b""}, recorded=WHEN)


def test_the_shipped_sample_cd_is_exactly_what_the_writer_makes() -> None:
    """``kextlab-cd.iso`` beside the default machine is ``sample_cd()``, byte for byte."""
    assert SAMPLE_CD.read_bytes() == sample_cd()
    assert b"IOCDMedia" in read_iso_root(sample_cd())["README.TXT"]


def test_an_embedded_machines_relative_images_resolve_beside_it() -> None:
    """An embedded machine's relative image path names a file shipped beside its TOML,
    whatever the working directory."""
    text = HBA_WITH_CD
    description = parse_machine_description(
        text, "<embedded machine x>", "x", base=SAMPLE_CD.parent
    )
    (target,) = description.devices[0].targets
    assert target.image == SAMPLE_CD
