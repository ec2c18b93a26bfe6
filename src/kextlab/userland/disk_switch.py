"""The kernel's half of the disk device nodes: xnu's BSD disk device switch.

Mirrors ``dkopen``, ``dkclose``, ``dkreadwrite``, ``dkreadwritecompletion``,
``DK_ADD_ACCESS`` and the minor table of ``IOMediaBSDClient.cpp`` (IOStorageFamily),
and ``IOService::errnoFromReturn`` (xnu ``IOService.cpp``).  IOStorageFamily's
``IOMediaBSDClient`` names media and numbers them; kextlab has no BSD layer, so the
device switch that turns opens, reads and writes of ``/dev/diskN`` and ``/dev/rdiskN``
into ``IOMedia`` calls lives here, run by ``kextlab.userland.devices`` as system
calls of the user task (``UserTask.syscall``).  See that module for the semantics
(open levels, BSD's end-of-media and alignment rules, the bounce buffer of the
block device, asynchronous transfers).

The minor table (each named media's BSD client and the open counts and levels of
its block and raw nodes) is per machine, in the scheduler's ``extensions`` under
``"userland.devices"``.

Threading rules: kernel threads (a task's system calls): ``dkopen``/``dkclose`` may
block (the media opens its provider), ``dkreadwrite`` blocks until the transfer is
done, ``dksubmit`` does not; ``_dkreadwritecompletion`` runs in the driver's work
loop and never blocks.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    IOStorageCompletion,
    kIOStorageAccessExclusiveLock,
    kIOStorageAccessNone,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
)
from kextlab.kernel import ioreturn as r
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.kernel.kernel import Kernel
    from kextlab.userland.user_task import UserTask


class TransferDone(Protocol):
    """What an asynchronous transfer reports its outcome to (``devices.DiskIO``)."""

    def done_with(self, status: int, actualByteCount: int) -> None: ...


#: Where the minor table lives in ``Scheduler.extensions``.
DEVICES_EXTENSION: Final = "userland.devices"
#: ``open`` flags of a Mac that Linux's ``os`` does not have (``<sys/fcntl.h>``).
O_SHLOCK: Final = 0x0000_0010
O_EXLOCK: Final = 0x0000_0020
#: The BSD client's class (``IOMediaBSDClient``).
BSD_CLIENT_CLASS: Final = "IOMediaBSDClient"


# -- IOReturn to errno ----------------------------------------------------------------------------

_ERRNO: Final = {
    r.kIOReturnSuccess: 0,
    r.kIOReturnNoMemory: errno.ENOMEM,
    r.kIOReturnNoDevice: errno.ENXIO,
    r.kIOReturnVMError: errno.EFAULT,
    r.kIOReturnNotPermitted: errno.EPERM,
    r.kIOReturnNotPrivileged: errno.EACCES,
    r.kIOReturnIOError: errno.EIO,
    r.kIOReturnNotWritable: errno.EROFS,
    r.kIOReturnBadArgument: errno.EINVAL,
    r.kIOReturnUnsupported: errno.ENOTSUP,
    r.kIOReturnBusy: errno.EBUSY,
    r.kIOReturnNoPower: getattr(errno, "EPWROFF", errno.EIO),
    r.kIOReturnDeviceError: getattr(errno, "EDEVERR", errno.EIO),
    r.kIOReturnTimeout: errno.ETIMEDOUT,
    r.kIOReturnMessageTooLarge: errno.EMSGSIZE,
    r.kIOReturnNoSpace: errno.ENOSPC,
    r.kIOReturnCannotLock: errno.ENOLCK,
    r.kIOReturnBadMessageID: errno.EINVAL,
    r.kIOReturnNoCompletion: errno.EINVAL,
    r.kIOReturnNotAligned: errno.EINVAL,
    r.kIOReturnNotReady: errno.EBUSY,
    r.kIOReturnRLDError: getattr(errno, "EBADMACHO", errno.EIO),
    r.kIOReturnPortExists: errno.EEXIST,
    r.kIOReturnStillOpen: errno.EEXIST,
    r.kIOReturnExclusiveAccess: errno.EACCES,
    r.kIOReturnLockedRead: errno.EACCES,
    r.kIOReturnLockedWrite: errno.EACCES,
    r.kIOReturnNotOpen: errno.EACCES,
    r.kIOReturnNotReadable: errno.EACCES,
    r.kIOReturnCannotWire: errno.ENOMEM,
    r.kIOReturnNoResources: errno.ENOMEM,
    r.kIOReturnAborted: errno.EBUSY,
    r.kIOReturnOffline: errno.EBUSY,
    r.kIOReturnNotResponding: errno.EBUSY,
    r.kIOReturnBadMedia: errno.ENXIO,
    r.kIOReturnNoMedia: errno.ENXIO,
    r.kIOReturnNotAttached: errno.ENXIO,
    r.kIOReturnUnformattedMedia: errno.ENXIO,
}


def errnoFromReturn(rtn: int) -> int:
    """``IOService::errnoFromReturn``: the errno for an ``IOReturn`` (EIO for the rest)."""
    code = rtn & 0x3FFF
    if rtn == (3 << 14) | code:  # unix_err(code): an errno already
        return code
    return _ERRNO.get(rtn, errno.EIO)


# -- the minor table, dkopen and dkclose ----------------------------------------------------------


def DK_ADD_ACCESS(a1: int, a2: int) -> int:
    """Combine two BSD open levels (``IOMediaBSDClient.cpp``); None-able as 0."""
    table = ((0, 1, 2, 3), (1, 1, 1, 1), (2, 1, 2, 3), (3, 1, 3, 3))
    if a1 == kIOStorageAccessNone:
        return a2
    if a2 == kIOStorageAccessNone:
        return a1
    index1, index2 = (a1 - 1) >> 1, (a2 - 1) >> 1
    if index1 > 3 or index2 > 3:
        return kIOStorageAccessNone
    return (table[index1][index2] << 1) + 1


@dataclass
class MinorSlot:
    """One media's BSD state: its client and the opens of each node kind."""

    media: IOMedia
    client: IOService
    name: str
    bdevOpen: int = 0
    bdevOpenLevel: int = kIOStorageAccessNone
    cdevOpen: int = 0
    cdevOpenLevel: int = kIOStorageAccessNone


