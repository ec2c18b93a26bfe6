"""Which disk a disk tool works on: the one named, or the first a test may write.

``diskspeed`` and ``rwfile`` write to a disk, so they are careful about which one.
Named (``disk1``, ``/dev/rdisk1``): that media, whole disk or partition.  Not named:
the first whole, writable disk in ``diskutil list`` order that is not a CD (a disk
that holds a partition map is skipped: it has someone's data).  A named whole disk
with a partition map is refused unless the caller forces it, for the same reason.

Threading rules: user code (the host).
"""

from __future__ import annotations

from kextlab.userland.devices import DiskInfo, list_disks
from kextlab.userland.iokitlib import mach_port_t

#: The content a whole disk carries when a partition map was found on it.
PARTITION_SCHEMES = ("GUID_partition_scheme", "Apple_partition_scheme", "FDisk_partition_scheme")


class DiskChoiceError(ValueError):
    """No disk fits, or the one named cannot be used; the message says why."""


def _has_partitions(disk: DiskInfo) -> bool:
    return disk.content in PARTITION_SCHEMES


def choose_disk(port: mach_port_t, name: str | None, *, force: bool = False) -> DiskInfo:
    """The disk to work on (see the module docstring)."""
    disks = list_disks(port)
    if name is not None:
        wanted = name.removeprefix("/dev/")
        if wanted.startswith("rdisk"):
            wanted = wanted[1:]
        for disk in disks:
            if disk.name == wanted:
                if not disk.writable:
                    raise DiskChoiceError(f"{disk.name} is not writable")
                if _has_partitions(disk) and not force:
                    raise DiskChoiceError(
                        f"{disk.name} holds a {disk.content}; pass --force to overwrite it"
                    )
                return disk
        names = ", ".join(disk.name for disk in disks) or "none"
        raise DiskChoiceError(f"no disk is called {name}; the disks are: {names}")
    for disk in disks:
        if disk.whole and disk.writable and not _has_partitions(disk):
            return disk
    raise DiskChoiceError("no blank writable disk on this machine; name one with --disk")
