"""IOMemoryDescriptor and IOMemoryMap: ranges, wiring, segments, bytes, mappings.

Descriptors here describe IOMalloc memory of the kernel task (identity-mapped RAM)
or physical ranges; their physical segments, nested prepare/complete, byte copies
across ranges, and maps with register accessors.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.kernel.ioreturn import kIOReturnNotReady, kIOReturnSuccess, kIOReturnVMError
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import kernel_view
from kextlab.kernel.memory.descriptor import (
    IOAddressRange,
    IOGeneralMemoryDescriptor,
    IOMemoryDescriptor,
    kernel_task,
)
from kextlab.kernel.memory.errors import DeviceMemoryAccessError, MemoryNotWiredError
from kextlab.kernel.memory.malloc import IOFree, IOMalloc
from kextlab.kernel.memory.options import (
    kIODirectionIn,
    kIODirectionInOut,
    kIODirectionOut,
    kIOMapAnywhere,
    kIOMapReadOnly,
)
from kextlab.kernel.memory.refs import ByteCountRef
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioclasscount import ioclasscount


@pytest.fixture
def block(kernel: Kernel) -> Iterator[int]:
    """64 KiB of IOMalloc memory filled with the byte pattern 0, 1, 2, ... 255, 0..."""
    address = IOMalloc(1 << 16)
    kernel_view(address, 1 << 16)[:] = bytes(range(256)) * 256
    yield address
    IOFree(address, 1 << 16)


def described(address: int, length: int, direction: int = kIODirectionInOut) -> IOMemoryDescriptor:
    memory = IOMemoryDescriptor.withAddressRange(address, length, direction, kernel_task)
    assert memory is not None
    return memory


def test_a_kernel_range_becomes_a_general_descriptor(block: int) -> None:
    """withAddressRange returns an IOGeneralMemoryDescriptor with length and direction."""
    memory = described(block, 1000, kIODirectionOut)
    assert isinstance(memory, IOGeneralMemoryDescriptor)
    assert memory.getLength() == 1000
    assert memory.getDirection() == kIODirectionOut
    memory.setDirection(kIODirectionIn)
    assert memory.getDirection() == kIODirectionIn
    memory.setTag(0x4B4C)
    assert memory.getTag() == 0x4B4C
    memory.release()


def test_virtual_memory_has_physical_addresses_only_while_prepared(block: int) -> None:
    """Unwired memory has no physical address (xnu panics); prepare gives it one."""
    memory = described(block, 4096)
    with pytest.raises(MemoryNotWiredError, match="call prepare"):
        memory.getPhysicalSegment(0)
    assert memory.prepare() == kIOReturnSuccess
    assert memory.getPhysicalSegment(0) == block
    assert memory.complete() == kIOReturnSuccess
    with pytest.raises(MemoryNotWiredError):
        memory.readBytes(0, bytearray(4), 4)
    memory.release()


def test_prepares_nest_and_an_extra_complete_is_an_error(block: int) -> None:
    """Two prepares need two completes; a third complete returns kIOReturnNotReady."""
    memory = described(block, 4096)
    assert memory.prepare() == kIOReturnSuccess
    assert memory.prepare(kIODirectionOut) == kIOReturnSuccess
    assert memory.complete() == kIOReturnSuccess
    assert memory.is_wired()
    assert memory.complete() == kIOReturnSuccess
    assert not memory.is_wired()
    assert memory.complete() == kIOReturnNotReady
    memory.release()


def test_preparing_memory_that_is_not_ram_fails(kernel: Kernel) -> None:
    """A kernel range in the PCI hole is not mapped: prepare says kIOReturnVMError."""
    memory = described(0x9000_0000, 4096)
    assert memory.prepare() == kIOReturnVMError
    assert not memory.is_wired()
    memory.release()


def test_physical_segments_coalesce_adjacent_ranges(block: int) -> None:
    """Ranges that follow each other are one segment; a gap starts a new one."""
    ranges = [
        IOAddressRange(block, 100),
        IOAddressRange(block + 100, 200),  # adjacent: same segment
        (block + 1000, 50),  # a gap
    ]
    memory = IOMemoryDescriptor.withAddressRanges(ranges, 3, kIODirectionOut, kernel_task)
    assert memory is not None
    assert memory.getLength() == 350
    assert memory.prepare() == kIOReturnSuccess
    length = ByteCountRef()
    assert memory.getPhysicalSegment(0, length) == block
    assert length.value == 300
    assert memory.getPhysicalSegment(120, length) == block + 120
    assert length.value == 180
    assert memory.getPhysicalSegment(300, length) == block + 1000
    assert length.value == 50
    assert memory.getPhysicalSegment(350, length) == 0  # past the end
    assert length.value == 0
    assert memory.physical_runs(250, 100) == [(block + 250, 50), (block + 1000, 50)]
    memory.complete()
    memory.release()


def test_read_and_write_bytes_cross_ranges(block: int) -> None:
    """readBytes/writeBytes copy across the descriptor's ranges, in order."""
    memory = IOMemoryDescriptor.withAddressRanges(
        [(block + 10, 6), (block + 300, 4)], 2, kIODirectionInOut, kernel_task
    )
    assert memory is not None
    memory.prepare()
    buffer = bytearray(10)
    assert memory.readBytes(0, buffer, 10) == 10
    assert bytes(buffer) == bytes([10, 11, 12, 13, 14, 15, 44, 45, 46, 47])
    assert memory.writeBytes(4, b"ABCDEF", 6) == 6
    assert bytes(kernel_view(block + 14, 2)) == b"AB"
    assert bytes(kernel_view(block + 300, 4)) == b"CDEF"
    assert memory.writeBytes(0, None, 3) == 3  # NULL source: zeros
    assert bytes(kernel_view(block + 10, 4)) == b"\0\0\0\x0d"
    memory.complete()
    memory.release()


