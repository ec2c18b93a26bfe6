"""IOBlockStorageDriver: the generic driver of a block storage device and its media.

Mirrors ``IOBlockStorageDriver.h``/``.cpp`` of IOStorageFamily.  Apple's class is
one file of 3,600 lines; here it is three modules, one concept each:

* this one: the driver's lifecycle (``start`` opens the device, learns whether it is
  removable, ejectable or solid state and the transfer limits published on it or its
  providers: ``IOMaximumBlockCount*``, ``IOMaximumByteCount*``,
  ``IOMaximumSegment*``, ``IOMinimumSegmentAlignmentByteCount``,
  ``IOMaximumSegmentAddressableBitCount``, ``IOCommandPoolSize``; then looks for a
  medium), opens and closes (media and the driver itself open it; the first open
  opens the device, the last close closes it; only the driver may open while there
  is no medium), the ``Statistics`` (Apple's keys and order; ``OSNumber`` objects
  counted in place, so ``ioreg`` and user space always see current values) and the
  requests other than reads and writes (``synchronize``, ``unmap``);
* ``request_pipeline``: reads and writes (prepare, deblock, break up, execute);
* ``media_management``: a medium's arrival and departure, eject, format, polling.

Errors: a request for a medium that is gone fails with ``kIOReturnNoMedia``, for a
device that is gone with ``kIOReturnNotAttached``; a short transfer is
``kIOReturnUnderrun``; a device's own error reaches the client unchanged.  Requests
already with the device are the device's to complete (normally or with its error);
nothing here waits for them, so termination never hangs on them.

Departures: no power management (``PMinit``/``joinPMtree``), no perf-control client,
no shutdown processing (kextlab has no ``systemWillShutdown``); the latency
statistics stay 0, as Apple's driver reports them (it passes 0 too).

Threading rules: ``start``/``stop``, the media calls (``ejectMedia``,
``formatMedia``, ``synchronize``) and the first stage of a request run on kernel
threads and may block (the device calls do); completions run in the device's
context and never block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.storage.block_storage_device import (
    IOBlockStorageDevice,
    IOBlockStorageDeviceExtent,
    kIOCommandPoolSizeKey,
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kIOMaximumByteCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOMaximumSegmentAddressableBitCountKey,
    kIOMaximumSegmentByteCountReadKey,
    kIOMaximumSegmentByteCountWriteKey,
    kIOMaximumSegmentCountReadKey,
    kIOMaximumSegmentCountWriteKey,
    kIOMinimumSegmentAlignmentByteCountKey,
    kIOPropertyDeviceCharacteristicsKey,
    kIOPropertyMediumTypeKey,
    kIOPropertyMediumTypeSolidStateKey,
)
from kextlab.families.storage.breaker import TransferLimits
from kextlab.families.storage.media_management import (
    MediaManagement,
    copy_property_in_service_plane,
    kPollerInterval,
)
from kextlab.families.storage.request_pipeline import Context, RequestPipeline
from kextlab.families.storage.storage import (
    IOStorage,
    IOStorageExtent,
    kIOStorageSynchronizeOptionReserved,
    kIOStorageUnmapOptionReserved,
)
from kextlab.kernel.ioreturn import (
    ioreturn_name,
    kIOReturnBadArgument,
    kIOReturnNotAttached,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.refs import BoolRef
from kextlab.kernel.service.service import IOService, kIOMessageServiceIsRequestingClose
from kextlab.kernel.threads import thread_call_free, thread_call_t

if TYPE_CHECKING:
    from kextlab.families.storage.media import IOMedia
    from kextlab.kernel.registry.entry import IORegistryEntry
    from kextlab.kernel.registry.plane import IORegistryPlane
    from kextlab.sim.scheduler import Scheduler

__all__ = [
    "IOBlockStorageDriver",
    "copy_property_in_service_plane",
    "kIOBlockStorageDriverClass",
    "kIOBlockStorageDriverStatisticsKey",
    "kPollerInterval",
]

kIOBlockStorageDriverClass: Final = "IOBlockStorageDriver"
kIOBlockStorageDriverStatisticsKey: Final = "Statistics"
kIOBlockStorageDriverStatisticsBytesReadKey: Final = "Bytes (Read)"
kIOBlockStorageDriverStatisticsBytesWrittenKey: Final = "Bytes (Write)"
kIOBlockStorageDriverStatisticsReadErrorsKey: Final = "Errors (Read)"
kIOBlockStorageDriverStatisticsWriteErrorsKey: Final = "Errors (Write)"
kIOBlockStorageDriverStatisticsLatentReadTimeKey: Final = "Latency Time (Read)"
kIOBlockStorageDriverStatisticsLatentWriteTimeKey: Final = "Latency Time (Write)"
kIOBlockStorageDriverStatisticsReadsKey: Final = "Operations (Read)"
kIOBlockStorageDriverStatisticsWritesKey: Final = "Operations (Write)"
kIOBlockStorageDriverStatisticsReadRetriesKey: Final = "Retries (Read)"
kIOBlockStorageDriverStatisticsWriteRetriesKey: Final = "Retries (Write)"
kIOBlockStorageDriverStatisticsTotalReadTimeKey: Final = "Total Time (Read)"
kIOBlockStorageDriverStatisticsTotalWriteTimeKey: Final = "Total Time (Write)"

# IOBlockStorageDriver::Statistics, in Apple's order.
kStatisticsReads: Final = 0
kStatisticsBytesRead: Final = 1
kStatisticsTotalReadTime: Final = 2
kStatisticsLatentReadTime: Final = 3
kStatisticsReadRetries: Final = 4
kStatisticsReadErrors: Final = 5
kStatisticsWrites: Final = 6
kStatisticsSingleBlockWrites: Final = 7
kStatisticsBytesWritten: Final = 8
kStatisticsTotalWriteTime: Final = 9
kStatisticsLatentWriteTime: Final = 10
kStatisticsWriteRetries: Final = 11
kStatisticsWriteErrors: Final = 12
kStatisticsCount: Final = 13

#: The published keys of the statistics, by index (the single-block count is not published).
_STATISTICS_KEYS: Final = {
    kStatisticsReads: kIOBlockStorageDriverStatisticsReadsKey,
    kStatisticsBytesRead: kIOBlockStorageDriverStatisticsBytesReadKey,
    kStatisticsTotalReadTime: kIOBlockStorageDriverStatisticsTotalReadTimeKey,
    kStatisticsLatentReadTime: kIOBlockStorageDriverStatisticsLatentReadTimeKey,
    kStatisticsReadRetries: kIOBlockStorageDriverStatisticsReadRetriesKey,
    kStatisticsReadErrors: kIOBlockStorageDriverStatisticsReadErrorsKey,
    kStatisticsWrites: kIOBlockStorageDriverStatisticsWritesKey,
    kStatisticsBytesWritten: kIOBlockStorageDriverStatisticsBytesWrittenKey,
    kStatisticsTotalWriteTime: kIOBlockStorageDriverStatisticsTotalWriteTimeKey,
    kStatisticsLatentWriteTime: kIOBlockStorageDriverStatisticsLatentWriteTimeKey,
    kStatisticsWriteRetries: kIOBlockStorageDriverStatisticsWriteRetriesKey,
    kStatisticsWriteErrors: kIOBlockStorageDriverStatisticsWriteErrorsKey,
}

#: Contexts kept for reuse when no ``IOCommandPoolSize`` says otherwise.
DEFAULT_CONTEXTS_MAX_COUNT: Final = 32


class IOBlockStorageDriver(RequestPipeline, MediaManagement, IOStorage):
    """The driver of an ``IOBlockStorageDevice`` and the whole-disk ``IOMedia`` on it."""

    def __init__(self) -> None:
        super().__init__()
        self._mediaObject: IOMedia | None = None
        self._ejectable = False
        self._removable = False
        self._solidState = False
        self._writeProtected = False
        self._mediaBlockSize = 0
        self._maxBlockNumber = 0
        self._mediaType = 0
        self._readLimits = TransferLimits()
        self._writeLimits = TransferLimits()
        self._contexts: list[Context] = []
        self._contextsMaxCount = DEFAULT_CONTEXTS_MAX_COUNT
        self._openClients: list[IOService] = []
        self._openAssertions = 0
        self._deblockRequestWriteLockCount = 0
        self._statistics: list[OSNumber] = []
        self._pollerCall: thread_call_t | None = None
        self._polling = False
        #: The machine's scheduler, the clock of the statistics (``_now``).
        self._scheduler: Scheduler | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def init(
        self,
        dictionary: OSDictionary | IORegistryEntry | None = None,
        plane: IORegistryPlane | None = None,
    ) -> bool:
        if not super().init(dictionary, plane):
            return False
        self.initMediaState()
        self._statistics = [OSNumber(0, 64) for _ in range(kStatisticsCount)]
        statistics = OSDictionary()
        for index, key in _STATISTICS_KEYS.items():
            statistics.setObject(key, self._statistics[index])
        self.setProperty(kIOBlockStorageDriverStatisticsKey, statistics)
        statistics.release()
        return True

    def getProvider(self) -> IOBlockStorageDevice | None:
        provider = super().getProvider()
        return provider if isinstance(provider, IOBlockStorageDevice) else None

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        if not self.open(self):
            return False
        try:
            success = self.handleStart(provider)
        finally:
            self.close(self)
        if success:
            self.registerService()
        return success

    def stop(self, provider: IOService) -> None:
        self.unschedulePoller()
        self.decommissionMedia(True)  # (normally done already, at didTerminate or close)
        super().stop(provider)

    def didTerminate(self, provider: IOService, options: int, defer: list[bool]) -> bool:
        self.decommissionMedia(False)
        return super().didTerminate(provider, options, defer)

    def free(self) -> None:
        self._contexts.clear()
        for number in self._statistics:
            number.release()
        self._statistics = []
        if self._pollerCall is not None:
            thread_call_free(self._pollerCall)
            self._pollerCall = None
        super().free()

    def handleStart(self, provider: IOService) -> bool:
        """Learn the device's nature and limits, then look for a medium."""
        device = self.getProvider()
        if device is None:
            return False
        removable = BoolRef()
        result = device.reportRemovability(removable)
        if result != kIOReturnSuccess:
            self._log_error("handleStart", "reportRemovability", result)
            return False
        self._removable = removable.value
        if self._removable:
            ejectable = BoolRef()
            result = device.reportEjectability(ejectable)
            if result != kIOReturnSuccess:
                self._log_error("handleStart", "reportEjectability", result)
                return False
            self._ejectable = ejectable.value
        else:
            characteristics = device.getProperty(kIOPropertyDeviceCharacteristicsKey)
            if isinstance(characteristics, OSDictionary):
                medium = characteristics.getObject(kIOPropertyMediumTypeKey)
                self._solidState = isinstance(medium, OSString) and medium.isEqualTo(
                    kIOPropertyMediumTypeSolidStateKey
                )
            self._ejectable = False
        self._read_limits()
        poll_required, poll_expensive = BoolRef(), BoolRef()
        if device.reportPollRequirements(poll_required, poll_expensive) == kIOReturnSuccess:
            self._polling = poll_required.value
        result = self.checkForMedia()
        if result != kIOReturnSuccess and not self._removable:
            self._log_error("handleStart", "checkForMedia", result)
            return False
        if self._polling:
            self.schedulePoller()
        return True

    def _read_limits(self) -> None:
        def number(key: str) -> int | None:
            value = copy_property_in_service_plane(self, key)
            return value.unsigned64BitValue() if isinstance(value, OSNumber) else None

        for limits, keys in (
            (
                self._readLimits,
                (
                    kIOMaximumBlockCountReadKey,
                    kIOMaximumByteCountReadKey,
                    kIOMaximumSegmentCountReadKey,
                    kIOMaximumSegmentByteCountReadKey,
                ),
            ),
            (
                self._writeLimits,
                (
                    kIOMaximumBlockCountWriteKey,
                    kIOMaximumByteCountWriteKey,
                    kIOMaximumSegmentCountWriteKey,
                    kIOMaximumSegmentByteCountWriteKey,
                ),
            ),
        ):
            limits.maximumBlockCount = number(keys[0]) or 0
            limits.maximumByteCount = number(keys[1]) or 0
            limits.maximumSegmentCount = number(keys[2]) or 0
            limits.maximumSegmentByteCount = number(keys[3]) or 0
        alignment = number(kIOMinimumSegmentAlignmentByteCountKey)
        if alignment is None:
            alignment = self._readLimits.minimumSegmentAlignmentByteCount
            device = self.getProvider()
            if device is not None:
                device.setProperty(kIOMinimumSegmentAlignmentByteCountKey, alignment, 64)
        bits = number(kIOMaximumSegmentAddressableBitCountKey) or 0
        width = 1 << bits if 0 < bits < 64 else 0
        for limits in (self._readLimits, self._writeLimits):
            limits.minimumSegmentAlignmentByteCount = alignment
            limits.maximumSegmentWidthByteCount = width
        pool = number(kIOCommandPoolSizeKey)
        if pool is not None:
            self._contextsMaxCount = pool

    def _log_error(self, where: str, call: str, result: int) -> None:
        IOLog(
            "%s[IOBlockStorageDriver]::%s; err '%s' from %s\n",
            self.getName(),
            where,
            ioreturn_name(result),
            call,
        )

    # -- open and close -------------------------------------------------------------------------

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        """Media (and the driver itself) open the driver; the first open opens the
        device.  Only the driver may open while there is no medium."""
        if forClient is not self and self._mediaObject is None:
            return False
        if not self._openClients:
            device = self.getProvider()
            if device is None or not device.open(self):
                return False
        if forClient is not self:
            if forClient not in self._openClients:
                self._openClients.append(forClient)
        else:
            if self._openAssertions == 0:
                self._openClients.append(forClient)
            self._openAssertions += 1
        return True

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        if forClient is None:
            return bool(self._openClients)
        return forClient in self._openClients

    def handleClose(self, forClient: IOService, options: int) -> None:
        if forClient is not self:
            if forClient in self._openClients:
                self._openClients.remove(forClient)
        else:
            self._openAssertions -= 1
            if self._openAssertions == 0 and self in self._openClients:
                self._openClients.remove(self)
        if not self._openClients:
            media = self._mediaObject
            if media is not None and media.isInactive():
                # the media was terminated while open: now it can be torn down
                self.message(kIOMessageServiceIsRequestingClose, self.getProvider() or self)
            device = self.getProvider()
            if device is not None:
                device.close(self)

    # -- statistics -----------------------------------------------------------------------------

    def addToBytesTransferred(
        self, bytesTransferred: int, totalTime: int, latentTime: int, isWrite: bool
    ) -> None:
        """Count one operation, its bytes and its times (ns)."""
        statistics = self._statistics
        if isWrite:
            statistics[kStatisticsWrites].addValue(1)
            statistics[kStatisticsBytesWritten].addValue(bytesTransferred)
            statistics[kStatisticsTotalWriteTime].addValue(totalTime)
            statistics[kStatisticsLatentWriteTime].addValue(latentTime)
        else:
            statistics[kStatisticsReads].addValue(1)
            statistics[kStatisticsBytesRead].addValue(bytesTransferred)
            statistics[kStatisticsTotalReadTime].addValue(totalTime)
            statistics[kStatisticsLatentReadTime].addValue(latentTime)

    def incrementRetries(self, isWrite: bool) -> None:
        """Count a retry (a transport's driver calls it when it retries a transfer)."""
        self._statistics[kStatisticsWriteRetries if isWrite else kStatisticsReadRetries].addValue(1)

    def incrementErrors(self, isWrite: bool) -> None:
        self._statistics[kStatisticsWriteErrors if isWrite else kStatisticsReadErrors].addValue(1)

    def getStatistics(self, statistics: list[int] | None, statisticsMaxCount: int) -> int:
        """Fill ``statistics`` (by ``kStatistics*`` index); the count filled, or the
        count there is when ``statistics`` is None."""
        if statistics is None:
            return kStatisticsCount
        count = min(kStatisticsCount, statisticsMaxCount)
        statistics[:count] = [number.unsigned64BitValue() for number in self._statistics[:count]]
        return count

    def getStatistic(self, statistic: int) -> int:
        if not 0 <= statistic < kStatisticsCount:
            return 0
        return self._statistics[statistic].unsigned64BitValue()

    # -- requests: prepare ------------------------------------------------------------------------

    # -- requests: deblock ------------------------------------------------------------------------

    # -- requests: break up -----------------------------------------------------------------------

    # -- requests: execute ------------------------------------------------------------------------

    # -- other requests -------------------------------------------------------------------------

    def synchronize(
        self, client: IOService, byteStart: int = 0, byteCount: int = 0, options: int = 0
    ) -> int:
        if options & kIOStorageSynchronizeOptionReserved:
            return kIOReturnBadArgument
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        block_size = self._mediaBlockSize or 1
        block_start = byteStart // block_size
        block_count = (
            (byteStart + byteCount + block_size - 1) // block_size - block_start if byteCount else 0
        )
        return device.doSynchronize(block_start, block_count, options)

    def unmap(
        self,
        client: IOService,
        extents: list[IOStorageExtent],
        extentsCount: int,
        options: int = 0,
    ) -> int:
        if options & kIOStorageUnmapOptionReserved:
            return kIOReturnBadArgument
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        block_size = self._mediaBlockSize or 1
        blocks = []
        for extent in extents[:extentsCount]:
            first = (extent.byteStart + block_size - 1) // block_size
            end = (extent.byteStart + extent.byteCount) // block_size
            if end > first:
                blocks.append(IOBlockStorageDeviceExtent(first, end - first))
        return device.doUnmap(blocks, len(blocks), options) if blocks else kIOReturnSuccess

    def requestIdle(self) -> int:
        device = self.getProvider()
        return device.requestIdle() if device is not None else kIOReturnNotAttached

    def lockPhysicalExtents(self, client: IOService) -> bool:
        return True

    def copyPhysicalExtent(
        self, client: IOService, byteStart: list[int], byteCount: list[int]
    ) -> IOStorage | None:
        media = self._mediaObject
        if media is not None:
            media.retain()
        return media

    def unlockPhysicalExtents(self, client: IOService) -> None:
        return None

    # -- the medium -------------------------------------------------------------------------------

    # -- queries ----------------------------------------------------------------------------------

    # -- polling --------------------------------------------------------------------------------
