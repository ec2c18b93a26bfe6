"""IODMACommand: memory turned into bus addresses a device can use, bounced if need be.

Mirrors ``IODMACommand.h``/``IODMACommand.cpp`` (xnu).  The segment types and output
functions are in ``dma_segments.py``; the preflight, the bounce buffers and their
copies (xnu's ``walkAll``) in ``dma_preparation.py``.

Design
------
A driver describes its device once (``withSpecification``): how many address lines
it drives, the largest segment one descriptor entry can carry, the largest
transfer, the alignment its addresses need, and the *output function* that writes
each segment where the hardware wants it.  Per I/O it sets a memory descriptor,
``prepare``s a range of it, pulls segments with ``genIOVMSegments`` into its
scatter/gather list, runs the I/O, and ``complete``s.  Everything hard happens in
two places.

**Segment generation** walks the prepared range as *runs*: maximal stretches of
bus-contiguous bytes, ``(offset in the range, bus address, length)``, computed at
``prepare`` (the memory's physical runs, coalesced; after bouncing, the runs the
device will really see).  From an offset, a segment is the run containing it,
starting there, and then cut, in xnu's order:

1. past the address limit (``2**numAddressBits``)?  Only possible for a command that
   may not bounce (``kIterateOnly``): ``kIOReturnMessageTooLarge``;
2. longer than ``maxSegmentSize``: cut to it;
3. a length that is not a multiple of the alignment length: cut to one;
4. if it was cut, shortened further so that the *next* segment starts aligned
   (``fAlignMaskInternalSegments``);
5. (``kIterateOnly`` only) an address or length that breaks the alignment:
   ``kIOReturnNotAligned``.

The output function stores it at the next index; the walk stops at the end of the
range (the next call gets ``kIOReturnOverrun``) or when ``numSegments`` entries are
written.  ``offset`` and ``numSegments`` are then updated (in/out, as in C), and
only on success.  Lookup is a bisection of the runs, so a caller may restart at any
offset, as xnu allows.

**Bouncing** happens in ``prepare``, which decides whether the device can reach the
memory as it is.  It preflights the segments the memory would give and looks for
(a) bytes above the address limit and (b) any segment start or length that breaks
the alignment.

* Misaligned (or ``synchronize(kForceDoubleBuffer)``): *double buffering*.  The
  whole prepared range is copied into one page-aligned copy buffer within reach,
  and the segments describe the copy buffer instead.
* Only out of reach: *sparse bouncing*, as xnu does it with pages of low memory:
  the bytes above the limit (a whole run, or the tail of a run that crosses it) are
  given bounce pages, keeping their offset within the page; the bytes within reach
  stay where they are.

The copy buffer is an ``IOBufferMemoryDescriptor`` with a physical mask (xnu's
``createCopyBuffer`` uses ``0xFFFFF000``; kextlab also honours an address width
below 32 bits), so it appears among the live buffers while the command is prepared
and its bytes are booked to the kernel.  Data moves by ``memoryview`` slice
assignment between zero-copy views of RAM, one copy per bounced stretch: memory to
bounce at ``prepare`` (or ``synchronize(kIODirectionOut)``) for memory the device
reads, bounce to memory at ``complete`` (or ``synchronize(kIODirectionIn)``) for
memory it writes; which ones is the descriptor's direction when it was set
(``kIODirectionNone`` copies both ways), as xnu's ``SHOULD_COPY_DIR``.

kextlab has no IOMMU (``IOMapper``): ``kMapped`` behaves as it does on a Mac
without one, ``kBypassed`` is accepted, ``kNonCoherent``'s cache flushes are no-ops
(kextlab's DMA is coherent), and a ``mapper`` argument is taken for the device, as
xnu does with an object that is not an ``IOMapper``.

Departures from xnu, each a driver-visible bug there: a failed ``prepare`` leaves
the command unprepared (xnu counts some failures as prepares); a nested ``prepare``
of another range returns ``kIOReturnNotReady`` without counting; ``prepare``
without memory returns ``kIOReturnNotReady``, and of a range past the memory's end
``kIOReturnBadArgument``; ``cloneCommand`` copies the alignments unswapped.  A
forced double buffer rebuilds the preparation in place, whatever the nesting.

Open question: xnu's cursor fast path (no preflight when nothing can need bouncing)
is replaced by an always-run preflight, which costs one walk of the runs per
``prepare``; it gives the same segments.

Threading rules: ``prepare``/``synchronize``/``setMemoryDescriptor`` may allocate,
so interrupt context raises ``InterruptContextViolation`` when they must; call them
from the driver's threads, not from a filter.  ``genIOVMSegments`` never blocks.
A command is not thread-safe: one I/O at a time, as in xnu.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Final

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnBusy,
    kIOReturnMessageTooLarge,
    kIOReturnNoSpace,
    kIOReturnNotAligned,
    kIOReturnNotPermitted,
    kIOReturnNotReady,
    kIOReturnOverrun,
    kIOReturnSuccess,
)
from kextlab.kernel.memory.dma_preparation import (
    TO_DEVICE,
    TO_MEMORY,
    Preparation,
    SegmentLimits,
    build_preparation,
)
from kextlab.kernel.memory.dma_segments import (
    OUTPUT_32,
    OutputBig32,
    OutputBig64,
    OutputHost32,
    OutputHost64,
    OutputLittle32,
    OutputLittle64,
    Segment32,
    Segment64,
    SegmentFunction,
)
from kextlab.kernel.memory.kernel_memory import (
    KernelMemory,
    caller_location,
    kernel_memory,
)
from kextlab.kernel.memory.options import (
    PAGE_SHIFT,
    kIODirectionIn,
    kIODirectionNone,
    kIODirectionOut,
    kIODirectionOutIn,
    kIOMemoryDirectionMask,
)
from kextlab.kernel.workloop.command import IOCommand

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref

__all__ = [
    "IODMACommand",
    "Segment32",
    "Segment64",
    "SegmentFunction",
    "SegmentOptions",
    "kIODMAMapOptionBypassed",
    "kIODMAMapOptionIterateOnly",
    "kIODMAMapOptionMapped",
    "kIODMAMapOptionNonCoherent",
    "kIODMAMapOptionUnmapped",
]

kIODMAMapOptionMapped: Final = 0x0000_0000
kIODMAMapOptionBypassed: Final = 0x0000_0001
kIODMAMapOptionNonCoherent: Final = 0x0000_0002
kIODMAMapOptionUnmapped: Final = 0x0000_0003
kIODMAMapOptionTypeMask: Final = 0x0000_000F
kIODMAMapOptionNoCacheStore: Final = 0x0000_0010
kIODMAMapOptionOnChip: Final = 0x0000_0020
kIODMAMapOptionIterateOnly: Final = 0x0000_0040

_UNLIMITED: Final = (1 << 64) - 1
_MAPPING_TYPES: Final = (
    kIODMAMapOptionMapped,
    kIODMAMapOptionBypassed,
    kIODMAMapOptionNonCoherent,
    kIODMAMapOptionUnmapped,
)


@dataclass(frozen=True)
class SegmentOptions:
    """``IODMACommand::SegmentOptions``: the full specification."""

    fNumAddressBits: int
    fMaxSegmentSize: int
    fMaxTransferSize: int = 0
    fAlignment: int = 1
    fAlignmentLength: int = 1
    fAlignmentInternalSegments: int = 0


#: The name the methods' annotations use (inside the class, ``SegmentOptions`` is
#: the class attribute that exports the type as ``IODMACommand::SegmentOptions``).
_Specification = SegmentOptions


class IODMACommand(IOCommand):
    """Bus addresses for a memory descriptor, within a device's limits."""

    # MappingOptions
    kMapped: ClassVar[int] = kIODMAMapOptionMapped
    kBypassed: ClassVar[int] = kIODMAMapOptionBypassed
    kNonCoherent: ClassVar[int] = kIODMAMapOptionNonCoherent
    kUnmapped: ClassVar[int] = kIODMAMapOptionUnmapped
    kTypeMask: ClassVar[int] = kIODMAMapOptionTypeMask
    kNoCacheStore: ClassVar[int] = kIODMAMapOptionNoCacheStore
    kOnChip: ClassVar[int] = kIODMAMapOptionOnChip
    kIterateOnly: ClassVar[int] = kIODMAMapOptionIterateOnly
    # SynchronizeOptions
    kForceDoubleBuffer: ClassVar[int] = 0x0100_0000

    Segment32 = Segment32
    Segment64 = Segment64
    SegmentOptions = SegmentOptions
    OutputHost32 = staticmethod(OutputHost32)
    OutputBig32 = staticmethod(OutputBig32)
    OutputLittle32 = staticmethod(OutputLittle32)
    OutputHost64 = staticmethod(OutputHost64)
    OutputBig64 = staticmethod(OutputBig64)
    OutputLittle64 = staticmethod(OutputLittle64)

    def __init__(self) -> None:
        super().__init__()
        self.fRefCon: object = None
        self.fOutSeg: SegmentFunction | None = None
        self.fNumAddressBits = 0
        self.fMaxSegmentSize = _UNLIMITED
        self.fMaxTransferSize = _UNLIMITED
        self.fMappingOptions = 0
        self.fAlignMask = 0
        self.fAlignMaskLength = 0
        self.fAlignMaskInternalSegments = 0
        self.fMapper: object = None
        self.fDevice: object = None
        self.fMemory: IOMemoryDescriptor | None = None
        self.fActive = 0
        self._limits = SegmentLimits(_UNLIMITED, _UNLIMITED, 0, 0, 0)
        # what setMemoryDescriptor learnt of the memory (xnu's fMDSummary)
        self._summary_length = 0
        self._summary_direction = kIODirectionNone
        self._preparation: Preparation | None = None
        #: The books of the kernel the command prepares in, found at the first
        #: ``prepare`` and kept: a command lives in one kernel, whose memory state is
        #: made once and never replaced.
        self._kernel_memory: KernelMemory | None = None

    def __repr__(self) -> str:
        return self._description(self.fNumAddressBits, self.fActive)

    def _description(self, bits: int, active: int) -> str:
        return f"<{self.getClassName()} {bits or 64}-bit, {active} prepared>"

    def _books(self) -> KernelMemory:
        memory = self._kernel_memory
        if memory is None:
            memory = self._kernel_memory = kernel_memory()
        return memory

    # -- creation ---------------------------------------------------------------------------------

    @classmethod
    def withSpecification(
        cls,
        outSegFunc: SegmentFunction,
        numAddressBits: int,
        maxSegmentSize: int,
        mappingOptions: int = kIODMAMapOptionMapped,
        maxTransferSize: int = 0,
        alignment: int = 1,
        mapper: object = None,
        refCon: object = None,
    ) -> IODMACommand | None:
        """A command for a device with these limits, or None if they are invalid."""
        command = cls()
        if not command.initWithSpecification(
            outSegFunc,
            numAddressBits,
            maxSegmentSize,
            mappingOptions,
            maxTransferSize,
            alignment,
            mapper,
            refCon,
        ):
            command.release()
            return None
        return command

    @classmethod
    def withRefCon(cls, refCon: object = None) -> IODMACommand | None:
        """A command without a specification (``prepareWithSpecification`` gives it one)."""
        command = cls()
        command.initWithRefCon(refCon)
        return command

    def initWithRefCon(self, refCon: object = None) -> bool:
        self.fRefCon = refCon
        return self.init()

    def initWithSpecification(
        self,
        outSegFunc: SegmentFunction,
        numAddressBits: int,
        maxSegmentSize: int,
        mappingOptions: int = kIODMAMapOptionMapped,
        maxTransferSize: int = 0,
        alignment: int = 1,
        mapper: object = None,
        refCon: object = None,
    ) -> bool:
        """Set the specification: False if the mapping type is unknown, a 32-bit output
        function is given more than 32 address bits, or fewer bits than a page."""
        if not self.initWithRefCon(refCon):
            return False
        options = SegmentOptions(
            numAddressBits, maxSegmentSize, maxTransferSize, alignment, 1, alignment
        )
        result = self._set_specification(outSegFunc, options, mappingOptions, mapper)
        return result == kIOReturnSuccess

    def _set_specification(
        self,
        outSegFunc: SegmentFunction | None,
        options: _Specification,
        mappingOptions: int,
        mapper: object,
    ) -> int:
        """xnu's ``setSpecification``."""
        if outSegFunc is None:
            return kIOReturnBadArgument
        bits = options.fNumAddressBits
        if outSegFunc in OUTPUT_32:
            if not bits:
                bits = 32
            elif bits > 32:
                return kIOReturnBadArgument
        if bits and bits < PAGE_SHIFT:
            return kIOReturnBadArgument
        if mappingOptions & kIODMAMapOptionTypeMask not in _MAPPING_TYPES:
            return kIOReturnBadArgument
        self.fOutSeg = outSegFunc
        self.fNumAddressBits = bits
        self.fMaxSegmentSize = options.fMaxSegmentSize or _UNLIMITED
        self.fMaxTransferSize = options.fMaxTransferSize or _UNLIMITED
        self.fMappingOptions = mappingOptions
        self.fAlignMask = max(options.fAlignment, 1) - 1
        self.fAlignMaskLength = max(options.fAlignmentLength, 1) - 1
        internal = options.fAlignmentInternalSegments or self.fAlignMask + 1
        self.fAlignMaskInternalSegments = internal - 1
        self.fDevice = mapper  # no IOMapper exists here: xnu takes the object for the device
        self._limits = SegmentLimits(
            (1 << bits) - 1 if bits and bits < 64 else _UNLIMITED,
            self.fMaxSegmentSize,
            self.fAlignMask,
            self.fAlignMaskLength,
            self.fAlignMaskInternalSegments,
        )
        return kIOReturnSuccess

    def segment_options(self) -> _Specification:
        """The specification, as ``SegmentOptions``."""
        return SegmentOptions(
            self.fNumAddressBits,
            0 if self.fMaxSegmentSize == _UNLIMITED else self.fMaxSegmentSize,
            0 if self.fMaxTransferSize == _UNLIMITED else self.fMaxTransferSize,
            self.fAlignMask + 1,
            self.fAlignMaskLength + 1,
            self.fAlignMaskInternalSegments + 1,
        )

    def cloneCommand(self, refCon: object = None) -> IODMACommand | None:
        """A new command with this one's specification and none of its state."""
        command = type(self)()
        command.initWithRefCon(refCon)
        specification = self.segment_options()
        result = command._set_specification(
            self.fOutSeg, specification, self.fMappingOptions, self.fDevice
        )
        if result != kIOReturnSuccess:
            command.release()
            return None
        return command

    def getNumAddressBits(self) -> int:
        return self.fNumAddressBits

    def getAlignment(self) -> int:
        return self.fAlignMask + 1

    def getAlignmentLength(self) -> int:
        return self.fAlignMaskLength + 1

    def getAlignmentInternalSegments(self) -> int:
        return self.fAlignMaskInternalSegments + 1

    # -- the memory -----------------------------------------------------------------------------

    def setMemoryDescriptor(self, mem: IOMemoryDescriptor | None, autoPrepare: bool = True) -> int:
        """Use ``mem`` for the next I/Os (retained), and ``prepare`` it all unless told
        not to.  ``kIOReturnBusy`` while another memory is prepared."""
        if mem is self.fMemory:
            if not autoPrepare:
                while self.fActive:
                    self.complete()
            return kIOReturnSuccess
        if self.fMemory is not None:
            if self.fActive:
                return kIOReturnBusy
            self.clearMemoryDescriptor()
        if mem is None:
            return kIOReturnSuccess
        # getLength and getDirection, read directly (this package's own descriptor).
        self._summary_length = mem._length
        self._summary_direction = mem._flags & kIOMemoryDirectionMask
        mem.retain()
        mem.dma_references += 1
        self.fMemory = mem
        if autoPrepare:
            result = self.prepare()
            if result != kIOReturnSuccess:
                self.clearMemoryDescriptor()
            return result
        return kIOReturnSuccess

    def clearMemoryDescriptor(self, autoComplete: bool = True) -> int:
        """Complete (copying bounced data back) and let go of the memory."""
        if self.fActive and not autoComplete:
            return kIOReturnNotReady
        memory = self.fMemory
        if memory is not None:
            while self.fActive:
                self.complete()
            memory.dma_references -= 1
            self.fMemory = None
            memory.release()
        return kIOReturnSuccess

    def getMemoryDescriptor(self) -> IOMemoryDescriptor | None:
        return self.fMemory

    def getIOMemoryDescriptor(self) -> IOMemoryDescriptor | None:
        """The memory the device really sees: the copy buffer when double buffering."""
        preparation = self._preparation
        if preparation is not None and preparation.double_buffer:
            return preparation.copy
        return self.fMemory

    # -- prepare and complete -------------------------------------------------------------------

    def prepare(
        self,
        offset: int = 0,
        length: int = 0,
        flushCache: bool = True,
        synchronize: bool = True,
    ) -> int:
        """Make ``[offset, offset + length)`` of the memory (all of it for 0) ready for
        the device: bounce what it cannot reach, copying data in if the device reads
        it.  Prepares nest for the same range."""
        if self.fOutSeg is None or self.fMemory is None:
            return kIOReturnNotReady
        if not length:
            length = self._summary_length
        if length > self.fMaxTransferSize:
            return kIOReturnNoSpace
        if self.fActive:
            preparation = self._preparation
            assert preparation is not None
            if (offset, length) != (preparation.offset, preparation.length):
                return kIOReturnNotReady
            self.fActive += 1
            return kIOReturnSuccess
        if self.fAlignMaskLength & length:
            return kIOReturnNotAligned
        if offset < 0 or length <= 0 or offset + length > self.fMemory._length:
            return kIOReturnBadArgument
        memory = self._kernel_memory or self._books()
        result = self._build(memory, offset, length, synchronize=synchronize, force=False)
        if result == kIOReturnSuccess:
            self.fActive = 1
            memory.dma.prepares += 1
        return result

    def complete(self, invalidateCache: bool = True, synchronize: bool = True) -> int:
        """Undo one ``prepare``; the last one copies data the device wrote back from the
        bounce buffers and frees them.  ``kIOReturnNotReady`` if not prepared."""
        if self.fActive < 1:
            return kIOReturnNotReady
        self.fActive -= 1
        if self.fActive == 0:
            self._tear_down(self._kernel_memory or self._books(), synchronize=synchronize)
        return kIOReturnSuccess

    def synchronize(self, options: int) -> int:
        """Copy between the memory and the bounce buffers now: ``kIODirectionOut``
        memory -> buffers, ``kIODirectionIn`` buffers -> memory;
        ``kForceDoubleBuffer`` moves the whole preparation into a copy buffer."""
        if options & kIODirectionOutIn == kIODirectionOutIn:
            return kIOReturnBadArgument
        preparation = self._preparation
        if self.fActive < 1 or preparation is None:
            return kIOReturnNotReady
        memory = self._kernel_memory or self._books()
        if options & self.kForceDoubleBuffer:
            if preparation.double_buffer:
                return kIOReturnSuccess
            self._tear_down(memory, synchronize=True)
            result = self._build(
                memory, preparation.offset, preparation.length, synchronize=True, force=True
            )
            if result != kIOReturnSuccess:
                self.fActive = 0
            return result
        direction = self._summary_direction
        if options & kIODirectionIn:
            preparation.synchronize(memory, TO_MEMORY, direction, always=True)
        elif options & kIODirectionOut:
            preparation.synchronize(memory, TO_DEVICE, direction, always=True)
        return kIOReturnSuccess

    def getPreparedOffsetAndLength(self, offset: UInt64Ref | None, length: UInt64Ref | None) -> int:
        preparation = self._preparation
        if self.fActive < 1 or preparation is None:
            return kIOReturnNotReady
        if offset is not None:
            offset.value = preparation.offset
        if length is not None:
            length.value = preparation.length
        return kIOReturnSuccess

    def prepareWithSpecification(
        self,
        outSegFunc: SegmentFunction,
        numAddressBits: int,
        maxSegmentSize: int,
        mappingOptions: int = kIODMAMapOptionMapped,
        maxTransferSize: int = 0,
        alignment: int = 1,
        mapper: object = None,
        offset: int = 0,
        length: int = 0,
        flushCache: bool = True,
        synchronize: bool = True,
    ) -> int:
        """Set a new specification and prepare (``kIOReturnNotPermitted`` if prepared)."""
        if self.fActive:
            return kIOReturnNotPermitted
        options = SegmentOptions(
            numAddressBits, maxSegmentSize, maxTransferSize, alignment, 1, alignment
        )
        result = self._set_specification(outSegFunc, options, mappingOptions, mapper)
        if result != kIOReturnSuccess:
            return result
        return self.prepare(offset, length, flushCache, synchronize)

    def _build(
        self, memory: KernelMemory, offset: int, length: int, *, synchronize: bool, force: bool
    ) -> int:
        """Build the preparation of ``[offset, +length)``, copy toward the device if
        asked, and book it."""
        descriptor = self.fMemory
        assert descriptor is not None
        result, preparation = build_preparation(
            memory,
            descriptor.physical_runs(offset, length),
            offset,
            length,
            self._limits,
            direction=self._summary_direction,
            iterate_only=bool(self.fMappingOptions & self.kIterateOnly),
            force_double_buffer=force,
        )
        if preparation is None:
            return result
        self._preparation = preparation
        if preparation.bounces:  # (nothing to copy otherwise)
            if synchronize:
                preparation.synchronize(memory, TO_DEVICE, self._summary_direction, always=False)
            memory.dma.bounced_prepares += 1
        # Booked raw (every I/O prepares) and named only when a report is made: the
        # command as it is now (its width and prepare count), the memory as it is
        # when reported.
        memory.command_prepared(
            self,
            partial(self._description, self.fNumAddressBits, self.fActive),
            descriptor,
            offset,
            length,
            preparation.bounce_bytes,
            caller_location(3),  # past _build and prepare (or synchronize), ours
        )
        return kIOReturnSuccess

    def _tear_down(self, memory: KernelMemory, *, synchronize: bool) -> None:
        preparation = self._preparation
        if preparation is not None:
            if synchronize and preparation.bounces:
                preparation.synchronize(memory, TO_MEMORY, self._summary_direction, always=False)
            if preparation.copy is not None:
                preparation.release()
            self._preparation = None
        memory.command_completed(self)

    def bounce_bytes(self) -> int:
        """Bytes of the prepared range the device reaches through a copy buffer."""
        return self._preparation.bounce_bytes if self._preparation is not None else 0

    # -- segments ---------------------------------------------------------------------------------

    def genIOVMSegments(self, offset: UInt64Ref, segments: Any, numSegments: UInt32Ref) -> int:
        """Write up to ``numSegments.value`` segments from ``offset.value`` (relative to
        the prepared offset) through the output function into ``segments``; on
        success ``offset`` is advanced and ``numSegments`` says how many were made."""
        preparation = self._preparation
        if not self.fActive or preparation is None:
            return kIOReturnNotReady
        if offset is None or segments is None or numSegments is None or numSegments.value <= 0:
            return kIOReturnBadArgument
        position, end = offset.value, preparation.length
        if position >= end:
            return kIOReturnOverrun
        output = self.fOutSeg
        assert output is not None
        limits = self._limits
        bits = self.fNumAddressBits
        runs, run_offsets = preparation.runs, preparation.run_offsets
        count, room = 0, numSegments.value
        while position < end and count < room:
            # Preparation.extent, inlined: the bus run at position, to its end or ``end``
            index = bisect.bisect_right(run_offsets, position) - 1
            run_offset, address, length = runs[index]
            address += position - run_offset
            length = min(length - position + run_offset, end - position)
            if address + length - 1 > limits.max_address:
                return kIOReturnMessageTooLarge
            if length > limits.max_segment_size or length & limits.align_mask_length:
                length = limits.cut(address, length)  # (``cut`` changes nothing else)
            if preparation.cursor:
                mask = limits.align_mask_internal if count else limits.align_mask
                if address & mask or length & limits.align_mask_length:
                    return kIOReturnNotAligned
            result = kIOReturnSuccess
            if bits and bits < 64 and (address + length - 1) >> bits:
                result = kIOReturnMessageTooLarge
            if not output(self, Segment64(address, length), segments, count):
                result = kIOReturnMessageTooLarge
            if result != kIOReturnSuccess:
                return result
            count += 1
            position += length
        offset.value = position
        numSegments.value = count
        return kIOReturnSuccess

    #: ``genIOVMSegments`` for a 32-bit output function (Host32/Big32/Little32) and
    #: for a 64-bit one (Host64/Big64/Little64): the output function sets the width,
    #: so both are the same walk (aliases: a driver calls one per I/O).
    gen32IOVMSegments = genIOVMSegments
    gen64IOVMSegments = genIOVMSegments

    # -- bytes as the device sees them ------------------------------------------------------------

    def readBytes(self, offset: int, bytes: bytearray | memoryview, length: int) -> int:
        """Copy from the memory the device reaches (bounce buffers included) at
        ``offset`` into the prepared range; the count copied (0 if not prepared)."""
        return self._transfer(offset, memoryview(bytes).cast("B"), length, into_device=False)

    def writeBytes(self, offset: int, bytes: bytes | bytearray | memoryview, length: int) -> int:
        """Copy into the memory the device reaches; the count copied."""
        return self._transfer(offset, memoryview(bytes).cast("B"), length, into_device=True)

    def _transfer(self, offset: int, buffer: memoryview, length: int, *, into_device: bool) -> int:
        preparation = self._preparation
        if self.fActive < 1 or preparation is None or offset < 0 or offset >= preparation.length:
            return 0
        length = min(length, preparation.length - offset, len(buffer))
        view = (self._kernel_memory or self._books()).view
        done = 0
        while done < length:
            address, run_length = preparation.extent(offset + done, offset + length)
            device = view(address, run_length)
            if into_device:
                device[:] = buffer[done : done + run_length]
            else:
                buffer[done : done + run_length] = device
            done += run_length
        return done

    # -- the end ----------------------------------------------------------------------------------

    def free(self) -> None:
        # A command freed with its memory still set: xnu "chooses the leak over the
        # panic" and lets go of the memory without releasing it; so does kextlab (the
        # leak checks then name the memory, and the preparation if it is still on).
        self.fMemory = None
        super().free()
