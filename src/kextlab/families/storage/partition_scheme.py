"""IOPartitionScheme: the storage driver that splits a media object into partitions.

Mirrors ``IOPartitionScheme.h``/``.cpp`` of IOStorageFamily.  A scheme is a client of
an ``IOMedia`` (matched with ``IOMatchCategory`` = ``IOStorage``: one storage driver
per media) and the provider of one ``IOMedia`` per partition.  This class owns what
every scheme shares:

* **opens**, multiplexed: each partition opens the scheme as a reader or a
  reader-writer; the scheme holds one open on the media below at the highest level
  any partition needs, always with ``kIOStorageAccessSharedLock`` (so that several
  partitions may be written at once, while an exclusive writer of the whole disk is
  kept out), upgraded and downgraded as partitions open and close;
* **requests**, passed through to the media below (a partition media has already
  added its ``Base``);
* the **scan template** (in Apple's subclasses, written out in each one; the same
  code, so kextlab keeps it here): ``probe`` asks ``scan(score)`` for the partitions
  (``None``: no map of this kind, the probe fails and a scheme of lower score is
  tried), ``start`` attaches and registers them (and wires them into the
  IODeviceTree plane below a media that is there), ``stop`` unwires them;
* ``read_map``: the synchronous read a scan makes through its media, into a buffer.

Each partition media carries ``Base`` (bytes from the start of the scheme's media),
``Partition ID`` (its number in the map), a location equal to that number and a
name from the map or ``"Untitled <n>"``; its ``Content Hint`` is what the map says
it holds.  The scheme's ``Content Mask`` (from its personality) becomes the
``Content`` of the media it splits (``IOMedia.attachToChild``).

``requestProbe`` (what a media asks of its scheme when a writer that may have
rewritten the map closes) rescans by terminating the scheme with
``kIOServiceTerminateWithRematch``, so that matching scans the media afresh, unless a
partition is in use (then ``kIOReturnBusy``).  Apple instead rescans in place and
reconciles old and new partitions (``juxtaposeMediaObjects``); kextlab does not.

Threading rules: ``probe``/``start``/``stop`` run on config and terminate threads
and block (the scan reads the disk); opens from kernel threads; requests never block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    IOStorage,
    IOStorageAttributes,
    IOStorageCompletion,
    IOStorageExtent,
    kIOStorageAccessNone,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
)
from kextlab.kernel.ioreturn import kIOReturnBusy, kIOReturnNoMedia, kIOReturnSuccess
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService, ScoreRef, kIOServiceTerminateWithRematch

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

__all__ = [
    "IOPartitionScheme",
    "kIOMediaBaseKey",
    "kIOMediaLiveKey",
    "kIOMediaPartitionIDKey",
    "kIOPartitionSchemeClass",
]

kIOPartitionSchemeClass: Final = "IOPartitionScheme"
kIOMediaBaseKey: Final = "Base"
kIOMediaLiveKey: Final = "Live"
kIOMediaPartitionIDKey: Final = "Partition ID"


def round_up(value: int, multiple: int) -> int:
    """``IORound``: ``value`` rounded up to a multiple of ``multiple``."""
    return -(-value // multiple) * multiple


class IOPartitionScheme(IOStorage):
    """A storage driver splitting its media into partition media."""

    def __init__(self) -> None:
        super().__init__()
        self._openLevel = kIOStorageAccessNone
        self._openReaders: list[IOService] = []
        self._openReaderWriters: list[IOService] = []
        self._partitions: list[IOMedia] | None = None

    def getProvider(self) -> IOMedia | None:
        provider = super().getProvider()
        return provider if isinstance(provider, IOMedia) else None

    # -- the scan template ------------------------------------------------------------------------

    def scan(self, score: ScoreRef) -> list[IOMedia] | None:
        """The partitions of the provider media (created, not attached), or None if it
        holds no map of this scheme's kind.  A subclass implements it."""
        return None

    def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
        if super().probe(provider, score) is None:
            return None
        self._release_partitions()
        self._partitions = self.scan(score)
        return self if self._partitions is not None else None

    def start(self, provider: IOService) -> bool:
        if self._partitions is None or not super().start(provider):
            return False
        for partition in self._partitions:
            if partition.attach(self):
                self.attachMediaObjectToDeviceTree(partition)
                partition.registerService()
        return True

    def stop(self, provider: IOService) -> None:
        for partition in self._partitions or []:
            self.detachMediaObjectFromDeviceTree(partition)
        super().stop(provider)

    def free(self) -> None:
        self._release_partitions()
        self._openReaders.clear()
        self._openReaderWriters.clear()
        super().free()

    def _release_partitions(self) -> None:
        for partition in self._partitions or []:
            partition.release()
        self._partitions = None

    def read_map(self, byteStart: int, length: int) -> IOBufferMemoryDescriptor | None:
        """Read ``length`` bytes at ``byteStart`` of the provider media into a new
        buffer (the caller releases it); None if the read fails."""
        media = self.getProvider()
        if media is None:
            return None
        buffer = IOBufferMemoryDescriptor.withCapacity(length, kIODirectionIn)
        if buffer is None:
            return None
        status, _ = media.read(self, byteStart, buffer)
        if status != kIOReturnSuccess:
            buffer.release()
            return None
        return buffer

    def requestProbe(self, options: int) -> int:
        """Rescan the map: terminate and rematch the media (see the module)."""
        if self.isInactive():
            return kIOReturnSuccess
        if any(self.handleIsOpen(partition) for partition in self._partitions or []):
            return kIOReturnBusy
        self.terminate(kIOServiceTerminateWithRematch)
        return kIOReturnSuccess

    # -- the device tree -----------------------------------------------------------------------

    def attachMediaObjectToDeviceTree(self, media: IOMedia) -> bool:
        """Put a partition in the IODeviceTree plane beside the media it splits, when
        that media is there (``<unit>:<partition>``)."""
        registry = self.registry
        if registry is None:
            return False
        plane = registry.plane(kIODeviceTreePlane)
        parent: IOService | None = self.getProvider()
        while parent is not None:
            if parent.inPlane(plane):
                location = parent.getLocation(plane)
                name = parent.getName(plane)
                if location is None or not isinstance(parent, IOMedia):
                    return False
                above = parent.getParentEntry(plane)
                if above is None or not media.attachToParent(above, plane):
                    return False
                prefix = location[: location.index(":") + 1] if ":" in location else location
                media.setLocation(prefix + (media.getLocation() or ""), plane)
                media.setName(name, plane)
                return True
            parent = parent.getProvider()
        return False

    def detachMediaObjectFromDeviceTree(self, media: IOMedia) -> None:
        registry = media.registry
        if registry is None:
            return
        plane = registry.plane(kIODeviceTreePlane)
        parent = media.getParentEntry(plane)
        if parent is not None:
            media.detachFromParent(parent, plane)

    # -- opens ------------------------------------------------------------------------------------

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        access = arg if isinstance(arg, int) else kIOStorageAccessReader
        writers = len(self._openReaderWriters)
        if forClient in self._openReaderWriters:
            writers -= 1
        if access == kIOStorageAccessReaderWriter:
            writers += 1
        level = kIOStorageAccessReaderWriter if writers else kIOStorageAccessReader
        if self._openLevel != level:
            provider = self.getProvider()
            if provider is not None and not provider.open(
                self, options, level | kIOStorageAccessSharedLock
            ):
                return False
        if access == kIOStorageAccessReaderWriter:
            if forClient in self._openReaders:
                self._openReaders.remove(forClient)
            if forClient not in self._openReaderWriters:
                self._openReaderWriters.append(forClient)
        else:
            if forClient in self._openReaderWriters:
                self._openReaderWriters.remove(forClient)
            if forClient not in self._openReaders:
                self._openReaders.append(forClient)
        self._openLevel = level
        return True

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        if forClient is None:
            return self._openLevel != kIOStorageAccessNone
        return forClient in self._openReaderWriters or forClient in self._openReaders

    def handleClose(self, forClient: IOService, options: int) -> None:
        if forClient in self._openReaderWriters:
            self._openReaderWriters.remove(forClient)
        elif forClient in self._openReaders:
            self._openReaders.remove(forClient)
        else:
            return
        if self._openReaderWriters:
            level = kIOStorageAccessReaderWriter
        elif self._openReaders:
            level = kIOStorageAccessReader
        else:
            level = kIOStorageAccessNone
        if self._openLevel != level:
            provider = self.getProvider()
            if provider is not None:
                if level == kIOStorageAccessNone:
                    provider.close(self, options)
                else:
                    provider.open(self, 0, level | kIOStorageAccessSharedLock)
            self._openLevel = level

    # -- requests: straight through to the media below -------------------------------------------

    def read_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        provider = self.getProvider()
        if provider is None:
            IOStorage.complete(completion, kIOReturnNoMedia)
            return
        provider.read_async(self, byteStart, buffer, attributes, completion)

    def write_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        provider = self.getProvider()
        if provider is None:
            IOStorage.complete(completion, kIOReturnNoMedia)
            return
        provider.write_async(self, byteStart, buffer, attributes, completion)

    def synchronize(
        self, client: IOService, byteStart: int = 0, byteCount: int = 0, options: int = 0
    ) -> int:
        provider = self.getProvider()
        if provider is None:
            return kIOReturnNoMedia
        return provider.synchronize(self, byteStart, byteCount, options)

    def unmap(
        self,
        client: IOService,
        extents: list[IOStorageExtent],
        extentsCount: int,
        options: int = 0,
    ) -> int:
        provider = self.getProvider()
        if provider is None:
            return kIOReturnNoMedia
        return provider.unmap(self, extents, extentsCount, options)


def new_partition(
    scheme: IOPartitionScheme,
    base: int,
    size: int,
    hint: str,
    name: str,
    partition_id: int,
    writable: bool | None = None,
) -> IOMedia | None:
    """A partition media of ``scheme``'s provider (Apple's ``instantiateMediaObject``
    of each scheme, the common part): geometry, name, location, ``Base`` and
    ``Partition ID``."""
    media = scheme.getProvider()
    if media is None:
        return None
    partition = IOMedia()
    if not partition.init(
        base,
        size,
        media.getPreferredBlockSize(),
        media.getAttributes(),
        False,
        media.isWritable() if writable is None else writable,
        hint,
    ):
        partition.release()
        return None
    partition.setName(name or f"Untitled {partition_id}")
    partition.setLocation(str(partition_id))
    partition.setProperty(kIOMediaBaseKey, base, 64)
    partition.setProperty(kIOMediaPartitionIDKey, partition_id, 32)
    return partition