def test_an_io_reaching_past_the_end_copies_nothing(block: int) -> None:
    """As in xnu, a read or write beyond the length returns 0 and moves no byte."""
    memory = described(block, 16)
    memory.prepare()
    buffer = bytearray(b"untouched!")
    assert memory.readBytes(10, buffer, 10) == 0
    assert memory.readBytes(16, buffer, 1) == 0
    assert buffer == b"untouched!"
    assert memory.writeBytes(8, b"x" * 9, 9) == 0
    memory.complete()
    memory.release()


def test_physical_descriptors_are_wired_from_birth(block: int) -> None:
    """withPhysicalAddress needs no prepare; prepare and complete are no-ops."""
    memory = IOMemoryDescriptor.withPhysicalAddress(block + 4, 8, kIODirectionIn)
    assert memory is not None
    assert memory.task() is None
    buffer = bytearray(8)
    assert memory.readBytes(0, buffer, 8) == 8
    assert bytes(buffer) == bytes(range(4, 12))
    assert memory.complete() == kIOReturnSuccess
    assert memory.getPhysicalAddress() == block + 4
    memory.release()


def test_a_mapping_of_ram_reads_and_writes_through_the_machine(block: int) -> None:
    """map() of contiguous memory: identity addresses and working accessors."""
    memory = described(block, 4096)
    mapped = memory.map()
    assert mapped is not None
    assert mapped.getVirtualAddress() == mapped.getPhysicalAddress() == block
    assert mapped.getLength() == 4096
    assert mapped.getMemoryDescriptor() is memory
    assert mapped.ioRead32(0) == 0x03020100
    mapped.ioWrite16(2, 0xBEEF)
    assert bytes(kernel_view(block, 4)) == b"\x00\x01\xef\xbe"
    assert memory.getRetainCount() == 2  # the map holds the descriptor
    mapped.release()
    assert memory.getRetainCount() == 1
    memory.release()