@dataclass
class DeviceTable:
    """The machine's minor table, by media."""

    minors: dict[int, MinorSlot] = field(default_factory=dict)

    def slot(self, media: IOMedia, client: IOService, name: str) -> MinorSlot:
        key = media.getRegistryEntryID()
        found = self.minors.get(key)
        if found is None:
            found = self.minors[key] = MinorSlot(media, client, name)
        return found

    def forget(self, slot: MinorSlot) -> None:
        if not slot.bdevOpen and not slot.cdevOpen:
            self.minors.pop(slot.media.getRegistryEntryID(), None)


def device_table(kernel: Kernel) -> DeviceTable:
    table = kernel.scheduler.extensions.get(DEVICES_EXTENSION)
    if not isinstance(table, DeviceTable):
        table = DeviceTable()
        kernel.scheduler.extensions[DEVICES_EXTENSION] = table
    return table


def find_media(kernel: Kernel, name: str) -> tuple[IOMedia, IOService] | None:
    """The active media whose ``BSD Name`` is ``name`` and its BSD client."""
    plane = kernel.registry.plane(kIOServicePlane)
    for entry in kernel.registry.getRoot().iterate(plane, recursive=True):
        if not isinstance(entry, IOMedia) or entry.isInactive():
            continue
        value = entry.getProperty("BSD Name")
        if value is None or str(value) != name:
            continue
        for client in entry.getClients():
            if client.metaCast(BSD_CLIENT_CLASS) is not None and not client.isInactive():
                return entry, client
    return None


