"""Disk device nodes: what ``/dev/diskN`` and ``/dev/rdiskN`` are on a Mac.

Every ``IOMedia`` that IOStorageFamily's ``IOMediaBSDClient`` names (``BSD Name`` =
``disk2``, ``disk2s1`` ...) has two device nodes: the block device ``/dev/disk2`` and
the raw (character) device ``/dev/rdisk2``.  A user task opens one
(``open_device``) and reads and writes it at byte offsets; the kernel turns that
into ``IOMedia.read``/``write`` on behalf of the media's BSD client, exactly as
xnu's ``dkopen``/``dkreadwrite``/``dkclose`` (``IOMediaBSDClient.cpp``) do:

* **Opens** count per media and node kind; the levels of all opens combine by
  ``DK_ADD_ACCESS`` (readers, writers, ``O_SHLOCK``, ``O_EXLOCK``, which excludes
  every other open) and the BSD client holds the media open at the combined level,
  upgrading and downgrading it as files come and go (``EBUSY`` when the media
  refuses, ``EACCES`` for writing a read-only media, ``ENXIO`` for a name nothing
  has).  The media is closed when the last file of both kinds closes.
* **Transfers** keep BSD semantics: a zero-byte request is ``EINVAL``; a read at or
  past the end of the media reads nothing, a write there is ``EIO``; a transfer
  reaching past the end is clipped; the raw device wants offsets and lengths that
  are multiples of the block size (``EINVAL`` otherwise).  The block device also
  takes unaligned requests: the kernel reads the whole blocks around them into a
  bounce buffer (and, for a write, writes them back), as the buffer cache would.
* **Data** moves between the media and the *task's* memory: the kernel describes
  the program's buffer with ``IOMemoryDescriptor.withAddressRange(..., task)``, and
  the HBA's DMA lands in it.  ``preadinto``/``pwritefrom`` take a ``UserBuffer``
  (zero copy); ``pread``/``pwrite`` take and return Python bytes through a staging
  buffer in the task (one copy at the user boundary, as ``read(2)`` has).
* **Queue depth**: ``submit_read``/``submit_write`` start a transfer and return a
  ``DiskIO`` at once (``aio_read``); the media completes it from the driver's work
  loop, and the program waits with ``task.wait_any``/``wait_all``.  With 32 in
  flight the disk sees 32 commands at once.
* ``fsync`` is ``DKIOCSYNCHRONIZE``: ``IOMedia.synchronize``, which reaches the
  disk's SYNCHRONIZE CACHE.

Errors are ``OSError`` with the errno ``IOService::errnoFromReturn`` gives
(``EIO`` for ``kIOReturnIOError``, ``EROFS`` for ``kIOReturnNotWritable``, ``ENXIO``
for a missing or vanished media ...) and a message naming the device node.

``list_disks`` is ``diskutil list`` as data: every named media with its size, block
size, whether it is a whole disk, its content and its parent disk.

Departures: no buffer cache (block-device writes go straight to the media, so
``fsync`` only flushes the disk's own cache), no ``ioctl`` beyond the block size and
count and the cache flush, and asynchronous requests on the block device must be
block-aligned (they bypass the bounce buffer).

The kernel's half, xnu's device switch (``dkopen``, ``dkreadwrite``, the minor
table), is ``kextlab.userland.disk_switch``; this module is what a program calls.

Threading rules: user code (the host inside ``with task:``, or a user thread); the
kernel half runs as system calls of the task (``UserTask.syscall``); completions
run in the driver's work loop and only record and wake.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Final

from kextlab.kernel import ioreturn as r
from kextlab.userland.disk_switch import (
    O_EXLOCK,
    O_SHLOCK,
    MinorSlot,
    dkopen,
    dkreadwrite,
    dksubmit,
    dksynchronize,
    errnoFromReturn,
    last_close,
)
from kextlab.userland.iokitlib import (
    IORegistryEntryCreateCFProperties,
    IOServiceGetMatchingServices,
    mach_port_t,
)
from kextlab.userland.user_task import Completion, UserBuffer, UserTask

_RAW_PREFIX: Final = "r"
_DEV: Final = "/dev/"


def _error(code: int, device: str, what: str) -> OSError:
    return OSError(code, f"{device}: {what}: {os.strerror(code)}", device)


# -- asynchronous transfers ------------------------------------------------------------------------


class DiskIO(Completion):
    """An asynchronous transfer (``aio``): wait for it with the task's ``wait_any`` /
    ``wait_all``; ``result()`` is the byte count or raises ``OSError``."""

    def __init__(self, device: DiskDevice, reading: bool, offset: int, length: int) -> None:
        super().__init__(device.task)
        self.device = device
        self.reading = reading
        self.offset = offset
        self.length = length
        self.status = r.kIOReturnSuccess
        self.actualByteCount = 0

    def __repr__(self) -> str:
        kind = "read" if self.reading else "write"
        state = "done" if self.done else "in flight"
        return f"<DiskIO {kind} {self.device.path} @{self.offset:#x}+{self.length:#x} {state}>"

    def done_with(self, status: int, actualByteCount: int) -> None:
        """Record the outcome and wake waiters (any context; never blocks)."""
        self.status = status
        self.actualByteCount = actualByteCount
        self.finish()

    def result(self) -> int:
        """The bytes moved; ``OSError`` if the transfer failed."""
        if not self.done:
            raise ValueError(f"{self!r} has not finished: wait for it first")
        if self.status != r.kIOReturnSuccess:
            kind = "read" if self.reading else "write"
            raise _error(errnoFromReturn(self.status), self.device.path, f"{kind} at {self.offset}")
        return self.actualByteCount


def _parse_path(path: str) -> tuple[str, bool]:
    """``("disk2", raw)`` from ``/dev/rdisk2``, ``/dev/disk2``, ``rdisk2`` or ``disk2``."""
    name = path[len(_DEV) :] if path.startswith(_DEV) else path
    raw = name.startswith(_RAW_PREFIX + "disk")
    return (name[len(_RAW_PREFIX) :] if raw else name), raw


class DiskDevice:
    """An open device node: the file a program reads and writes a disk through."""

    def __init__(self, task: UserTask, path: str, minor: MinorSlot, raw: bool, flags: int) -> None:
        self.task = task
        self.path = path
        self.raw = raw
        self.flags = flags
        self._minor: MinorSlot | None = minor
        self._staging: UserBuffer | None = None
        #: DKIOCGETBLOCKSIZE and the media size, read at open.
        self.block_size = minor.media.getPreferredBlockSize()
        self.size = minor.media.getSize()

    def __repr__(self) -> str:
        state = "open" if self._minor is not None else "closed"
        return f"<DiskDevice {self.path} {state}>"

    @property
    def block_count(self) -> int:
        """DKIOCGETBLOCKCOUNT."""
        return self.size // self.block_size if self.block_size else 0

    def _open_minor(self) -> MinorSlot:
        if self._minor is None:
            raise _error(errno.EBADF, self.path, "the device is closed")
        return self._minor

    def _writable(self) -> None:
        if (self.flags & os.O_ACCMODE) == os.O_RDONLY:
            raise _error(errno.EBADF, self.path, "not open for writing")

    # -- synchronous transfers --------------------------------------------------------------------

    def preadinto(self, buffer: UserBuffer, offset: int, length: int | None = None) -> int:
        """Read ``length`` bytes (the buffer's length) at ``offset`` straight into the
        program's buffer; the count read (short at the end of the media)."""
        count = buffer.length if length is None else length
        if count < 0 or count > buffer.length:
            buffer._check(0, count)  # raises, naming the buffer
        return self._transfer(True, buffer.address, offset, count)

    def pwritefrom(self, buffer: UserBuffer, offset: int, length: int | None = None) -> int:
        """Write ``length`` bytes of the program's buffer at ``offset``; the count written."""
        self._writable()
        count = buffer.length if length is None else length
        if count < 0 or count > buffer.length:
            buffer._check(0, count)  # raises, naming the buffer
        return self._transfer(False, buffer.address, offset, count)

    def pread(self, length: int, offset: int) -> bytes:
        """``pread(2)``: up to ``length`` bytes at ``offset`` (a copy out of the task)."""
        self._open_minor()
        staging = self._staging_buffer(length)
        count = self._transfer(True, staging.address, offset, length)
        return staging.read(0, count)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> int:
        """``pwrite(2)``: write ``data`` at ``offset``; the count written."""
        self._writable()
        self._open_minor()
        staging = self._staging_buffer(len(data))
        if len(data):
            staging.write(data)
        return self._transfer(False, staging.address, offset, len(data))

    def _transfer(self, reading: bool, address: int, offset: int, length: int) -> int:
        minor = self._minor
        if minor is None:
            minor = self._open_minor()  # raises EBADF
        status, count = self.task.syscall(
            dkreadwrite, minor, self.raw, reading, self.task, address, offset, length
        )
        if status != r.kIOReturnSuccess:
            kind = "read" if reading else "write"
            raise _error(errnoFromReturn(status), self.path, f"{kind} of {length} at {offset}")
        return count

    def _staging_buffer(self, length: int) -> UserBuffer:
        staging = self._staging
        if staging is None or staging.length < length:
            if staging is not None:
                staging.deallocate()
            staging = self._staging = self.task.vm_allocate(max(length, 1))
        return staging

    # -- asynchronous transfers -------------------------------------------------------------------

    def submit_read(self, buffer: UserBuffer, offset: int, length: int | None = None) -> DiskIO:
        """Start reading into the program's buffer; returns at once (block-aligned)."""
        return self._submit(True, buffer, offset, length)

    def submit_write(self, buffer: UserBuffer, offset: int, length: int | None = None) -> DiskIO:
        """Start writing the program's buffer; returns at once (block-aligned)."""
        self._writable()
        return self._submit(False, buffer, offset, length)

    def _submit(self, reading: bool, buffer: UserBuffer, offset: int, length: int | None) -> DiskIO:
        minor = self._open_minor()
        count = buffer.length if length is None else length
        buffer._check(0, count)
        io = DiskIO(self, reading, offset, count)
        self.task.syscall(
            dksubmit, minor, self.raw, reading, self.task, io, buffer.address, offset, count
        )
        return io

    # -- the rest ---------------------------------------------------------------------------------

    def fsync(self) -> None:
        """Flush the disk's write cache (``DKIOCSYNCHRONIZE``)."""
        status = self.task.syscall(dksynchronize, self._open_minor())
        if status != r.kIOReturnSuccess:
            raise _error(errnoFromReturn(status), self.path, "synchronize")

    def close(self) -> None:
        """Close the node (the media is closed with the last file on it)."""
        minor, self._minor = self._minor, None
        if self._staging is not None:
            self._staging.deallocate()
            self._staging = None
        if minor is None:
            return
        self.task.remove_resource(self)
        self.task.syscall(last_close, self.task.kernel, minor, self.raw)

    def task_ended(self) -> None:
        """The task ended with the node open (runs as its system call)."""
        minor, self._minor = self._minor, None
        self._staging = None  # the task's memory goes with the task
        if minor is not None:
            last_close(self.task.kernel, minor, self.raw)

    def __enter__(self) -> DiskDevice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_device(task: UserTask, path: str, flags: int = os.O_RDONLY) -> DiskDevice:
    """Open ``/dev/diskN`` (block) or ``/dev/rdiskN`` (raw) for ``task``: ``flags`` are
    ``os.O_RDONLY``/``O_WRONLY``/``O_RDWR`` with ``O_SHLOCK``/``O_EXLOCK``.  ``OSError``
    (``ENXIO``, ``EBUSY``, ``EACCES``) when it cannot be opened."""
    name, raw = _parse_path(path)
    shown = f"{_DEV}{_RAW_PREFIX if raw else ''}{name}"
    code, minor = task.syscall(dkopen, task.kernel, name, raw, flags)
    if code or minor is None:
        raise _error(code or errno.ENXIO, shown, "open")
    device = DiskDevice(task, shown, minor, raw, flags)
    task.add_resource(device)
    return device


# -- diskutil list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiskInfo:
    """One named media, as ``diskutil list`` shows it."""

    name: str  # BSD name: disk2, disk2s1
    size: int  # bytes
    block_size: int
    whole: bool
    writable: bool
    content: str  # "GUID_partition_scheme", "Apple_HFS", a GUID ...
    parent: str | None  # the whole disk of a partition
    unit: int  # BSD Unit
    partition: int | None  # Partition ID

    @property
    def raw_path(self) -> str:
        return f"{_DEV}{_RAW_PREFIX}{self.name}"

    @property
    def path(self) -> str:
        return f"{_DEV}{self.name}"


def list_disks(port: mach_port_t) -> list[DiskInfo]:
    """Every media with a BSD name, whole disks in unit order, each followed by its
    partitions in partition order (what ``diskutil list`` walks)."""
    _, iterator = IOServiceGetMatchingServices(port, {"IOProviderClass": "IOMedia"})
    found = []
    while (handle := iterator.next()) is not None:
        _, properties = IORegistryEntryCreateCFProperties(handle)
        name = properties.get("BSD Name")
        if not isinstance(name, str):
            continue
        unit = properties.get("BSD Unit")
        partition = properties.get("Partition ID")
        whole = bool(properties.get("Whole", False))
        found.append(
            DiskInfo(
                name=name,
                size=_int(properties.get("Size")),
                block_size=_int(properties.get("Preferred Block Size")),
                whole=whole,
                writable=bool(properties.get("Writable", False)),
                content=str(properties.get("Content", "")),
                parent=None if whole else name.rsplit("s", 1)[0],
                unit=unit if isinstance(unit, int) else -1,
                partition=partition if isinstance(partition, int) else None,
            )
        )
    return sorted(
        found, key=lambda disk: (disk.unit, not disk.whole, disk.partition or 0, disk.name)
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


__all__ = [
    "O_EXLOCK",
    "O_SHLOCK",
    "DiskDevice",
    "DiskIO",
    "DiskInfo",
    "errnoFromReturn",
    "list_disks",
    "open_device",
]