def test_memory_in_pieces_cannot_be_mapped_without_an_mmu(block: int) -> None:
    """Two separate ranges are not one run: map() returns None."""
    memory = IOMemoryDescriptor.withAddressRanges(
        [(block, 64), (block + 128, 64)], 2, kIODirectionOut, kernel_task
    )
    assert memory is not None
    assert memory.map() is None
    part = memory.createMappingInTask(kernel_task, 0, kIOMapAnywhere, 64, 64)
    assert part is not None
    assert part.getVirtualAddress() == block + 128
    part.release()
    memory.release()


def test_a_placed_mapping_must_be_where_the_memory_is(block: int) -> None:
    """Without kIOMapAnywhere the address asked for must be the identity address."""
    memory = described(block, 256)
    assert memory.createMappingInTask(kernel_task, block + 4096, 0) is None
    placed = memory.createMappingInTask(kernel_task, block, 0)
    assert placed is not None
    placed.release()
    memory.release()


def test_map_accesses_outside_after_unmap_or_read_only_are_errors(block: int) -> None:
    """A map reports misuse at the access: bounds, alignment, unmap, read-only."""
    memory = described(block, 64)
    read_only = memory.map(kIOMapReadOnly)
    assert read_only is not None
    assert read_only.ioRead8(1) == 1
    with pytest.raises(DeviceMemoryAccessError, match="read-only"):
        read_only.ioWrite8(0, 1)
    with pytest.raises(DeviceMemoryAccessError, match="outside the map or misaligned"):
        read_only.ioRead32(62)
    with pytest.raises(DeviceMemoryAccessError, match="misaligned"):
        read_only.ioRead32(2)
    read_only.unmap()
    with pytest.raises(DeviceMemoryAccessError, match="unmapped"):
        read_only.ioRead8(0)
    read_only.release()
    memory.release()


def test_ioclasscount_shows_apples_class_tree(kernel: Kernel) -> None:
    """Buffer < general < IOMemoryDescriptor, and device memory beside them: each
    count is its own instances plus its subclasses that have any (xnu's rule)."""
    from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor

    buffer = IOBufferMemoryDescriptor.withCapacity(64, kIODirectionOut)
    assert buffer is not None
    port = io.IOMainPort(kernel.registry, kernel)
    names = ["IOMemoryDescriptor", "IOGeneralMemoryDescriptor", "IOBufferMemoryDescriptor"]
    (line,) = ioclasscount(port, names).stdout
    # two subclasses of IOMemoryDescriptor are alive: the buffer's line, and the
    # IODeviceMemory of the PCI nubs
    assert line == (
        "IOMemoryDescriptor = 2, IOGeneralMemoryDescriptor = 1, IOBufferMemoryDescriptor = 1"
    )
    buffer.release()
    (line,) = ioclasscount(port, names).stdout
    assert line.endswith("IOGeneralMemoryDescriptor = 0, IOBufferMemoryDescriptor = 0")


def test_a_general_descriptor_can_be_set_to_new_ranges(block: int) -> None:
    """initWithOptions re-initialises a descriptor, unless a DMA command holds it."""
    from kextlab.kernel.memory.dma_command import IODMACommand
    from kextlab.kernel.memory.options import kIOMemoryTypePhysical64, kIOMemoryTypeVirtual64

    memory = described(block, 16)
    assert isinstance(memory, IOGeneralMemoryDescriptor)
    assert memory.initWithOptions([(block + 64, 32)], 1, 0, kernel_task, kIOMemoryTypeVirtual64)
    assert memory.getLength() == 32
    assert memory.ranges() == [(block + 64, 32)]
    assert not memory.initWithOptions([(block, 8)], 1, 0, None, kIOMemoryTypeVirtual64)
    assert not memory.initWithOptions([(block, 8)], 1, 0, kernel_task, kIOMemoryTypePhysical64)
    assert not memory.initWithOptions([(block, 8)], 2, 0, kernel_task, kIOMemoryTypeVirtual64)
    memory.prepare()
    command = IODMACommand.withSpecification(IODMACommand.OutputHost64, 64, 0)
    assert command is not None
    assert command.setMemoryDescriptor(memory) == kIOReturnSuccess
    assert not memory.initWithOptions([(block, 8)], 1, 0, kernel_task, kIOMemoryTypeVirtual64)
    command.clearMemoryDescriptor()
    command.release()
    memory.complete()
    memory.release()


