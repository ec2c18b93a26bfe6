"""End to end with the real test card: a 32-bit device, buffers above 4 GiB.

The default machine runs a 64-bit kernel with 1 GiB of RAM above 4 GiB, so its
buffers land there.  ``testcard1`` (root bus, slot 2) drives only 32 address lines
and silently truncates every address it puts on the bus; ``testcard0`` (behind the
bridge) drives 64.  Each test programs a card by hand, through its nub's BAR 0 map,
the way a driver would: a COPY descriptor in a list the card can reach, the
doorbell, then polling STATUS until the engine is idle.

Through an ``IODMACommand`` with the card's 32 address bits the data arrives intact
(the command bounces both buffers below 4 GiB); with the raw physical addresses the
card copies between the truncated addresses: the destination is untouched and low
memory, which belongs to someone else, is overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import dma_statistics, kernel_view, live_buffer_descriptors
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import kernel_task
from kextlab.kernel.memory.device_memory import IOMemoryMap
from kextlab.kernel.memory.dma_command import IODMACommand, Segment64
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionInOut, kIODirectionOut
from kextlab.kernel.memory.physical import FOUR_GIB
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.machine.devices import testcard_registers as tc

LENGTH = 3 * 4096 + 100
DATA = bytes((index * 7 + 3) & 0xFF for index in range(LENGTH))


class Card:
    """A test card driven by hand: its nub, its register map, a descriptor list."""

    def __init__(self, nub: IOPCIDevice) -> None:
        self.nub = nub
        nub.setMemoryEnable(True)
        nub.setBusMasterEnable(True)
        registers = nub.mapDeviceMemoryWithIndex(0)
        assert registers is not None
        assert registers.ioRead32(tc.Register.IDENTIFICATION) == tc.IDENTIFICATION_VALUE
        self.registers: IOMemoryMap = registers
        # the list must be where even a 32-bit card can fetch it
        descriptors = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
            kernel_task, kIODirectionInOut, 4 * tc.DESCRIPTOR_SIZE, 0xFFFF_F000
        )
        assert descriptors is not None
        self.descriptors = descriptors

    def copy(self, pieces: list[tuple[int, int, int]]) -> int:
        """Run COPY descriptors (source, destination, length); the completion code."""
        table = self.descriptors.getBytesNoCopy()
        assert table is not None
        for index, (source, destination, length) in enumerate(pieces):
            tc.DESCRIPTOR.pack_into(
                table,
                index * tc.DESCRIPTOR_SIZE,
                tc.Opcode.COPY,
                0,
                0,
                0,
                source,
                destination,
                length,
            )
        address = self.descriptors.buffer_address()
        registers = self.registers
        registers.ioWrite32(tc.Register.DESCRIPTOR_ADDRESS_LOW, address & 0xFFFF_FFFF)
        registers.ioWrite32(tc.Register.DESCRIPTOR_ADDRESS_HIGH, address >> 32)
        registers.ioWrite32(tc.Register.DESCRIPTOR_LENGTH, len(pieces) * tc.DESCRIPTOR_SIZE)
        registers.ioWrite32(tc.Register.DOORBELL, 1)
        for _ in range(100_000):  # each read is a preemption point: the card progresses
            if not registers.ioRead32(tc.Register.STATUS) & tc.Status.BUSY:
                break
        else:
            pytest.fail("the card never finished its descriptor list")
        return registers.ioRead32(tc.Register.COMPLETION_STATUS)

    def close(self) -> None:
        self.descriptors.release()
        self.registers.release()


def card_nub(kernel: Kernel, location: str) -> IOPCIDevice:
    plane = kernel.registry.plane(kIOServicePlane)
    for entry in kernel.registry.getRoot().iterate(plane, recursive=True):
        if isinstance(entry, IOPCIDevice) and entry.path_component(plane) == location:
            return entry
    raise AssertionError(f"no PCI nub at {location}")


@pytest.fixture
def card32(kernel: Kernel) -> Iterator[Card]:
    """testcard1: subsystem 2, slot 2 of the root bus, 32 address lines."""
    card = Card(card_nub(kernel, "pci1234,2@2"))
    yield card
    card.close()


@pytest.fixture
def card64(kernel: Kernel) -> Iterator[Card]:
    """testcard0: behind the bridge, 64 address lines."""
    card = Card(card_nub(kernel, "pci1234,1@1"))
    yield card
    card.close()


def high_buffers() -> tuple[IOBufferMemoryDescriptor, IOBufferMemoryDescriptor]:
    source = IOBufferMemoryDescriptor.withCapacity(LENGTH, kIODirectionOut)
    destination = IOBufferMemoryDescriptor.withCapacity(LENGTH, kIODirectionIn)
    assert source is not None
    assert destination is not None
    view = source.getBytesNoCopy()
    assert view is not None
    view[:] = DATA
    # a 64-bit kernel put both above 4 GiB: a 32-bit card cannot reach them
    assert source.buffer_address() >= FOUR_GIB
    assert destination.buffer_address() >= FOUR_GIB
    return source, destination


def bus_addresses(command: IODMACommand) -> list[tuple[int, int]]:
    segments = [Segment64() for _ in range(4)]
    count = UInt32Ref(len(segments))
    assert command.gen64IOVMSegments(UInt64Ref(0), segments, count) == kIOReturnSuccess
    return [(segment.fIOVMAddr, segment.fLength) for segment in segments[: count.value]]


def transfer_through_dma_commands(card: Card, bits: int) -> tuple[int, bytes]:
    """Copy DATA from one high buffer to another through IODMACommands with ``bits``
    address bits; the completion code and what the destination then holds."""
    source, destination = high_buffers()
    commands = []
    for memory in (source, destination):
        command = IODMACommand.withSpecification(IODMACommand.OutputHost64, bits, 0)
        assert command is not None
        assert command.setMemoryDescriptor(memory) == kIOReturnSuccess
        commands.append(command)
    ((source_address, length),) = bus_addresses(commands[0])
    ((destination_address, _),) = bus_addresses(commands[1])
    completion = card.copy([(source_address, destination_address, length)])
    for command in commands:
        command.clearMemoryDescriptor()  # complete: the bounced data comes back
        command.release()
    result = bytes(destination.getBytesNoCopy() or b"")
    source.release()
    destination.release()
    return completion, result


def test_through_iodmacommand_a_32_bit_card_copies_high_memory_intact(
    kernel: Kernel, card32: Card
) -> None:
    """The command bounces both buffers below 4 GiB; the data arrives intact."""
    before = dma_statistics(kernel)
    completion, result = transfer_through_dma_commands(card32, 32)
    assert completion == tc.Completion.SUCCESS
    assert result == DATA
    after = dma_statistics(kernel)
    assert after.bounced_prepares == before.bounced_prepares + 2
    assert after.bytes_bounced == before.bytes_bounced + 2 * LENGTH  # out, then back in
    assert len(live_buffer_descriptors(kernel)) == 1  # only the descriptor list is left


def test_with_raw_addresses_a_32_bit_card_corrupts_low_memory(kernel: Kernel, card32: Card) -> None:
    """Skipping IODMACommand: the card copies between the truncated addresses.  The
    destination is untouched, the low memory it truncates to is overwritten, and
    the card reports success: silent corruption, as on a real 64-bit Mac."""
    source, destination = high_buffers()
    truncated_source = source.buffer_address() & 0xFFFF_FFFF
    truncated_destination = destination.buffer_address() & 0xFFFF_FFFF
    victim = kernel_view(truncated_destination, LENGTH)
    victim[:] = b"\x5a" * LENGTH  # someone's data, below 4 GiB
    low_source = bytes(kernel_view(truncated_source, LENGTH))
    completion = card32.copy([(source.buffer_address(), destination.buffer_address(), LENGTH)])
    assert completion == tc.Completion.SUCCESS
    assert bytes(destination.getBytesNoCopy() or b"") == bytes(LENGTH)  # never written
    assert bytes(victim) != b"\x5a" * LENGTH  # low memory corrupted...
    assert bytes(victim) == low_source  # ...with whatever the truncated source held
    assert low_source != DATA  # and the real data went nowhere
    victim.release()
    source.release()
    destination.release()


def test_a_64_bit_card_reaches_high_memory_without_bouncing(kernel: Kernel, card64: Card) -> None:
    """The same transfer for a 64-bit card: the command bounces nothing."""
    before = dma_statistics(kernel)
    completion, result = transfer_through_dma_commands(card64, 64)
    assert completion == tc.Completion.SUCCESS
    assert result == DATA
    after = dma_statistics(kernel)
    assert after.bounced_prepares == before.bounced_prepares
    assert after.bytes_bounced == before.bytes_bounced