def dkopen(kernel: Kernel, name: str, raw: bool, flags: int) -> tuple[int, MinorSlot | None]:
    """``dkopen``: ``(errno, minor)``."""
    found = find_media(kernel, name)
    if found is None:
        return errno.ENXIO, None
    media, client = found
    table = device_table(kernel)
    minor = table.slot(media, client, name)
    writing = (flags & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)
    access = kIOStorageAccessReader
    access |= kIOStorageAccessReaderWriter if writing else 0
    access |= kIOStorageAccessSharedLock if flags & O_SHLOCK else 0
    access |= kIOStorageAccessExclusiveLock if flags & O_EXLOCK else 0
    level = DK_ADD_ACCESS(minor.bdevOpenLevel, minor.cdevOpenLevel)
    level_out = DK_ADD_ACCESS(level, access)
    if level_out == kIOStorageAccessNone:
        table.forget(minor)
        return errno.EBUSY, None
    if writing and not media.isWritable():
        table.forget(minor)
        return errno.EACCES, None
    if raw:
        minor.cdevOpen += 1
        was, minor.cdevOpenLevel = minor.cdevOpenLevel, DK_ADD_ACCESS(minor.cdevOpenLevel, access)
    else:
        minor.bdevOpen += 1
        was, minor.bdevOpenLevel = minor.bdevOpenLevel, DK_ADD_ACCESS(minor.bdevOpenLevel, access)
    if level != level_out and not media.open(client, 0, level_out):
        if raw:
            minor.cdevOpen -= 1
            minor.cdevOpenLevel = was
        else:
            minor.bdevOpen -= 1
            minor.bdevOpenLevel = was
        table.forget(minor)
        return errno.EBUSY, None
    return 0, minor


def dkclose(kernel: Kernel, minor: MinorSlot, raw: bool) -> None:
    """``dkclose`` (the last close of one node kind)."""
    level = DK_ADD_ACCESS(minor.bdevOpenLevel, minor.cdevOpenLevel)
    if raw:
        minor.cdevOpen, minor.cdevOpenLevel = 0, kIOStorageAccessNone
    else:
        minor.bdevOpen, minor.bdevOpenLevel = 0, kIOStorageAccessNone
    level_out = DK_ADD_ACCESS(minor.bdevOpenLevel, minor.cdevOpenLevel)
    if not minor.bdevOpen and not minor.cdevOpen:
        device_table(kernel).forget(minor)
        minor.media.close(minor.client)
    elif level != level_out:
        minor.media.open(minor.client, 0, level_out)


def last_close(kernel: Kernel, minor: MinorSlot, raw: bool) -> None:
    """A file of the node closes; the last of its kind makes VFS call ``dkclose``."""
    if raw:
        minor.cdevOpen -= 1
        last = minor.cdevOpen == 0
    else:
        minor.bdevOpen -= 1
        last = minor.bdevOpen == 0
    if last:
        dkclose(kernel, minor, raw)


def _clip(media: IOMedia, offset: int, length: int, reading: bool) -> tuple[int, int]:
    """BSD's end-of-media rules: ``(IOReturn, bytes to move)``."""
    if length == 0 or offset < 0:
        return r.kIOReturnBadArgument, 0
    size = media.getSize()
    if offset >= size:
        return (r.kIOReturnSuccess if reading else r.kIOReturnIOError), 0
    return r.kIOReturnSuccess, min(length, size - offset)


def dkreadwrite(
    minor: MinorSlot,
    raw: bool,
    reading: bool,
    task: UserTask,
    address: int,
    offset: int,
    length: int,
) -> tuple[int, int]:
    """``dkreadwrite`` for a synchronous transfer to or from the task's memory at
    ``address``: ``(IOReturn, bytes moved)``."""
    media = minor.media
    if media.isInactive():
        return r.kIOReturnNoMedia, 0
    if not media.isFormatted():
        return r.kIOReturnUnformattedMedia, 0
    if length > 0 and offset >= 0 and offset + length <= media.getSize():
        count = length  # all of it lies inside the media (``_clip``'s usual answer)
    else:
        status, count = _clip(media, offset, length, reading)
        if status != r.kIOReturnSuccess or count == 0:
            return status, 0
    block = media.getPreferredBlockSize()
    if offset % block or count % block:
        if raw:
            return r.kIOReturnNotAligned, 0
        return _bounced(minor, reading, task, address, offset, count, block)
    direction = kIODirectionIn if reading else kIODirectionOut
    buffer = IOMemoryDescriptor.withAddressRange(address, count, direction, task)
    if buffer is None:
        return r.kIOReturnNoMemory, 0
    try:
        if buffer.prepare() != r.kIOReturnSuccess:
            return r.kIOReturnVMError, 0
        try:
            if reading:
                return media.read(minor.client, offset, buffer)
            return media.write(minor.client, offset, buffer)
        finally:
            buffer.complete()
    finally:
        buffer.release()