def test_device_memory_is_a_physical_descriptor_with_sub_ranges(kernel: Kernel) -> None:
    """IODeviceMemory: one physical range, wired from birth, cut with withSubRange."""
    from kextlab.kernel.memory.device_memory import IODeviceMemory

    registers = IODeviceMemory(0x8000_0000, 0x1000, register=0x10)
    assert isinstance(registers, IOMemoryDescriptor)
    assert registers.is_physical()
    assert registers.getPhysicalAddress() == 0x8000_0000
    part = IODeviceMemory.withSubRange(registers, 0x40, 8)
    assert part is not None
    assert (part.getPhysicalAddress(), part.getLength(), part.register) == (0x8000_0040, 8, 0x10)
    assert IODeviceMemory.withSubRange(registers, 0xFFC, 8) is None
    assert "IODeviceMemory mem 0x80000040+0x8" in repr(part)
    part.release()
    registers.release()


def test_a_map_reports_physical_segments_within_itself(block: int) -> None:
    """getPhysicalSegment of a map: offsets into the map, lengths clipped to it."""
    memory = described(block, 8192)
    memory.prepare()
    part = memory.createMappingInTask(kernel_task, 0, kIOMapAnywhere, 4096, 1024)
    assert part is not None
    length = ByteCountRef()
    assert part.getPhysicalSegment(16, length) == block + 4096 + 16
    assert length.value == 1024 - 16
    assert part.getPhysicalSegment(1024, length) == 0
    assert length.value == 0
    part.release()
    memory.complete()
    memory.release()


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_every_accessor_width_checks_its_access(block: int, size: int) -> None:
    """Each width's inline checks refuse what ``_check`` names: outside, negative,
    misaligned, a read-only write, and any access once unmapped."""
    memory = described(block, 64)
    mapped = memory.map()
    read_only = memory.map(kIOMapReadOnly)
    assert mapped is not None
    assert read_only is not None
    read_at = getattr(mapped, f"ioRead{size * 8}")
    write_at = getattr(mapped, f"ioWrite{size * 8}")
    last = 64 - size
    assert read_at(last) == int.from_bytes(bytes(range(last, 64)), "little")
    write_at(last, 0)
    assert read_at(last) == 0
    for offset in (64, last + 1, -size):
        with pytest.raises(DeviceMemoryAccessError, match="outside the map or misaligned"):
            read_at(offset)
        with pytest.raises(DeviceMemoryAccessError, match="outside the map or misaligned"):
            write_at(offset, 0)
    if size > 1:
        with pytest.raises(DeviceMemoryAccessError, match="misaligned"):
            read_at(1)
        with pytest.raises(DeviceMemoryAccessError, match="misaligned"):
            write_at(1, 0)
    with pytest.raises(DeviceMemoryAccessError, match="read-only"):
        getattr(read_only, f"ioWrite{size * 8}")(0, 0)
    mapped.unmap()
    with pytest.raises(DeviceMemoryAccessError, match="unmapped"):
        read_at(0)
    with pytest.raises(DeviceMemoryAccessError, match="unmapped"):
        write_at(0, 0)
    mapped.release()
    read_only.release()
    memory.release()


def test_one_run_memory_gives_the_runs_of_any_range(block: int) -> None:
    """A descriptor of one physical run answers ``physical_runs`` for ranges inside,
    clipped at its end, and empty ones."""
    memory = described(block, 4096)
    assert memory.prepare() == kIOReturnSuccess
    assert memory.physical_runs(0, 4096) == [(block, 4096)]
    assert memory.physical_runs(100, 200) == [(block + 100, 200)]
    assert memory.physical_runs(4000, 500) == [(block + 4000, 96)]
    assert memory.physical_runs(10, 0) == []
    assert memory.complete() == kIOReturnSuccess
    memory.release()
