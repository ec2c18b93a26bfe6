"""IODMACommand: specifications, segment generation, limits, and bounce buffers.

The default machine runs a 64-bit kernel whose buffers land above 4 GiB, so a
command for a 32-bit device must bounce them; one for a 64-bit device must not.
"device" writes are simulated by writing RAM at the bus addresses the command
produced (the end-to-end test with the real test card is ``test_testcard_dma``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import pytest

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
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import (
    dma_statistics,
    kernel_view,
    live_buffer_descriptors,
    prepared_commands,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor, kernel_task
from kextlab.kernel.memory.dma_command import IODMACommand, Segment32, Segment64
from kextlab.kernel.memory.dma_segments import SegmentFunction
from kextlab.kernel.memory.errors import DMAActiveError, MemoryNotWiredError
from kextlab.kernel.memory.malloc import IOFree, IOMalloc
from kextlab.kernel.memory.options import (
    kIODirectionIn,
    kIODirectionInOut,
    kIODirectionNone,
    kIODirectionOut,
    kIODirectionOutIn,
)
from kextlab.kernel.memory.physical import FOUR_GIB
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref

PATTERN = bytes(range(256)) * 64  # 16 KiB


def command(
    bits: int = 64,
    max_segment: int = 0,
    *,
    output: SegmentFunction = IODMACommand.OutputHost64,
    mapping: int = IODMACommand.kMapped,
    max_transfer: int = 0,
    alignment: int = 1,
) -> IODMACommand:
    made = IODMACommand.withSpecification(
        output, bits, max_segment, mapping, max_transfer, alignment
    )
    assert made is not None
    return made


def buffer(length: int, direction: int, data: bytes = b"") -> IOBufferMemoryDescriptor:
    made = IOBufferMemoryDescriptor.withCapacity(length, direction)
    assert made is not None
    if data:
        view = made.getBytesNoCopy()
        assert view is not None
        view[: len(data)] = data
    return made


def segments_of(dma: IODMACommand, room: int = 64) -> list[tuple[int, int]]:
    """Every segment of the prepared range, ``room`` at a time."""
    result: list[tuple[int, int]] = []
    offset = UInt64Ref(0)
    while True:
        batch = [Segment64() for _ in range(room)]
        count = UInt32Ref(room)
        status = dma.gen64IOVMSegments(offset, batch, count)
        if status == kIOReturnOverrun:
            return result
        assert status == kIOReturnSuccess
        result.extend((segment.fIOVMAddr, segment.fLength) for segment in batch[: count.value])


@pytest.fixture
def cleanup(kernel: Kernel) -> Iterator[Callable[..., None]]:
    """Release objects at the end, and check nothing was left prepared or live."""
    objects: list[IODMACommand | IOMemoryDescriptor] = []

    def keep(*made: IODMACommand | IOMemoryDescriptor) -> None:
        objects.extend(made)

    yield keep
    for made in objects:
        if isinstance(made, IODMACommand):
            made.clearMemoryDescriptor()
    for made in reversed(objects):
        made.release()
    assert prepared_commands(kernel) == []
    assert live_buffer_descriptors(kernel) == []


# -- specifications ------------------------------------------------------------------------------


def test_a_specification_is_checked_as_xnu_checks_it(kernel: Kernel) -> None:
    """Unknown mapping types, too few address bits, or a 32-bit output function with
    more than 32 bits give no command; a 32-bit function with 0 bits means 32."""
    assert IODMACommand.withSpecification(IODMACommand.OutputHost32, 40, 0) is None
    assert IODMACommand.withSpecification(IODMACommand.OutputHost64, 8, 0) is None
    assert IODMACommand.withSpecification(IODMACommand.OutputHost64, 64, 0, 0x7) is None
    thirty_two = IODMACommand.withSpecification(IODMACommand.OutputLittle32, 0, 0)
    assert thirty_two is not None
    assert thirty_two.getNumAddressBits() == 32
    assert thirty_two.getAlignment() == 1
    thirty_two.release()


def test_a_dma_command_is_an_iocommand(kernel: Kernel) -> None:
    """As in xnu, IODMACommand derives from IOCommand (pools can hand it out)."""
    from kextlab.kernel.workloop.command import IOCommand

    dma = command(64)
    assert isinstance(dma, IOCommand)
    assert IODMACommand.inheritance() == ["IOCommand", "IODMACommand"]
    dma.release()


def test_a_clone_has_the_specification_and_none_of_the_state(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """cloneCommand copies limits and output function, not the memory."""
    original = command(32, 4096, alignment=8, max_transfer=1 << 20)
    memory = buffer(8192, kIODirectionOut)
    cleanup(original, memory)
    assert original.setMemoryDescriptor(memory) == kIOReturnSuccess
    clone = original.cloneCommand("refcon")
    assert clone is not None
    cleanup(clone)
    assert clone.fRefCon == "refcon"
    assert clone.segment_options() == original.segment_options()
    assert clone.fOutSeg is IODMACommand.OutputHost64
    assert clone.getMemoryDescriptor() is None


# -- segments -------------------------------------------------------------------------------------


def test_reachable_memory_gives_its_own_addresses(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """A 64-bit device reaches memory above 4 GiB: one segment, no bounce buffer."""
    memory = buffer(10000, kIODirectionOut)
    dma = command(64)
    cleanup(dma, memory)
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    assert segments_of(dma) == [(memory.buffer_address(), 10000)]
    assert dma.bounce_bytes() == 0
    assert len(live_buffer_descriptors(kernel)) == 1


def test_segments_never_exceed_the_maximum_segment_size(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """10000 bytes with 4096-byte segments: 4096, 4096, 1808."""
    memory = buffer(10000, kIODirectionOut)
    dma = command(64, 4096)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    base = memory.buffer_address()
    assert segments_of(dma) == [(base, 4096), (base + 4096, 4096), (base + 8192, 1808)]


def test_offset_and_count_are_advanced_in_and_out(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """numSegments is the room in and the count out; offset moves on; then Overrun."""
    memory = buffer(10000, kIODirectionOut)
    dma = command(64, 4096)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    offset, count = UInt64Ref(0), UInt32Ref(2)
    segments = [Segment64() for _ in range(2)]
    assert dma.genIOVMSegments(offset, segments, count) == kIOReturnSuccess
    assert (offset.value, count.value) == (8192, 2)
    count.value = 2
    assert dma.genIOVMSegments(offset, segments, count) == kIOReturnSuccess
    assert (offset.value, count.value) == (10000, 1)
    assert segments[0].fLength == 1808
    assert dma.genIOVMSegments(offset, segments, UInt32Ref(2)) == kIOReturnOverrun
    restart = UInt64Ref(5000)  # any offset may be asked for
    assert dma.genIOVMSegments(restart, segments, UInt32Ref(1)) == kIOReturnSuccess
    assert (segments[0].fIOVMAddr, segments[0].fLength) == (memory.buffer_address() + 5000, 4096)
    assert dma.genIOVMSegments(offset, segments, UInt32Ref(0)) == kIOReturnBadArgument


def test_every_output_function_writes_its_own_format(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """Host functions fill Segment objects; Big/Little write raw entries in order."""
    memory = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIODirectionOut, 6000, 0xFFFF_F000
    )
    assert memory is not None
    cleanup(memory)
    base = memory.buffer_address()
    expected = [(base, 4096), (base + 4096, 1904)]
    raw: dict[SegmentFunction, tuple[str, int]] = {
        IODMACommand.OutputBig32: (">II", 8),
        IODMACommand.OutputLittle32: ("<II", 8),
        IODMACommand.OutputBig64: (">QQ", 16),
        IODMACommand.OutputLittle64: ("<QQ", 16),
    }
    for function, (layout, size) in raw.items():
        dma = command(32 if size == 8 else 64, 4096, output=function)
        cleanup(dma)
        dma.setMemoryDescriptor(memory)
        table = bytearray(2 * size)
        count = UInt32Ref(2)
        assert dma.genIOVMSegments(UInt64Ref(0), table, count) == kIOReturnSuccess
        assert count.value == 2
        assert list(struct.iter_unpack(layout, table)) == expected
        dma.clearMemoryDescriptor()
    host32 = command(32, 4096, output=IODMACommand.OutputHost32)
    cleanup(host32)
    host32.setMemoryDescriptor(memory)
    held = Segment32()
    listed: list[Segment32] = [held]
    assert host32.gen32IOVMSegments(UInt64Ref(0), listed, UInt32Ref(2)) == kIOReturnSuccess
    assert listed[0] is held  # filled in place
    assert [(s.fIOVMAddr, s.fLength) for s in listed] == expected  # and appended
    host64 = command(64, 4096, output=IODMACommand.OutputHost64)
    cleanup(host64)
    host64.setMemoryDescriptor(memory)
    assert segments_of(host64) == expected


def test_a_scatter_gather_table_can_be_built_in_dma_memory(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """OutputLittle64 writes straight into a buffer descriptor's bytes."""
    memory = buffer(3 * 4096, kIODirectionOut)
    table = buffer(64, kIODirectionInOut)
    dma = command(64, 4096, output=IODMACommand.OutputLittle64)
    cleanup(dma, memory, table)
    dma.setMemoryDescriptor(memory)
    view = table.getBytesNoCopy()
    assert view is not None
    count = UInt32Ref(4)
    assert dma.genIOVMSegments(UInt64Ref(0), view, count) == kIOReturnSuccess
    assert count.value == 3
    entries = list(struct.iter_unpack("<QQ", bytes(view[:48])))
    assert entries == [(memory.buffer_address() + 4096 * i, 4096) for i in range(3)]


