"""IOStorage: the abstract storage object, and the types every storage request uses.

Mirrors ``IOStorage.h``/``IOStorage.cpp`` of IOStorageFamily.  This module owns:

* the request types: ``IOStorageAttributes`` (options, priority, the reserved
  fields a driver checks), ``IOStorageCompletion`` (``target``, ``action``,
  ``parameter``; ``action(target, parameter, status, actualByteCount)``) and
  ``IOStorageExtent``;
* the constants of the header, with Apple's values: ``kIOStorageAccess*`` (open
  levels), ``kIOStorageOption*``, ``kIOStoragePriority*``,
  ``kIOStorageSynchronizeOption*``, ``kIOStorageUnmapOption*``, the class and
  category names and the ``IOStorageFeatures`` keys;
* ``IOStorage``, the superclass of ``IOMedia``, ``IOBlockStorageDriver`` and the
  partition schemes: ``open`` with an ``IOStorageAccess``, ``complete`` (the
  static convenience that calls a completion), the synchronous and asynchronous
  ``read``/``write``, ``synchronize``/``synchronizeCache``, ``unmap`` and the other
  optional requests, which answer ``kIOReturnUnsupported`` as Apple's do.

Synchronous and asynchronous forms
----------------------------------
C++ overloads ``read``: the asynchronous form (a completion, no result) is the pure
virtual every storage object implements, and the synchronous form (an optional
``UInt64 *actualByteCount``, an ``IOReturn`` result) is IOStorage's own, built on
the first with a completion that wakes the caller (``IOStorageSyncer``).  Python has
no overloads, so here ``read``/``write`` take both forms:

* ``read(client, byteStart, buffer, attributes=None)`` (no completion) blocks the
  calling kernel thread until the transfer is done and returns
  ``(status, actualByteCount)``;
* ``read(client, byteStart, buffer, attributes, completion)`` starts the transfer
  and returns None at once; ``completion`` is called later, from whatever context
  the transfer finishes in.

A subclass implements the asynchronous form by overriding ``read_async`` and
``write_async`` (ours: the C++ pure virtuals, under a name of their own), which
``read``/``write`` call.  Overriding ``read`` or ``write`` themselves, as a C++
author would, is refused when the class is defined, with a message saying what to
override instead.

Threading rules: the synchronous forms block and so need a kernel thread (or the
host, which runs the machine while it waits); never call them from a completion,
an interrupt handler or with a work loop's gate closed.  The asynchronous forms
never block their caller; ``complete`` runs the action in the caller's context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, overload

from kextlab.kernel.ioreturn import kIOReturnSuccess, kIOReturnUnsupported
from kextlab.kernel.service.service import IOService
from kextlab.kernel.wait import THREAD_UNINT, assert_wait, thread_block, thread_wakeup

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.registry.entry import IORegistryEntry
    from kextlab.kernel.registry.plane import IORegistryPlane

__all__ = [
    "IOStorage",
    "IOStorageAttributes",
    "IOStorageCompletion",
    "IOStorageCompletionAction",
    "IOStorageExtent",
    "IOStorageSyncer",
    "kIOStorageAccessExclusiveLock",
    "kIOStorageAccessInvalid",
    "kIOStorageAccessNone",
    "kIOStorageAccessReader",
    "kIOStorageAccessReaderWriter",
    "kIOStorageAccessReserved",
    "kIOStorageAccessSharedLock",
    "kIOStorageAccessWriter",
    "kIOStorageCategory",
    "kIOStorageClass",
    "kIOStorageFeatureBarrier",
    "kIOStorageFeatureForceUnitAccess",
    "kIOStorageFeaturePriority",
    "kIOStorageFeatureUnmap",
    "kIOStorageFeaturesKey",
    "kIOStorageOptionForceUnitAccess",
    "kIOStorageOptionIsEncrypted",
    "kIOStorageOptionIsStatic",
    "kIOStorageOptionNone",
    "kIOStorageOptionReserved",
    "kIOStoragePriorityBackground",
    "kIOStoragePriorityDefault",
    "kIOStoragePriorityHigh",
    "kIOStoragePriorityLow",
    "kIOStorageSynchronizeOptionBarrier",
    "kIOStorageSynchronizeOptionNone",
    "kIOStorageSynchronizeOptionReserved",
    "kIOStorageUnmapOptionNone",
    "kIOStorageUnmapOptionReserved",
    "kIOStorageUnmapOptionWhole",
]

# -- names (IOStorage.h) --------------------------------------------------------------------------
kIOStorageClass: Final = "IOStorage"
#: The ``IOMatchCategory`` of storage drivers (partition schemes, filter schemes).
kIOStorageCategory: Final = "IOStorage"
kIOStorageFeaturesKey: Final = "IOStorageFeatures"
kIOStorageFeatureBarrier: Final = "Barrier"
kIOStorageFeatureForceUnitAccess: Final = "Force Unit Access"
kIOStorageFeaturePriority: Final = "Priority"
kIOStorageFeatureUnmap: Final = "Unmap"

# -- IOStorageUnmapOptions ------------------------------------------------------------------------
kIOStorageUnmapOptionNone: Final = 0x00000000
kIOStorageUnmapOptionWhole: Final = 0x00000001
kIOStorageUnmapOptionReserved: Final = 0xFFFFFFFE

# -- IOStorageAccess: the level of an open --------------------------------------------------------
kIOStorageAccessNone: Final = 0x00
kIOStorageAccessReader: Final = 0x01
kIOStorageAccessWriter: Final = 0x02
kIOStorageAccessReaderWriter: Final = 0x03
kIOStorageAccessSharedLock: Final = 0x04
kIOStorageAccessExclusiveLock: Final = 0x08
kIOStorageAccessInvalid: Final = 0x0D
kIOStorageAccessReserved: Final = 0xFFFFFFF0

# -- IOStorageOptions -----------------------------------------------------------------------------
kIOStorageOptionNone: Final = 0x0000
kIOStorageOptionForceUnitAccess: Final = 0x0001
kIOStorageOptionIsEncrypted: Final = 0x0010
kIOStorageOptionIsStatic: Final = 0x0020
kIOStorageOptionReserved: Final = 0xFFCE

# -- IOStoragePriority ----------------------------------------------------------------------------
kIOStoragePriorityHigh: Final = 63
kIOStoragePriorityDefault: Final = 127
kIOStoragePriorityLow: Final = 191
kIOStoragePriorityBackground: Final = 255

# -- IOStorageSynchronizeOptions ------------------------------------------------------------------
kIOStorageSynchronizeOptionNone: Final = 0x00000000
kIOStorageSynchronizeOptionBarrier: Final = 0x00000002
kIOStorageSynchronizeOptionReserved: Final = 0xFFFFFFFD


@dataclass
class IOStorageAttributes:
    """``struct IOStorageAttributes``: how a request is to be carried out.

    The reserved fields must be zero (``IOBlockStorageDriver`` refuses a request
    that sets them, with ``kIOReturnBadArgument``).  ``adjustedOffset`` is filled in
    by the block storage driver for each piece it sends the device: the piece's
    byte offset relative to the client's request.  ``bufattr`` is the BSD buffer's
    attributes (no BSD layer here: always None)."""

    options: int = kIOStorageOptionNone
    priority: int = 0
    reserved0024: int = 0
    reserved0032: int = 0
    reserved0064: int = 0
    adjustedOffset: int = 0
    bufattr: object = None

    def copy(self) -> IOStorageAttributes:
        """A copy (C passes the struct by value where a driver keeps it)."""
        return IOStorageAttributes(
            self.options,
            self.priority,
            self.reserved0024,
            self.reserved0032,
            self.reserved0064,
            self.adjustedOffset,
            self.bufattr,
        )


#: ``IOStorageCompletionAction``: ``action(target, parameter, status, actualByteCount)``.
IOStorageCompletionAction = Callable[[Any, Any, int, int], None]


@dataclass(slots=True)
class IOStorageCompletion:
    """``struct IOStorageCompletion``: who to call when a request is done.

    ``IOStorage.complete(completion, status, actualByteCount)`` calls
    ``action(target, parameter, status, actualByteCount)``; an action of None does
    nothing, as in C."""

    target: Any = None
    action: IOStorageCompletionAction | None = None
    parameter: Any = None


@dataclass(slots=True)
class IOStorageExtent:
    """``struct IOStorageExtent``: a byte range (``unmap``, ``setPriority``)."""

    byteStart: int = 0
    byteCount: int = 0


class IOStorageSyncer:
    """What a synchronous request waits on (``IOStorage.cpp``'s ``IOStorageSyncer``).

    ``wait`` blocks the calling kernel thread until ``signal``; a signal that came
    first (the request completed before its issuer waited: an error found at once,
    or a device that completes inline) makes ``wait`` return at once.  The syncer
    itself is the wait event.

    Every synchronous transfer makes one (C++ puts it on the stack), so it has no
    ``__init__`` to run: its fields start as the class's defaults until ``signal``
    sets them."""

    status: int = kIOReturnSuccess
    actualByteCount: int = 0
    done: bool = False

    def wait(self) -> int:
        while not self.done:
            assert_wait(self, THREAD_UNINT)
            thread_block()
        return self.status

    def signal(self, status: int, actualByteCount: int) -> None:
        self.status = status
        self.actualByteCount = actualByteCount
        self.done = True
        thread_wakeup(self)


def _syncer_completion(target: Any, parameter: Any, status: int, actualByteCount: int) -> None:
    """``storageCompletion``: the completion of a synchronous request
    (``IOStorageSyncer.signal``, inlined: it ends every synchronous transfer)."""
    syncer: IOStorageSyncer = target
    syncer.status = status
    syncer.actualByteCount = actualByteCount
    syncer.done = True
    thread_wakeup(syncer)


class IOStorage(IOService):
    """The abstract storage object (``IOStorage``)."""

    #: Methods a subclass must not override (see the module: ``read_async`` ...).
    _DISPATCHERS: ClassVar[dict[str, str]] = {"read": "read_async", "write": "write_async"}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, hook in IOStorage._DISPATCHERS.items():
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__qualname__} overrides IOStorage.{name}: implement the "
                    f"asynchronous {name} by overriding {hook}(client, byteStart, buffer, "
                    f"attributes, completion); IOStorage.{name} dispatches both forms to it"
                )

    # -- attach and detach ------------------------------------------------------------------------

    def attach(self, provider: IOService) -> bool:
        """Attach, and let the provider know a storage object joined it (Apple's
        registry calls ``attachToChild`` on the provider for every attach; IOMedia
        uses it to take the ``Content`` of a partition scheme)."""
        if not super().attach(provider):
            return False
        return provider.attachToChild(self, self._service_plane(provider))

    def detach(self, provider: IOService) -> None:
        if isinstance(provider, IOStorage):
            provider.detachFromChild(self, self._service_plane(provider))
        super().detach(provider)

    def detachFromChild(self, child: IORegistryEntry, plane: IORegistryPlane) -> None:
        """A client is leaving (``IORegistryEntry::detachFromChild``); nothing to do
        unless a subclass cares."""

    def requestProbe(self, options: int) -> int:
        """Re-examine the provider (``IOService::requestProbe``): partition schemes
        rescan their map."""
        return kIOReturnSuccess

    # -- open -------------------------------------------------------------------------------------

    def open(  # type: ignore[override]
        self, client: IOService, options: int = 0, access: int = kIOStorageAccessNone
    ) -> bool:
        """Ask for access at level ``access`` (``kIOStorageAccessReader`` or
        ``kIOStorageAccessReaderWriter``); also upgrades or downgrades an existing
        open (a failed upgrade leaves the old level).  ``IOService::open`` with the
        access as its argument."""
        return super().open(client, options, access)

    # -- completion ------------------------------------------------------------------------------

    @staticmethod
    def complete(
        completion: IOStorageCompletion | None, status: int, actualByteCount: int = 0
    ) -> None:
        """Call ``completion``'s action, if any (``IOStorage::complete``)."""
        if completion is not None and completion.action is not None:
            completion.action(completion.target, completion.parameter, status, actualByteCount)

    # -- read and write ---------------------------------------------------------------------------

    @overload
    def read(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None = None,
        completion: None = None,
    ) -> tuple[int, int]: ...

    @overload
    def read(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None: ...

    def read(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None = None,
        completion: IOStorageCompletion | None = None,
    ) -> tuple[int, int] | None:
        """Read ``buffer.getLength()`` bytes at ``byteStart`` into ``buffer``: with a
        completion, asynchronously (returns None); without, synchronously (blocks the
        calling kernel thread, returns ``(status, actualByteCount)``)."""
        if completion is not None:
            self.read_async(client, byteStart, buffer, attributes, completion)
            return None
        syncer = IOStorageSyncer()
        self.read_async(
            client, byteStart, buffer, attributes, IOStorageCompletion(syncer, _syncer_completion)
        )
        return syncer.wait(), syncer.actualByteCount

    @overload
    def write(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None = None,
        completion: None = None,
    ) -> tuple[int, int]: ...

    @overload
    def write(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None: ...

    def write(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None = None,
        completion: IOStorageCompletion | None = None,
    ) -> tuple[int, int] | None:
        """Write ``buffer`` at ``byteStart``: asynchronously with a completion,
        synchronously (``(status, actualByteCount)``) without."""
        if completion is not None:
            self.write_async(client, byteStart, buffer, attributes, completion)
            return None
        syncer = IOStorageSyncer()
        self.write_async(
            client, byteStart, buffer, attributes, IOStorageCompletion(syncer, _syncer_completion)
        )
        return syncer.wait(), syncer.actualByteCount

    def read_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        """The asynchronous read every storage object implements (C++'s pure virtual
        ``read(client, byteStart, buffer, attributes, completion)``)."""
        raise NotImplementedError(f"{self.getClassName()} does not implement read_async")

    def write_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        """The asynchronous write every storage object implements."""
        raise NotImplementedError(f"{self.getClassName()} does not implement write_async")

    # -- the optional requests --------------------------------------------------------------------

    def synchronize(
        self,
        client: IOService,
        byteStart: int = 0,
        byteCount: int = 0,
        options: int = kIOStorageSynchronizeOptionNone,
    ) -> int:
        """Flush cached data in ``[byteStart, byteStart + byteCount)`` (all of it for a
        count of 0) to the medium; blocks.  Unsupported unless a subclass says so."""
        return kIOReturnUnsupported

    def synchronizeCache(self, client: IOService) -> int:
        """Flush all cached data (the deprecated form of ``synchronize``)."""
        return self.synchronize(client, 0, 0)

    def discard(self, client: IOService, byteStart: int, byteCount: int) -> int:
        """Delete unused data (deprecated; ``unmap``)."""
        return kIOReturnUnsupported

    def unmap(
        self,
        client: IOService,
        extents: list[IOStorageExtent],
        extentsCount: int,
        options: int = kIOStorageUnmapOptionNone,
    ) -> int:
        """Delete unused data at the first ``extentsCount`` of ``extents``."""
        return kIOReturnUnsupported

    def setPriority(
        self, client: IOService, extents: list[IOStorageExtent], extentsCount: int, priority: int
    ) -> int:
        """Reprioritize requests at ``extents``."""
        return kIOReturnUnsupported

    def lockPhysicalExtents(self, client: IOService) -> bool:
        return False

    def copyPhysicalExtent(
        self, client: IOService, byteStart: list[int], byteCount: list[int]
    ) -> IOStorage | None:
        """The physical storage object under ``byteStart[0]`` (adjusted in place to an
        offset in it), retained; None if there is none."""
        return None

    def unlockPhysicalExtents(self, client: IOService) -> None:
        return None
