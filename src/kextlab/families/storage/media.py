"""IOMedia: a random-access disk device abstraction, whole or a partition.

Mirrors ``IOMedia.h``/``IOMedia.cpp`` of IOStorageFamily.  A media object is made
by a block storage driver (the whole disk, ``Whole`` = true) or by a partition
scheme (a partition: ``Whole`` = false, at ``Base`` bytes into its provider
media), initialised with ``init(base, size, preferredBlockSize, attributes, isWhole,
isWritable, contentHint)``, attached and registered.  It publishes what real dumps
show: ``Size``, ``Preferred Block Size``, ``Whole``, ``Writable``, ``Removable``,
``Ejectable``, ``Content``, ``Content Hint``, ``Leaf``, ``Open``; partition schemes
add ``Base``, ``Partition ID`` and ``UUID``, the BSD client ``BSD Name``, ``BSD
Unit``, ``BSD Major`` and ``BSD Minor``.  Matching compares those keys
(``matchPropertyTable``), so a personality's ``IOPropertyMatch`` of
``{"Whole" = Yes}`` or ``{"Content Hint" = "Apple_HFS"}`` works as on a Mac.

Content: when a storage driver (a client whose ``IOMatchCategory`` is
``IOStorage``: a partition scheme) attaches, the media is no longer a ``Leaf`` and
its ``Content`` becomes the driver's ``Content Mask`` (``"GUID_partition_scheme"``
...); when it detaches, ``Content`` goes back to the hint.  (Apple does this in
``attachToChild``/``detachFromChild``, which every attach reaches; kextlab's
registry calls them for ``IOStorage`` clients, which every storage driver here is.)

Opens
-----
Clients open a media object with an ``IOStorageAccess`` level: ``kIOStorageAccess
Reader``, ``kIOStorageAccessReaderWriter``, optionally with
``kIOStorageAccessSharedLock`` or ``kIOStorageAccessExclusiveLock``.  The levels of
all clients are combined by Apple's access table (``gIOMediaAccessTable``): readers
share with anyone but an exclusive lock; two plain writers exclude each other;
shared-lock writers (partition schemes opening the whole disk for their
partitions) share with one another; an exclusive lock excludes everyone.  The media
then holds one open on its provider at the combined reader/writer level (upgraded
and downgraded as clients come and go: ``Open`` shows it).  An exclusive writer of
the whole disk tears down the partition scheme on it (if no partition is in use),
and when a writer closes, the media is registered again so that a partition map it
wrote is scanned.  A terminated media only accepts downgrades.

Requests: ``read``/``write`` (``IOStorage``: synchronous without a completion,
asynchronous with one) check that the media is active, open (and for writing open
for writing and writable), formatted, and that the transfer lies inside it, then
pass it to the provider with ``Base`` added.  The errors are Apple's:
``kIOReturnNoMedia``, ``kIOReturnNotOpen``, ``kIOReturnNotPrivileged``,
``kIOReturnLockedWrite``, ``kIOReturnUnformattedMedia``, ``kIOReturnBadArgument``.

Threading rules: open and close from kernel threads (they may tear down or
re-register clients); ``read``/``write`` with a completion never block and may be
called from any kernel thread; the synchronous forms block the caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, overload

from kextlab.families.storage.storage import (
    IOStorage,
    IOStorageAttributes,
    IOStorageCompletion,
    IOStorageExtent,
    kIOStorageAccessInvalid,
    kIOStorageAccessNone,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
    kIOStorageAccessWriter,
    kIOStorageCategory,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnLockedWrite,
    kIOReturnNoMedia,
    kIOReturnNotOpen,
    kIOReturnNotPrivileged,
    kIOReturnUnformattedMedia,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.values import OSString
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.service.service import IOService, ScoreRef, kIOServiceAsynchronous

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.registry.plane import IORegistryPlane

__all__ = [
    "IOMedia",
    "kIOMediaAttributeEjectableMask",
    "kIOMediaAttributeRemovableMask",
    "kIOMediaClass",
    "kIOMediaContentHintKey",
    "kIOMediaContentKey",
    "kIOMediaContentMaskKey",
    "kIOMediaEjectableKey",
    "kIOMediaIconKey",
    "kIOMediaLeafKey",
    "kIOMediaOpenKey",
    "kIOMediaPreferredBlockSizeKey",
    "kIOMediaRemovableKey",
    "kIOMediaSizeKey",
    "kIOMediaUUIDKey",
    "kIOMediaWholeKey",
    "kIOMediaWritableKey",
]

kIOMediaClass: Final = "IOMedia"
kIOMediaContentKey: Final = "Content"
kIOMediaContentHintKey: Final = "Content Hint"
kIOMediaEjectableKey: Final = "Ejectable"
kIOMediaLeafKey: Final = "Leaf"
kIOMediaOpenKey: Final = "Open"
kIOMediaPreferredBlockSizeKey: Final = "Preferred Block Size"
kIOMediaRemovableKey: Final = "Removable"
kIOMediaSizeKey: Final = "Size"
kIOMediaUUIDKey: Final = "UUID"
kIOMediaWholeKey: Final = "Whole"
kIOMediaWritableKey: Final = "Writable"
kIOMediaContentMaskKey: Final = "Content Mask"
kIOMediaIconKey: Final = "IOMediaIcon"

# IOMediaAttributeMask
kIOMediaAttributeEjectableMask: Final = 0x00000001
kIOMediaAttributeRemovableMask: Final = 0x00000002
kIOMediaAttributeReservedMask: Final = 0xFFFFFFFC

#: ``gIOMediaAccessTable[new][held]``: the combined level, as an index (rows and
#: columns: Reader, Writer, R|Shared, W|Shared, R|Exclusive, W|Exclusive, Invalid,
#: None; the entries are Apple's octal values).
_ACCESS_TABLE: Final = (
    (0o00, 0o01, 0o02, 0o03, 0o06, 0o06, 0o06, 0o00),
    (0o11, 0o06, 0o11, 0o06, 0o06, 0o06, 0o06, 0o11),
    (0o02, 0o01, 0o02, 0o03, 0o06, 0o06, 0o06, 0o02),
    (0o03, 0o06, 0o03, 0o03, 0o06, 0o06, 0o06, 0o03),
    (0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o04),
    (0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o15),
    (0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06),
    (0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06, 0o06),
)


def combine_access(held: int, access: int) -> int:
    """``IOMediaAccess::operator+=``: the level of ``held`` plus one more client's
    ``access`` (``kIOStorageAccessInvalid`` when they cannot coexist)."""
    column = ((held - 1) >> 1) & 7
    value = _ACCESS_TABLE[((access - 1) >> 1) & 7][column]
    return ((value & 7) << 1) + 1


class IOMedia(IOStorage):
    """A disk, or a partition of one."""

    def __init__(self) -> None:
        super().__init__()
        self._mediaBase = 0
        self._mediaSize = 0
        self._preferredBlockSize = 0
        self._attributes = 0
        self._isWhole = False
        self._isWritable = False
        self._openClients: dict[IOService, int] | None = None
        self._openLevel = kIOStorageAccessNone
        self._mediaProbeList: list[IOService] = []
        self._mediaNeedRegisterService = False

    # -- initialisation ---------------------------------------------------------------------------

    @overload
    def init(
        self,
        dictionary: OSDictionary | IORegistryEntry | None = None,
        plane: IORegistryPlane | None = None,
    ) -> bool: ...

    @overload
    def init(
        self,
        dictionary: int,
        plane: int,
        preferredBlockSize: int,
        attributes: int,
        isWhole: bool,
        isWritable: bool,
        contentHint: str = "",
        properties: OSDictionary | None = None,
    ) -> bool: ...

    def init(self, *args: Any, **kwargs: Any) -> bool:
        """``init(base, size, preferredBlockSize, attributes, isWhole, isWritable,
        contentHint="", properties=None)``: set the media's geometry and properties
        (again, on a live media: its parameters changed).  ``init(dictionary)`` is
        IORegistryEntry's, for completeness."""
        if not args or not isinstance(args[0], int):
            return super().init(*args, **kwargs)
        return self._init_media(*args, **kwargs)

    def _init_media(
        self,
        base: int,
        size: int,
        preferredBlockSize: int,
        attributes: int,
        isWhole: bool,
        isWritable: bool,
        contentHint: str = "",
        properties: OSDictionary | None = None,
    ) -> bool:
        first = self._openClients is None
        changed = False
        if first:
            if not super().init(properties):
                return False
        else:
            changed = (
                self._mediaBase != base
                or self._mediaSize != size
                or self._preferredBlockSize != preferredBlockSize
                or self._isWritable != isWritable
            )
        ejectable = bool(attributes & kIOMediaAttributeEjectableMask)
        removable = bool(attributes & kIOMediaAttributeRemovableMask)
        if ejectable:
            attributes |= kIOMediaAttributeRemovableMask
            removable = True
        self._attributes = attributes
        self._mediaBase = base
        self._isWhole = isWhole
        self._isWritable = isWritable
        self._preferredBlockSize = preferredBlockSize
        self._mediaSize = size
        if first:
            self._openClients = {}
            self._openLevel = kIOStorageAccessNone
            self.setProperty(kIOMediaContentKey, contentHint)
            self.setProperty(kIOMediaLeafKey, True)
            self.setProperty(kIOMediaOpenKey, False)
        else:
            driver = self.copyClientWithCategory(kIOStorageCategory)
            mask = driver.getProperty(kIOMediaContentMaskKey) if driver is not None else None
            if not isinstance(mask, OSString):
                self.setProperty(kIOMediaContentKey, contentHint)
        self.setProperty(kIOMediaContentHintKey, contentHint)
        self.setProperty(kIOMediaEjectableKey, ejectable)
        self.setProperty(kIOMediaPreferredBlockSizeKey, preferredBlockSize, 64)
        self.setProperty(kIOMediaRemovableKey, removable)
        self.setProperty(kIOMediaSizeKey, size, 64)
        self.setProperty(kIOMediaWholeKey, isWhole)
        self.setProperty(kIOMediaWritableKey, isWritable)
        if changed:
            self._parameters_changed()
        return True

    def _parameters_changed(self) -> None:
        """The geometry of a live media changed: re-probe (no storage driver, or one
        that nobody holds open: torn down first) or tell the clients."""
        from kextlab.families.storage.block_storage_device import (
            kIOMessageMediaParametersHaveChanged,
        )

        if self.isInactive():
            return
        driver = self.copyClientWithCategory(kIOStorageCategory)
        if driver is not None:
            if self._openLevel == kIOStorageAccessNone:
                if driver.terminate():
                    self.registerService(kIOServiceAsynchronous)
            else:
                self.messageClients(kIOMessageMediaParametersHaveChanged)
        else:
            self.registerService(kIOServiceAsynchronous)
            self.messageClients(kIOMessageMediaParametersHaveChanged)

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        if not super().matchPropertyTable(table, score):
            return False
        return self.compareProperties(table, _MATCH_KEYS)

    # -- storage clients --------------------------------------------------------------------------

    def attachToChild(self, child: IORegistryEntry, plane: IORegistryPlane) -> bool:
        """A storage driver (``IOMatchCategory`` = ``IOStorage``) consumes the
        content: not a leaf any more, ``Content`` from its ``Content Mask``."""
        if not super().attachToChild(child, plane):
            return False
        category = child.getProperty("IOMatchCategory")
        if isinstance(category, OSString) and category.isEqualTo(kIOStorageCategory):
            self.setProperty(kIOMediaLeafKey, False)
            mask = child.getProperty(kIOMediaContentMaskKey)
            if isinstance(mask, OSString):
                self.setProperty(kIOMediaContentKey, mask.getCStringNoCopy())
        return True

    def detachFromChild(self, child: IORegistryEntry, plane: IORegistryPlane) -> None:
        """The storage driver left: the content is the hint again, and a leaf."""
        category = child.getProperty("IOMatchCategory")
        if isinstance(category, OSString) and category.isEqualTo(kIOStorageCategory):
            self.setProperty(kIOMediaContentKey, self.getContentHint())
            self.setProperty(kIOMediaLeafKey, True)

    # -- open and close ---------------------------------------------------------------------------

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        clients = self._openClients
        if clients is None:
            return False
        access_in = arg if isinstance(arg, int) else kIOStorageAccessNone
        held = clients.get(forClient, kIOStorageAccessNone)
        driver = self.copyClientWithCategory(kIOStorageCategory)
        level = kIOStorageAccessNone
        for client, access in clients.items():
            if client is not forClient:
                level = combine_access(level, access)
        level = combine_access(level, access_in)
        if level == kIOStorageAccessInvalid:
            return False
        teardown = rebuild = False
        if access_in & kIOStorageAccessWriter:
            if not self._isWritable:
                return False
            if not access_in & kIOStorageAccessSharedLock and driver is not None:
                teardown = driver is not forClient
        elif held & kIOStorageAccessWriter:
            rebuild = True
        if self.isInactive() and (
            held == kIOStorageAccessNone or access_in & kIOStorageAccessWriter
        ):
            return False
        if teardown:
            assert driver is not None
            if driver in clients or not driver.terminate():
                return False
        level &= kIOStorageAccessReaderWriter
        if self._openLevel != level:
            provider = self.getProvider()
            if isinstance(provider, IOStorage):
                if not provider.open(self, options, level):
                    if teardown:
                        self.registerService(kIOServiceAsynchronous)
                    return False
                self.setProperty(kIOMediaOpenKey, True)
        clients[forClient] = access_in
        self._openLevel = level
        if rebuild and not self.isInactive():
            if driver is None:
                self.registerService(kIOServiceAsynchronous)
            elif driver is not forClient and isinstance(driver, IOStorage):
                driver.requestProbe(0)
        return True

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        clients = self._openClients
        if not clients:
            return False
        return bool(clients) if forClient is None else forClient in clients

    def handleClose(self, forClient: IOService, options: int) -> None:
        clients = self._openClients
        if clients is None or forClient not in clients:
            return
        access = clients[forClient]
        driver = self.copyClientWithCategory(kIOStorageCategory)
        level = kIOStorageAccessNone
        for client, other in clients.items():
            if client is not forClient:
                level = combine_access(level, other)
        level &= kIOStorageAccessReaderWriter
        if self._openLevel != level:
            provider = self.getProvider()
            if isinstance(provider, IOStorage):
                if level == kIOStorageAccessNone:
                    provider.close(self, options)
                    self.setProperty(kIOMediaOpenKey, False)
                else:
                    provider.open(self, 0, level)
        del clients[forClient]
        self._openLevel = level
        if access & kIOStorageAccessWriter and not self.isInactive():
            if driver is None:
                self._mediaNeedRegisterService = True
            elif driver is not forClient and driver not in self._mediaProbeList:
                self._mediaProbeList.append(driver)

    def close(self, forClient: IOService, options: int = 0) -> None:
        """Close, then re-probe the storage driver or re-register the media if a
        writer just closed (its writes may have changed the content)."""
        super().close(forClient, options)
        while self._mediaProbeList:
            driver = self._mediaProbeList.pop(0)
            self._mediaNeedRegisterService = False
            if not self.isInactive() and isinstance(driver, IOStorage):
                driver.requestProbe(0)
        if self._mediaNeedRegisterService:
            self._mediaNeedRegisterService = False
            self.registerService(kIOServiceAsynchronous)

    # -- requests -------------------------------------------------------------------------------

    def _check(self, buffer: IOMemoryDescriptor | None, byteStart: int, direction: int) -> int:
        """Apple's checks of ``read``/``write`` (0 when the request may proceed)."""
        if self.isInactive():
            return kIOReturnNoMedia
        if self._openLevel == kIOStorageAccessNone:
            return kIOReturnNotOpen
        if direction == kIODirectionOut:
            if self._openLevel == kIOStorageAccessReader:
                return kIOReturnNotPrivileged
            if not self._isWritable:
                return kIOReturnLockedWrite
        if self._mediaSize == 0 or self._preferredBlockSize == 0:
            return kIOReturnUnformattedMedia
        if buffer is None or buffer.getDirection() != direction:
            return kIOReturnBadArgument
        if byteStart < 0 or self._mediaSize < byteStart:
            return kIOReturnBadArgument
        if self._mediaSize - byteStart < buffer.getLength():
            return kIOReturnBadArgument
        return 0

    def read_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        status = self._check(buffer, byteStart, kIODirectionIn)
        if status:
            IOStorage.complete(completion, status)
            return
        provider = self.getProvider()
        if not isinstance(provider, IOStorage):
            IOStorage.complete(completion, kIOReturnNoMedia)
            return
        provider.read_async(self, byteStart + self._mediaBase, buffer, attributes, completion)

    def write_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        status = self._check(buffer, byteStart, kIODirectionOut)
        if status:
            IOStorage.complete(completion, status)
            return
        provider = self.getProvider()
        if not isinstance(provider, IOStorage):
            IOStorage.complete(completion, kIOReturnNoMedia)
            return
        provider.write_async(self, byteStart + self._mediaBase, buffer, attributes, completion)

    def _check_write_access(self) -> int:
        if self.isInactive():
            return kIOReturnNoMedia
        if self._openLevel == kIOStorageAccessNone:
            return kIOReturnNotOpen
        if self._openLevel == kIOStorageAccessReader:
            return kIOReturnNotPrivileged
        if not self._isWritable:
            return kIOReturnLockedWrite
        if self._mediaSize == 0 or self._preferredBlockSize == 0:
            return kIOReturnUnformattedMedia
        return 0

    def synchronize(
        self, client: IOService, byteStart: int = 0, byteCount: int = 0, options: int = 0
    ) -> int:
        """Flush cached writes in the range (all of them for a count of 0)."""
        status = self._check_write_access()
        if status:
            return status
        if self._mediaSize < byteStart or self._mediaSize - byteStart < byteCount:
            return kIOReturnBadArgument
        provider = self.getProvider()
        if not isinstance(provider, IOStorage):
            return kIOReturnNoMedia
        return provider.synchronize(self, byteStart + self._mediaBase, byteCount, options)

    def unmap(
        self,
        client: IOService,
        extents: list[IOStorageExtent],
        extentsCount: int,
        options: int = 0,
    ) -> int:
        status = self._check_write_access()
        if status:
            return status
        shifted = []
        for extent in extents[:extentsCount]:
            if (
                self._mediaSize < extent.byteStart
                or self._mediaSize - extent.byteStart < extent.byteCount
            ):
                return kIOReturnBadArgument
            shifted.append(IOStorageExtent(extent.byteStart + self._mediaBase, extent.byteCount))
        provider = self.getProvider()
        if not isinstance(provider, IOStorage):
            return kIOReturnNoMedia
        return provider.unmap(self, shifted, len(shifted), options)

    # -- what the media is ------------------------------------------------------------------------

    def getPreferredBlockSize(self) -> int:
        return self._preferredBlockSize

    def getSize(self) -> int:
        return self._mediaSize

    def getBase(self) -> int:
        """The byte offset in the provider media (0 for a whole disk)."""
        return self._mediaBase

    def getAttributes(self) -> int:
        return self._attributes

    def isEjectable(self) -> bool:
        return bool(self._attributes & kIOMediaAttributeEjectableMask)

    def isFormatted(self) -> bool:
        return bool(self._mediaSize and self._preferredBlockSize)

    def isWritable(self) -> bool:
        return self._isWritable

    def isWhole(self) -> bool:
        return self._isWhole

    def getContent(self) -> str:
        """What the media holds, as its storage driver says (else the hint)."""
        value = self.getProperty(kIOMediaContentKey)
        return value.getCStringNoCopy() if isinstance(value, OSString) else ""

    def getContentHint(self) -> str:
        """What the media's creator thought it holds (fixed for its lifetime)."""
        value = self.getProperty(kIOMediaContentHintKey)
        return value.getCStringNoCopy() if isinstance(value, OSString) else ""

    def free(self) -> None:
        self._openClients = None
        self._mediaProbeList.clear()
        super().free()


_MATCH_KEYS: Final = [
    kIOMediaContentKey,
    kIOMediaContentHintKey,
    kIOMediaEjectableKey,
    kIOMediaLeafKey,
    kIOMediaOpenKey,
    kIOMediaPreferredBlockSizeKey,
    kIOMediaRemovableKey,
    kIOMediaSizeKey,
    kIOMediaUUIDKey,
    kIOMediaWholeKey,
    kIOMediaWritableKey,
]
