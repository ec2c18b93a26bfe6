"""The request pipeline of IOBlockStorageDriver: prepare, deblock, break up, execute.

Mirrors the request half of ``IOBlockStorageDriver.cpp`` (IOStorageFamily):
``prepareRequest``, ``deblockRequest``, ``breakUpRequest``, ``executeRequest`` and
their completions, and the pooled ``Context``.  ``RequestPipeline`` is mixed into
``IOBlockStorageDriver`` (one Apple class, two modules: the medium's side is
``media_management``); ``IODeblocker`` and ``IOBreaker`` are in modules of their own.

Design
------
A client request (a byte offset and a memory descriptor) goes through four stages:
*prepare* (a context from the driver's pool, the client's buffer wired and
retained, the start time), *deblock*, *break up*, *execute* (``doAsyncReadWrite``
on the device).  The completion of the prepared request maps a short transfer to
``kIOReturnUnderrun``, counts the statistics, unwires the buffer and calls the
client's completion.  An aligned request within the limits goes straight through:
the client's own descriptor reaches the device, and the context and its two
completions are reused, so no descriptor and no kernel memory is allocated for it.

The driver wires (``prepare``) the client's buffer for the life of the request and
unwires it at the end.  Apple's driver leaves that to its clients (the BSD layer
prepares before ``read``); doing it here means a client that forgot gets its I/O
instead of the "not wired" panic, at the cost of a counter increment for memory
that is already wired.

**Deblocking.**  A device moves whole blocks.  A request that starts or ends inside
a block is rounded out to block boundaries; the bytes outside the client's buffer
(``excessCountStart`` before it, ``excessCountFinal`` after it) come from a scratch
buffer.  A read is one transfer: [scratch head] + client buffer + [scratch tail],
and the head and tail bytes are thrown away.  A write must not clobber the bytes
around the client's, so it is a read-modify-write in up to three stages: read the
first block into the scratch buffer, read the last block (unless the whole request
lies in the first block, already read), then write [scratch head] + client buffer +
[scratch tail].  Only one read-modify-write runs at a time per driver (two
unaligned writes to the same block would otherwise lose one of them); other
requests go on meanwhile.

**Breaking up.**  A device publishes limits on its provider chain: a maximum block
or byte count per transfer, a maximum number of physical segments and bytes per
segment, a minimum segment alignment and an addressable width.  ``getBreakSize``
walks the physical segments of the buffer from an offset and answers how many bytes
(a whole number of blocks) the next transfer may carry; the request is then sent as
successive pieces, each a sub-range of the buffer.

**Stages in flight.**  Each stage's completion checks the result, moves to the next
stage and issues it; the first stage runs on the client's thread, the next ones on
a ``thread_call`` (as Apple's do), so that ``doAsyncReadWrite`` is always called on
a kernel thread, never in the device's completion context.  A failed or short stage
ends the request: the client's completion gets the status and the byte count of
its own buffer that was transferred.

Departure from Apple, and why: Apple's IODeblocker and IOBreaker *are* memory
descriptors (a chunk list over the client's buffer and the scratch buffer; a
sub-range) re-aimed at each stage.  kextlab's memory descriptors keep ranges of one
kind, so here each stage gets a fresh *physical* descriptor
(``IOGeneralMemoryDescriptor``, always wired) built from the physical runs of the
client's buffer (wired by the driver for the whole request) and of the scratch
buffer, and ``IODeblocker``/``IOBreaker`` are the request objects that make them.
A stage descriptor still held by the device after its completion (an HBA's DMA
command that has not cleared it yet) is therefore never re-aimed under it.

Threading rules: ``prepareRequest`` and the first stage run on the client's kernel
thread (a deblocked write may wait there for the read-modify-write in progress);
completions run in the device's completion context and never block; later stages
are issued from a thread call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kextlab.families.storage.breaker import IOBreaker, TransferLimits
from kextlab.families.storage.deblocker import IODeblocker
from kextlab.families.storage.storage import (
    IOStorage,
    IOStorageAttributes,
    IOStorageCompletion,
    kIOStorageOptionReserved,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnDMAError,
    kIOReturnNoMedia,
    kIOReturnNoMemory,
    kIOReturnNotAttached,
    kIOReturnSuccess,
    kIOReturnUnderrun,
)
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.threads import thread_call_enter1
from kextlab.kernel.wait import THREAD_UNINT, assert_wait, thread_block, thread_wakeup_one
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.families.storage.block_storage_device import IOBlockStorageDevice
    from kextlab.families.storage.media import IOMedia
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.service.service import IOService
    from kextlab.sim.scheduler import Scheduler

    _Base = IOStorage
else:
    _Base = object

__all__ = ["Context", "RequestPipeline"]


class Context:
    """``IOBlockStorageDriver::Context``: one client request's state, pooled."""

    __slots__ = (
        "attributes",
        "block_size",
        "buffer",
        "byte_start",
        "completion",
        "completion_out",
        "is_write",
        "time_start",
    )

    def __init__(self, driver: RequestPipeline) -> None:
        self.block_size = 0
        self.byte_start = 0
        self.buffer: IOMemoryDescriptor | None = None
        self.attributes = IOStorageAttributes()
        self.completion = IOStorageCompletion()
        self.completion_out = IOStorageCompletion(
            driver, RequestPipeline.prepareRequestCompletion, self
        )
        self.is_write = False
        self.time_start = 0