def test_alignment_cuts_keep_the_next_segment_aligned(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """With 512-byte alignment and 1000-byte segments, each cut lands on 512."""
    memory = buffer(2048, kIODirectionOut)
    dma = command(64, 1000, alignment=512)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    base = memory.buffer_address()
    assert segments_of(dma) == [(base + 512 * i, 512) for i in range(4)]
    assert dma.bounce_bytes() == 0


def test_a_transfer_above_the_maximum_is_refused(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """Longer than maxTransferSize: kIOReturnNoSpace, and the memory is let go."""
    memory = buffer(8192, kIODirectionOut)
    dma = command(64, max_transfer=4096)
    cleanup(dma, memory)
    assert dma.setMemoryDescriptor(memory) == kIOReturnNoSpace
    assert dma.getMemoryDescriptor() is None
    assert memory.getRetainCount() == 1
    assert dma.setMemoryDescriptor(memory, autoPrepare=False) == kIOReturnSuccess
    assert dma.prepare(4096, 4096) == kIOReturnSuccess  # a part of it fits
    assert segments_of(dma) == [(memory.buffer_address() + 4096, 4096)]


def test_generating_without_a_preparation_is_not_ready(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """genIOVMSegments, complete and synchronize need a prepared command."""
    dma = command(64)
    cleanup(dma)
    segments = [Segment64()]
    assert dma.genIOVMSegments(UInt64Ref(0), segments, UInt32Ref(1)) == kIOReturnNotReady
    assert dma.complete() == kIOReturnNotReady
    assert dma.synchronize(kIODirectionIn) == kIOReturnNotReady
    assert dma.prepare() == kIOReturnNotReady  # no memory yet


# -- preparation ----------------------------------------------------------------------------------


def test_prepares_nest_for_the_same_range_only(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """A second prepare of the same range counts; of another is refused."""
    memory = buffer(8192, kIODirectionOut)
    dma = command(64)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory, autoPrepare=False)
    assert dma.prepare(1024, 2048) == kIOReturnSuccess
    assert dma.prepare(1024, 2048) == kIOReturnSuccess
    assert dma.prepare(0, 2048) == kIOReturnNotReady
    offset, length = UInt64Ref(), UInt64Ref()
    assert dma.getPreparedOffsetAndLength(offset, length) == kIOReturnSuccess
    assert (offset.value, length.value) == (1024, 2048)
    assert segments_of(dma) == [(memory.buffer_address() + 1024, 2048)]
    assert dma.complete() == kIOReturnSuccess
    assert len(prepared_commands(kernel)) == 1
    assert dma.complete() == kIOReturnSuccess
    assert prepared_commands(kernel) == []
    assert dma.prepare(0, 16384) == kIOReturnBadArgument  # past the memory's end


def test_a_prepared_command_is_listed_until_completed(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """The registry names the command, its memory, the range, the bounce and the site."""
    memory = buffer(4096, kIODirectionOut)
    dma = command(32)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    (record,) = prepared_commands(kernel)
    assert record.length == 4096
    assert record.bounce_bytes == 4096
    assert record.site.startswith("test_dma_command.py:")
    assert "prepared over <IOBufferMemoryDescriptor" in str(record)
    other = buffer(16, kIODirectionOut)
    cleanup(other)
    assert dma.setMemoryDescriptor(other) == kIOReturnBusy
    dma.clearMemoryDescriptor()
    assert prepared_commands(kernel) == []


def test_memory_must_be_wired_for_a_command(kernel: Kernel, cleanup: Callable[..., None]) -> None:
    """An unprepared kernel range cannot be prepared for DMA (xnu panics)."""
    address = IOMalloc(256)
    memory = IOMemoryDescriptor.withAddressRange(address, 256, kIODirectionOut, kernel_task)
    assert memory is not None
    dma = command(64)
    cleanup(dma, memory)
    with pytest.raises(MemoryNotWiredError):
        dma.setMemoryDescriptor(memory)
    dma.clearMemoryDescriptor()
    memory.prepare()
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    with pytest.raises(DMAActiveError, match="clearMemoryDescriptor"):
        memory.complete()
    dma.clearMemoryDescriptor()
    assert memory.complete() == kIOReturnSuccess
    IOFree(address, 256)


# -- bouncing -------------------------------------------------------------------------------------


def test_memory_beyond_the_address_bits_is_bounced_for_the_device_to_read(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """A 32-bit device reading a buffer above 4 GiB reads a copy below it."""
    memory = buffer(len(PATTERN), kIODirectionOut, PATTERN)
    assert memory.buffer_address() >= FOUR_GIB
    dma = command(32)
    cleanup(dma, memory)
    before = dma_statistics(kernel)
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    ((address, length),) = segments_of(dma)
    assert address + length <= FOUR_GIB
    assert length == len(PATTERN)
    assert bytes(kernel_view(address, length)) == PATTERN
    assert dma.bounce_bytes() == len(PATTERN)
    (bounce,) = [record for record in live_buffer_descriptors(kernel) if record.address == address]
    assert bounce.capacity == len(PATTERN)
    after = dma_statistics(kernel)
    assert after.bounced_prepares == before.bounced_prepares + 1
    assert after.bytes_bounced == before.bytes_bounced + len(PATTERN)
    dma.clearMemoryDescriptor()
    assert len(live_buffer_descriptors(kernel)) == 1  # the bounce buffer is gone


def test_what_the_device_writes_to_a_bounce_buffer_reaches_memory_on_complete(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """kIODirectionIn: nothing is copied in at prepare, everything back at complete."""
    memory = buffer(8192, kIODirectionIn, b"\xee" * 8192)
    dma = command(32)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    ((address, length),) = segments_of(dma)
    assert bytes(kernel_view(address, 16)) == bytes(16)  # not copied in
    kernel_view(address, length)[:] = PATTERN[:length]  # the device writes
    assert dma.complete() == kIOReturnSuccess
    target = memory.getBytesNoCopy()
    assert target is not None
    assert bytes(target) == PATTERN[:8192]


def test_complete_without_synchronize_copies_nothing_back(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """complete(synchronize=False) drops what is in the bounce buffer."""
    memory = buffer(4096, kIODirectionIn)
    dma = command(32)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    ((address, length),) = segments_of(dma)
    kernel_view(address, length)[:] = b"\x11" * length
    dma.complete(synchronize=False)
    assert bytes(memory.getBytesNoCopy() or b"") == bytes(4096)


def test_synchronize_copies_either_way_on_demand(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """synchronize(Out) refreshes the bounce copy, synchronize(In) the memory."""
    memory = buffer(4096, kIODirectionNone)
    dma = command(32)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    ((address, _),) = segments_of(dma)
    original = memory.getBytesNoCopy()
    assert original is not None
    original[:4] = b"new!"
    assert bytes(kernel_view(address, 4)) == bytes(4)
    assert dma.synchronize(kIODirectionOut) == kIOReturnSuccess
    assert bytes(kernel_view(address, 4)) == b"new!"
    kernel_view(address, 4)[:] = b"back"
    assert dma.synchronize(kIODirectionIn) == kIOReturnSuccess
    assert bytes(original[:4]) == b"back"
    assert dma.synchronize(kIODirectionOutIn) == kIOReturnBadArgument


def test_misaligned_memory_is_double_buffered(kernel: Kernel, cleanup: Callable[..., None]) -> None:
    """Memory 3 bytes off a 4-byte boundary: the whole range moves to an aligned copy."""
    block = buffer(4096, kIODirectionOut, PATTERN[:4096])
    memory = IOMemoryDescriptor.withAddressRange(
        block.buffer_address() + 3, 1000, kIODirectionOut, kernel_task
    )
    assert memory is not None
    memory.prepare()
    dma = command(64, alignment=4)
    cleanup(dma, memory, block)
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    ((address, length),) = segments_of(dma)
    assert address % 4096 == 0
    assert address < FOUR_GIB  # xnu's copy buffers are 32-bit
    assert length == 1000
    assert bytes(kernel_view(address, 1000)) == PATTERN[3:1003]
    copy = dma.getIOMemoryDescriptor()
    assert copy is not None
    assert copy is not memory
    dma.clearMemoryDescriptor()
    memory.complete()


def test_an_iterate_only_command_reports_what_it_cannot_reach(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """kIterateOnly never bounces: unreachable or misaligned segments are errors."""
    memory = buffer(4096, kIODirectionOut)
    cursor = command(32, mapping=IODMACommand.kIterateOnly)
    cleanup(cursor, memory)
    assert cursor.setMemoryDescriptor(memory) == kIOReturnSuccess
    segments = [Segment64()]
    assert cursor.genIOVMSegments(UInt64Ref(0), segments, UInt32Ref(1)) == (
        kIOReturnMessageTooLarge
    )
    assert cursor.bounce_bytes() == 0
    cursor.clearMemoryDescriptor()
    odd = IOMemoryDescriptor.withAddressRange(
        memory.buffer_address() + 2, 64, kIODirectionOut, kernel_task
    )
    assert odd is not None
    odd.prepare()
    aligned_cursor = command(64, mapping=IODMACommand.kIterateOnly, alignment=4)
    cleanup(aligned_cursor, odd)
    aligned_cursor.setMemoryDescriptor(odd)
    assert aligned_cursor.genIOVMSegments(UInt64Ref(0), segments, UInt32Ref(1)) == (
        kIOReturnNotAligned
    )
    aligned_cursor.clearMemoryDescriptor()
    odd.complete()


def test_only_the_part_beyond_reach_is_bounced(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """A range crossing the limit keeps its head in place; its tail goes to a bounce
    page at the same page offset (xnu's sparse bouncing)."""
    limit = 1 << 30  # a 30-bit device on the default machine's RAM below 2 GiB
    start = limit - 0x1800
    kernel.machine.memory.write(start, PATTERN[:0x3000])
    memory = IOMemoryDescriptor.withPhysicalAddress(start, 0x3000, kIODirectionInOut)
    assert memory is not None
    dma = command(30)
    cleanup(dma, memory)
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    (head, tail) = segments_of(dma)
    assert head == (start, 0x1800)
    assert tail[1] == 0x1800
    assert tail[0] + tail[1] <= limit
    assert tail[0] % 4096 == 0  # the bounced bytes started on a page
    assert dma.bounce_bytes() == 0x1800
    assert bytes(kernel_view(tail[0], 0x1800)) == PATTERN[0x1800:0x3000]
    kernel_view(tail[0], 4)[:] = b"TAIL"  # the device writes the tail
    dma.clearMemoryDescriptor()
    assert kernel.machine.memory.read(limit, 4) == b"TAIL"


def test_a_forced_double_buffer_moves_reachable_memory_into_a_copy(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """synchronize(kForceDoubleBuffer): new segments in a copy, data carried over."""
    memory = buffer(4096, kIODirectionInOut, PATTERN[:4096])
    dma = command(64)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    assert segments_of(dma) == [(memory.buffer_address(), 4096)]
    assert dma.synchronize(IODMACommand.kForceDoubleBuffer) == kIOReturnSuccess
    ((address, length),) = segments_of(dma)
    assert address != memory.buffer_address()
    assert bytes(kernel_view(address, length)) == PATTERN[:4096]
    assert dma.synchronize(IODMACommand.kForceDoubleBuffer) == kIOReturnSuccess
    kernel_view(address, 4)[:] = b"copy"
    dma.complete()
    assert bytes((memory.getBytesNoCopy() or b"")[:4]) == b"copy"


def test_read_and_write_bytes_reach_what_the_device_sees(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """The command's readBytes/writeBytes go to the bounce buffer when there is one."""
    memory = buffer(4096, kIODirectionInOut, PATTERN[:4096])
    dma = command(32)
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory)
    ((address, _),) = segments_of(dma)
    assert dma.writeBytes(10, b"xyz", 3) == 3
    assert bytes(kernel_view(address + 10, 3)) == b"xyz"
    assert bytes((memory.getBytesNoCopy() or b"")[10:13]) == PATTERN[10:13]
    target = bytearray(5)
    assert dma.readBytes(8, target, 5) == 5
    assert bytes(target) == PATTERN[8:10] + b"xyz"
    assert dma.readBytes(4096, target, 5) == 0


def test_a_new_specification_needs_an_unprepared_command(
    kernel: Kernel, cleanup: Callable[..., None]
) -> None:
    """prepareWithSpecification is refused while prepared, and works after."""
    memory = buffer(4096, kIODirectionOut)
    dma = IODMACommand.withRefCon("me")
    assert dma is not None
    cleanup(dma, memory)
    dma.setMemoryDescriptor(memory, autoPrepare=False)
    assert dma.prepare() == kIOReturnNotReady  # no specification yet
    assert dma.prepareWithSpecification(IODMACommand.OutputHost64, 32, 0) == kIOReturnSuccess
    assert dma.bounce_bytes() == 4096
    assert dma.prepareWithSpecification(IODMACommand.OutputHost64, 64, 0) == (kIOReturnNotPermitted)
    dma.complete()


def test_a_32_bit_kernel_needs_no_bounce_for_a_32_bit_device(kernel32: Kernel) -> None:
    """On a 32-bit kernel every buffer is below 4 GiB: nothing to bounce."""
    memory = buffer(8192, kIODirectionOut)
    dma = command(32)
    assert dma.setMemoryDescriptor(memory) == kIOReturnSuccess
    assert segments_of(dma) == [(memory.buffer_address(), 8192)]
    assert dma.bounce_bytes() == 0
    dma.clearMemoryDescriptor()
    dma.release()
    memory.release()
    assert live_buffer_descriptors(kernel32) == []