def _bounced(
    minor: MinorSlot,
    reading: bool,
    task: UserTask,
    address: int,
    offset: int,
    count: int,
    block: int,
) -> tuple[int, int]:
    """An unaligned block-device transfer through whole blocks in a kernel buffer."""
    media = minor.media
    start = offset - offset % block
    end = min(-(-(offset + count) // block) * block, media.getSize())
    bounce = IOBufferMemoryDescriptor.withCapacity(end - start, kIODirectionIn)
    user = IOMemoryDescriptor.withAddressRange(
        address, count, kIODirectionIn if reading else kIODirectionOut, task
    )
    if bounce is None or user is None:
        for made in (bounce, user):
            if made is not None:
                made.release()
        return r.kIOReturnNoMemory, 0
    try:
        if user.prepare() != r.kIOReturnSuccess:
            return r.kIOReturnVMError, 0
        try:
            status, _ = media.read(minor.client, start, bounce)
            if status != r.kIOReturnSuccess:
                return status, 0
            inside = bounce.getBytesNoCopy()[offset - start : offset - start + count]
            if reading:
                user.writeBytes(0, inside, count)
                return r.kIOReturnSuccess, count
            user.readBytes(0, inside, count)
            bounce.setDirection(kIODirectionOut)
            status, _ = media.write(minor.client, start, bounce)
            return status, count if status == r.kIOReturnSuccess else 0
        finally:
            user.complete()
    finally:
        bounce.release()
        user.release()


def dksubmit(
    minor: MinorSlot,
    raw: bool,
    reading: bool,
    task: UserTask,
    io: TransferDone,
    address: int,
    offset: int,
    length: int,
) -> None:
    """``dkreadwrite`` for an asynchronous transfer: ``io`` finishes from the media's
    completion (or at once when the request is refused or empty)."""
    media = minor.media
    status, count = _clip(media, offset, length, reading)
    if media.isInactive():
        status, count = r.kIOReturnNoMedia, 0
    if status != r.kIOReturnSuccess or count == 0:
        io.done_with(status, 0)
        return
    block = media.getPreferredBlockSize()
    if offset % block or count % block:
        io.done_with(r.kIOReturnNotAligned, 0)
        return
    direction = kIODirectionIn if reading else kIODirectionOut
    buffer = IOMemoryDescriptor.withAddressRange(address, count, direction, task)
    if buffer is None:
        io.done_with(r.kIOReturnNoMemory, 0)
        return
    if buffer.prepare() != r.kIOReturnSuccess:
        buffer.release()
        io.done_with(r.kIOReturnVMError, 0)
        return
    completion = IOStorageCompletion(io, _dkreadwritecompletion, buffer)
    if reading:
        media.read(minor.client, offset, buffer, None, completion)
    else:
        media.write(minor.client, offset, buffer, None, completion)


def _dkreadwritecompletion(
    target: TransferDone, parameter: IOMemoryDescriptor, status: int, actualByteCount: int
) -> None:
    """``dkreadwritecompletion``: unwire the program's buffer, finish the request."""
    parameter.complete()
    parameter.release()
    target.done_with(status, actualByteCount)


def dksynchronize(minor: MinorSlot) -> int:
    """``DKIOCSYNCHRONIZE``: flush the media's cached writes."""
    if minor.media.isInactive():
        return r.kIOReturnNoMedia
    return minor.media.synchronize(minor.client, 0, 0, 0)


__all__ = [
    "BSD_CLIENT_CLASS",
    "DK_ADD_ACCESS",
    "O_EXLOCK",
    "O_SHLOCK",
    "MinorSlot",
    "TransferDone",
    "dkclose",
    "dkopen",
    "dkreadwrite",
    "dksubmit",
    "dksynchronize",
    "errnoFromReturn",
    "find_media",
    "last_close",
]