class RequestPipeline(_Base):
    """The request methods of ``IOBlockStorageDriver`` (a mixin: see the module)."""

    if TYPE_CHECKING:
        _mediaObject: IOMedia | None
        _mediaBlockSize: int
        _readLimits: TransferLimits
        _writeLimits: TransferLimits
        _contexts: list[Context]
        _contextsMaxCount: int
        _deblockRequestWriteLockCount: int
        _scheduler: Scheduler | None

        def getProvider(self) -> IOBlockStorageDevice | None: ...

        def addToBytesTransferred(
            self, bytesTransferred: int, totalTime: int, latentTime: int, isWrite: bool
        ) -> None: ...

        def incrementErrors(self, isWrite: bool) -> None: ...

    def read_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        self.prepareRequest(byteStart, buffer, attributes, completion)

    def write_async(
        self,
        client: IOService,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        self.prepareRequest(byteStart, buffer, attributes, completion)

    def allocateContext(self) -> Context:
        contexts = self._contexts
        return contexts.pop() if contexts else Context(self)

    def deleteContext(self, context: Context) -> None:
        context.buffer = None
        if len(self._contexts) < self._contextsMaxCount:
            self._contexts.append(context)

    def prepareRequest(
        self,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> None:
        """Check the attributes, take a context, wire the buffer, then deblock."""
        if attributes is not None and (
            attributes.options & kIOStorageOptionReserved
            or attributes.reserved0024
            or attributes.reserved0032
            or attributes.reserved0064
        ):
            IOStorage.complete(completion, kIOReturnBadArgument)
            return
        status = buffer.prepare()
        if status != kIOReturnSuccess:
            IOStorage.complete(completion, status)
            return
        context = self.allocateContext()
        context.block_size = self._mediaBlockSize
        context.byte_start = byteStart
        buffer.retain()
        context.buffer = buffer
        context.is_write = buffer.getDirection() == kIODirectionOut
        mine = context.attributes
        if attributes is not None:
            mine.options, mine.priority = attributes.options, attributes.priority
            mine.bufattr = attributes.bufattr
        else:
            mine.options = mine.priority = 0
            mine.bufattr = None
        mine.adjustedOffset = 0
        theirs = context.completion
        theirs.target, theirs.action, theirs.parameter = (
            completion.target,
            completion.action,
            completion.parameter,
        )
        context.time_start = self._now()
        self.retain()
        if not context.block_size:
            IOStorage.complete(context.completion_out, kIOReturnNoMedia)
            return
        self.deblockRequest(byteStart, buffer, mine, context.completion_out, context)

    @staticmethod
    def prepareRequestCompletion(
        target: Any, parameter: Any, status: int, actualByteCount: int
    ) -> None:
        """The prepared request is done: statistics, unwire, the client's completion."""
        driver: RequestPipeline = target
        context: Context = parameter
        buffer = context.buffer
        assert buffer is not None
        if actualByteCount < buffer.getLength() and status == kIOReturnSuccess:
            status = kIOReturnUnderrun
        is_write = context.is_write
        driver.addToBytesTransferred(
            actualByteCount, driver._now() - context.time_start, 0, is_write
        )
        if status != kIOReturnSuccess:
            driver.incrementErrors(is_write)
        buffer.complete()
        buffer.release()
        theirs = context.completion
        target_, action, parameter_ = theirs.target, theirs.action, theirs.parameter
        theirs.target = theirs.action = theirs.parameter = None
        driver.deleteContext(context)
        if action is not None:
            action(target_, parameter_, status, actualByteCount)
        driver.release()

    def _now(self) -> int:
        """The virtual time (``clock_get_uptime``) of the driver's machine, found on
        first use and kept (a driver lives in one machine)."""
        scheduler = self._scheduler
        if scheduler is None:
            scheduler = self._scheduler = current_scheduler()
            if scheduler is None:
                return 0
        return scheduler.now

    def deblockRequest(
        self,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
        context: Context,
    ) -> None:
        """Round a request that is not block-aligned out to blocks (a read-modify-write
        for writes, one at a time); aligned ones go straight to ``breakUpRequest``."""
        block = context.block_size
        if byteStart % block == 0 and buffer.getLength() % block == 0:
            self.breakUpRequest(byteStart, buffer, attributes, completion, context)
            return
        deblocker = IODeblocker.withBlockSize(
            block, byteStart, buffer, attributes, completion, context
        )
        if deblocker is None:
            IOStorage.complete(completion, kIOReturnNoMemory)
            return
        if buffer.getDirection() == kIODirectionOut:
            self._deblockRequestWriteLockCount += 1
            if self._deblockRequestWriteLockCount > 1:
                assert_wait(self._deblock_write_event, THREAD_UNINT)
                thread_block()
        RequestPipeline.deblockRequestCompletion(self, deblocker, kIOReturnSuccess, 0)

    @property
    def _deblock_write_event(self) -> tuple[str, int]:
        return ("IOBlockStorageDriver deblock write", self.getRegistryEntryID())

    @staticmethod
    def deblockRequestCompletion(
        target: Any, parameter: Any, status: int, actualByteCount: int
    ) -> None:
        """A deblocker stage is done: issue the next, or finish the client's request."""
        driver: RequestPipeline = target
        deblocker: IODeblocker = parameter
        callback = deblocker.getThreadCallback()
        if callback is None:
            deblocker.setThreadCallback(RequestPipeline.deblockRequestExecute)
        if (
            actualByteCount < deblocker.getLength()
            or status != kIOReturnSuccess
            or not deblocker.getNextStage()
        ):
            if deblocker.getRequestBuffer().getDirection() == kIODirectionOut:
                driver._deblockRequestWriteLockCount -= 1
                if driver._deblockRequestWriteLockCount > 0:
                    thread_wakeup_one(driver._deblock_write_event)
            completion, count = deblocker.getRequestCompletion(actualByteCount)
            IOStorage.complete(completion, status, count)
            deblocker.release()
        elif callback is not None:
            thread_call_enter1(callback, driver)
        else:
            RequestPipeline.deblockRequestExecute(deblocker, driver)

    @staticmethod
    def deblockRequestExecute(parameter: Any, target: Any) -> None:
        driver: RequestPipeline = target
        deblocker: IODeblocker = parameter
        driver.breakUpRequest(
            deblocker.getByteStart(),
            deblocker.getStageBuffer(),
            deblocker.getRequestAttributes(),
            IOStorageCompletion(driver, RequestPipeline.deblockRequestCompletion, deblocker),
            deblocker.getRequestContext(),
        )

    def breakUpRequest(
        self,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
        context: Context,
    ) -> None:
        """Send a request larger than the device's limits as successive pieces."""
        limits = self._readLimits if buffer.getDirection() == kIODirectionIn else self._writeLimits
        breakSize = IOBreaker.getBreakSize(limits, context.block_size, buffer, 0)
        if breakSize == 0:
            IOStorage.complete(completion, kIOReturnDMAError)
            return
        if buffer.getLength() <= breakSize:
            self.executeRequest(byteStart, buffer, attributes, completion, context)
            return
        breaker = IOBreaker.withBreakSize(
            breakSize,
            limits,
            context.block_size,
            byteStart,
            buffer,
            attributes,
            completion,
            context,
        )
        RequestPipeline.breakUpRequestCompletion(self, breaker, kIOReturnSuccess, 0)

    @staticmethod
    def breakUpRequestCompletion(
        target: Any, parameter: Any, status: int, actualByteCount: int
    ) -> None:
        """A piece is done: send the next, or finish the request."""
        driver: RequestPipeline = target
        breaker: IOBreaker = parameter
        callback = breaker.getThreadCallback()
        if callback is None:
            breaker.setThreadCallback(RequestPipeline.breakUpRequestExecute)
        if (
            actualByteCount < breaker.getLength()
            or status != kIOReturnSuccess
            or not breaker.getNextStage()
        ):
            completion, count = breaker.getRequestCompletion(actualByteCount)
            IOStorage.complete(completion, status, count)
            breaker.release()
        elif callback is not None:
            thread_call_enter1(callback, driver)
        else:
            RequestPipeline.breakUpRequestExecute(breaker, driver)

    @staticmethod
    def breakUpRequestExecute(parameter: Any, target: Any) -> None:
        driver: RequestPipeline = target
        breaker: IOBreaker = parameter
        driver.executeRequest(
            breaker.getByteStart(),
            breaker.getStageBuffer(),
            breaker.getRequestAttributes(),
            IOStorageCompletion(driver, RequestPipeline.breakUpRequestCompletion, breaker),
            breaker.getRequestContext(),
        )

    def executeRequest(
        self,
        byteStart: int,
        buffer: IOMemoryDescriptor,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
        context: Context,
    ) -> None:
        """Hand one aligned, fitting transfer to the device."""
        if self._mediaObject is None:
            IOStorage.complete(completion, kIOReturnNoMedia)
            return
        device = self.getProvider()
        if device is None or device.isInactive():
            IOStorage.complete(completion, kIOReturnNotAttached)
            return
        block_size = context.block_size
        if attributes is None:
            attributes = context.attributes
        attributes.adjustedOffset = byteStart - context.byte_start
        result = device.doAsyncReadWrite(
            buffer,
            byteStart // block_size,
            buffer.getLength() // block_size,
            attributes,
            completion,
        )
        if result != kIOReturnSuccess:
            IOLog(
                "%s[IOBlockStorageDriver]; executeRequest: request failed to start!\n",
                self.getName(),
            )
            IOStorage.complete(completion, result)
