"""The machines kextlab embeds (``kextlab machines`` lists them), and their media.

Each ``<name>.toml`` here is a machine description.  Relative image paths in them
resolve against this folder, which is read-only in an installed kextlab: the default
machine's disks are therefore scratch disks (a size, no image), and its CD-ROM reads
``kextlab-cd.iso``, a small data disc shipped beside it.  ``sample_cd()`` is how that
disc is made, so the shipped bytes can be checked (a test compares them, and
``python -c "import kextlab.machine.machines as m; m.write_sample_cd()"`` remakes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from kextlab.machine.scsi.iso9660 import build_iso

SAMPLE_CD: Final = Path(__file__).resolve().parent / "kextlab-cd.iso"

_README = """\
kextlab sample CD-ROM

This disc sits in the CD-ROM drive (target 2) of kextlab's default machine,
behind the Marvell UMI host bus adapter.  The Mac OS X storage stack shows it
as IOCDMedia: IOSCSIPeripheralDeviceType05 -> IOCompactDiscServices ->
IOCDBlockStorageDriver -> IOCDMedia.

Try:  kextlab ioreg -l -c IOCDMedia
"""


def sample_cd() -> bytes:
    """The bytes of ``kextlab-cd.iso``: an ISO 9660 volume ``KEXTLAB`` with a README."""
    return build_iso(
        "KEXTLAB",
        {"README.TXT": _README.encode("ascii")},
        recorded=(2026, 11, 21, 12, 0, 0),
        publisher="KEXTLAB",
    )


def write_sample_cd() -> None:
    """Remake the shipped ``kextlab-cd.iso`` (a maintainer's command)."""
    SAMPLE_CD.write_bytes(sample_cd())
