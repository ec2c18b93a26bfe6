"""Physical memory, address-space dispatch and the host bridge's configuration mechanism."""

from __future__ import annotations

import pytest

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.address_space import AddressSpace, Mapping, MmioRegion
from kextlab.machine.guest_errors import GuestErrorLog
from kextlab.machine.machine import Machine
from kextlab.machine.memory import FOUR_GIB, PhysicalMemory, RamRange
from kextlab.machine.pci import registers as r
from kextlab.sim import Scheduler


@pytest.fixture
def errors() -> GuestErrorLog:
    return GuestErrorLog(Scheduler())


def test_ram_can_sit_above_4_gib_and_views_are_zero_copy(errors: GuestErrorLog) -> None:
    """A view is a window into RAM: writes through it are seen by every other access."""
    memory = PhysicalMemory([RamRange(0, 1 << 20), RamRange(FOUR_GIB, 1 << 30)], errors)
    assert memory.size == (1 << 20) + (1 << 30)
    view = memory.view(FOUR_GIB + 0x1000, 16)
    assert view is not None
    view[:4] = b"\xde\xad\xbe\xef"
    assert memory.read_int(FOUR_GIB + 0x1000, 4) == 0xEFBEADDE
    memory.write(FOUR_GIB + 0x1004, b"zero")
    assert bytes(view[4:8]) == b"zero"
    view.release()
    assert memory.close()


def test_accesses_outside_ram_are_guest_errors_not_crashes(errors: GuestErrorLog) -> None:
    """Reads outside RAM give all ones, writes are dropped, both are reported."""
    memory = PhysicalMemory([RamRange(0, 1 << 20)], errors)
    assert memory.view(0xFFF00, 0x200) is None  # crosses the end of RAM
    assert memory.read(0x200000, 4, source="probe") == b"\xff" * 4
    assert not memory.write(0x200000, b"data", source="probe")
    assert errors.count("probe") == 2
    assert "not RAM (RAM is [0x0, 0x100000))" in errors.messages("probe")[0]


def test_overlapping_ram_ranges_are_refused(errors: GuestErrorLog) -> None:
    """A memory map with overlapping RAM is a construction error."""
    with pytest.raises(ValueError, match="overlap"):
        PhysicalMemory([RamRange(0, 0x2000), RamRange(0x1000, 0x2000)], errors)


def make_space(errors: GuestErrorLog) -> tuple[AddressSpace, dict[str, int]]:
    space = AddressSpace("memory", errors)
    registers: dict[str, int] = {}

    def read(offset: int, size: int) -> int:
        return registers.get(f"{offset}:{size}", 0x1122_3344_5566_7788 & ((1 << 8 * size) - 1))

    def write(offset: int, size: int, value: int) -> None:
        registers[f"{offset}:{size}"] = value

    space.map_fixed(0x1000, MmioRegion("device", 0x100, read, write, access_sizes=(1, 2, 4, 8)))
    space.map_fixed(0x2000, MmioRegion("narrow", 0x10, read, write, access_sizes=(4,)))
    return space, registers


def test_dispatch_passes_offset_size_and_value(errors: GuestErrorLog) -> None:
    """8, 16, 32 and 64-bit accesses reach the region with their offset within it."""
    space, registers = make_space(errors)
    for size in (1, 2, 4, 8):
        space.write(0x1000 + 8 * size, size, 0xFFFF_FFFF_FFFF_FFFF)
        assert registers[f"{8 * size}:{size}"] == (1 << 8 * size) - 1
    assert space.read(0x1010, 8) == 0x1122_3344_5566_7788
    assert errors.count() == 0


def test_bad_accesses_are_reported_and_answered_with_all_ones(errors: GuestErrorLog) -> None:
    """Unmapped, wrong size, misaligned and region-crossing accesses never raise."""
    space, registers = make_space(errors)
    assert space.read(0x5000, 4) == 0xFFFF_FFFF
    assert space.read(0x2000, 2) == 0xFFFF
    assert space.read(0x1002, 4) == 0xFFFF_FFFF
    space.write(0x20FC, 8, 0)
    assert space.read(0x1000, 3) == 0
    messages = errors.messages()
    assert messages == [
        "read of 4 bytes at 0x5000: nothing decodes this address",
        "read of 2 bytes at narrow+0x0: the region accepts 4-byte accesses",
        "misaligned read of 4 bytes at device+0x2",
        "write of 8 bytes at 0x20fc: nothing decodes this address",
        "read of 3 bytes at 0x1000: not an access size",
    ]
    assert registers == {}


def test_accesses_alternating_between_mappings_reach_each_and_a_remap_is_seen_at_once(
    errors: GuestErrorLog,
) -> None:
    """The last mappings hit are kept, never trusted past a change of the flat view."""
    seen: list[tuple[str, int, int]] = []

    def region(name: str) -> MmioRegion:
        def read(offset: int, size: int) -> int:
            seen.append((name, offset, size))
            return ord(name)

        def write(offset: int, size: int, value: int) -> None:
            seen.append((name, offset, value))

        return MmioRegion(name, 0x100, read, write, access_sizes=(4,))

    space = AddressSpace("memory", errors)
    space.map_fixed(0x1000, region("a"))
    space.map_fixed(0x2000, region("b"))
    dynamic: list[Mapping] = []
    space.set_dynamic_source(lambda: list(dynamic))
    for round_number in range(3):  # a, b, a, b, ...: each access reaches its own region
        assert space.read(0x1004, 4) == ord("a")
        space.write(0x2008, 4, round_number)
    assert seen == [("a", 4, 4), ("b", 8, 0), ("a", 4, 4), ("b", 8, 1), ("a", 4, 4), ("b", 8, 2)]
    assert space.read(0x1006, 2) == 0xFFFF  # a kept mapping still refuses bad accesses
    assert space.read(0x1002, 4) == 0xFFFF_FFFF
    assert errors.count() == 2
    dynamic.append(Mapping(0x1000, region("c")))  # clashes with a: refused, a keeps decoding
    dynamic.append(Mapping(0x3000, region("d")))
    space.invalidate()
    assert space.read(0x3000, 4) == ord("d")
    assert space.read(0x1004, 4) == ord("a")
    dynamic.clear()
    space.invalidate()
    assert space.read(0x3000, 4) == 0xFFFF_FFFF  # d is gone at once
    assert "nothing decodes this address" in errors.messages()[-1]


def test_fixed_mappings_may_not_overlap(errors: GuestErrorLog) -> None:
    """Two fixed regions over the same addresses are a construction error."""
    space, _ = make_space(errors)
    with pytest.raises(ValueError, match="overlaps device"):
        space.map_fixed(0x10F0, MmioRegion("late", 0x20, lambda o, s: 0, lambda o, s, v: None))


def test_configuration_mechanism_1_through_io_ports(machine: Machine) -> None:
    """CONFIG_ADDRESS at 0xCF8 selects bus/device/function/register; 0xCFC's lanes read it."""
    enable = r.CONFIG_ADDRESS_ENABLE
    machine.io_write(r.CONFIG_ADDRESS_PORT, 4, enable | 13 << 11)
    assert machine.io_read(r.CONFIG_DATA_PORT, 4) == 0x0026_1011
    assert machine.io_read(r.CONFIG_DATA_PORT + 2, 2) == 0x0026
    machine.io_write(r.CONFIG_ADDRESS_PORT, 4, enable | 13 << 11 | r.REVISION_ID)
    assert machine.io_read(r.CONFIG_DATA_PORT + 3, 1) == 0x06  # base class: bridge
    machine.io_write(r.CONFIG_ADDRESS_PORT, 4, enable | 7 << 11)
    assert machine.io_read(r.CONFIG_DATA_PORT, 4) == 0xFFFF_FFFF  # empty slot
    machine.io_write(r.CONFIG_ADDRESS_PORT, 4, 13 << 11)
    assert machine.io_read(r.CONFIG_DATA_PORT, 4) == 0xFFFF_FFFF
    assert "enable bit clear" in machine.guest_errors.messages("pci-host")[-1]


def test_configuration_registers_are_also_memory_mapped(machine: Machine) -> None:
    """The Grackle/UniNorth-style CONFIG_ADDRESS/CONFIG_DATA pair answers in memory space."""
    layout = machine.description.host_bridge
    assert layout.config_address_mmio is not None
    assert layout.config_data_mmio is not None
    machine.write(layout.config_address_mmio, 4, r.CONFIG_ADDRESS_ENABLE | 2 << 11)
    assert machine.read(layout.config_data_mmio, 4) == 0x4B4C_1234
    assert machine.pci.config_cycles == 1


def test_nothing_behind_a_bridge_answers_until_buses_are_numbered(machine: Machine) -> None:
    """Type 1 cycles pass a bridge only for bus numbers in its secondary-subordinate range."""
    assert machine.config_read(1, 1, 0, r.VENDOR_ID, 2) == 0xFFFF
    machine.config_write(0, 13, 0, r.SECONDARY_BUS, 1, 1)
    machine.config_write(0, 13, 0, r.SUBORDINATE_BUS, 1, 1)
    assert machine.config_read(1, 1, 0, r.VENDOR_ID, 2) == 0x1234
    assert machine.config_read(2, 1, 0, r.VENDOR_ID, 2) == 0xFFFF


def test_config_accesses_cost_virtual_time(machine: Machine) -> None:
    """Each CPU access is a preemption point that advances the virtual clock."""
    timing = machine.timing
    start = machine.scheduler.now
    machine.config_read(0, 2, 0, 0, 4)
    machine.io_read(r.CONFIG_DATA_PORT, 4)
    machine.read(0, 4)
    machine.write(0, 4, 0)
    assert machine.scheduler.now - start == (
        timing.config_ns + timing.io_ns + timing.memory_read_ns + timing.memory_write_ns
    )


def test_misaligned_config_accesses_are_refused(machine: Machine) -> None:
    """Configuration accesses are 1, 2 or 4 bytes, naturally aligned, inside 256 bytes."""
    with pytest.raises(ValueError, match="naturally aligned"):
        machine.config_read(0, 2, 0, 0x02, 4)
    with pytest.raises(ValueError, match="naturally aligned"):
        machine.config_write(0, 2, 0, 0x100, 1, 0)


def test_bridge_windows_decide_what_reaches_the_secondary_bus(
    booted: tuple[Machine, OpenFirmware],
) -> None:
    """Closing the bridge's memory window (or its Memory bit) hides the card behind it."""
    machine, _ = booted
    card = machine.pci_function("testcard0")
    base = card.bar_address(card.bars[0])
    assert machine.read(base, 4) == 0x4B4C5443
    saved = machine.config_read(0, 13, 0, r.MEMORY_BASE, 4)
    machine.config_write(0, 13, 0, r.MEMORY_BASE, 2, 0xFFF0)  # base above limit: closed
    machine.config_write(0, 13, 0, r.MEMORY_LIMIT, 2, 0x0000)
    assert machine.read(base, 4) == 0xFFFF_FFFF
    machine.config_write(0, 13, 0, r.MEMORY_BASE, 4, saved)
    assert machine.read(base, 4) == 0x4B4C5443
    machine.config_write(0, 13, 0, r.COMMAND, 2, r.COMMAND_IO | r.COMMAND_MASTER)
    assert machine.read(base, 4) == 0xFFFF_FFFF


def test_bridge_header_masks_and_secondary_bus_reset(booted: tuple[Machine, OpenFirmware]) -> None:
    """Window registers keep their read-only type bits; Secondary Bus Reset resets the card."""
    machine, _ = booted
    machine.config_write(0, 13, 0, r.IO_BASE, 1, 0xFF)
    assert machine.config_read(0, 13, 0, r.IO_BASE, 1) == 0xF0
    machine.config_write(0, 13, 0, r.PREF_MEMORY_BASE, 2, 0)
    assert machine.config_read(0, 13, 0, r.PREF_MEMORY_BASE, 2) == r.PREF_RANGE_TYPE_64
    assert machine.config_read(1, 1, 0, r.COMMAND, 2) & r.COMMAND_MEMORY
    machine.config_write(0, 13, 0, r.BRIDGE_CONTROL, 2, r.BRIDGE_CTL_BUS_RESET)
    assert machine.config_read(1, 1, 0, r.COMMAND, 2) == 0
    assert machine.config_read(1, 1, 0, 0x10, 4) == 0


def test_overlapping_bars_are_a_guest_error_and_the_first_decodes(
    booted: tuple[Machine, OpenFirmware],
) -> None:
    """Two BARs programmed over each other: reported, and only one of them decodes."""
    machine, _ = booted
    first = machine.pci_function("testcard1")
    address = first.bar_address(first.bars[0])
    machine.config_write(0, 2, 0, 0x14, 4, 0)  # leave the I/O BAR alone
    other = machine.pci_function("testcard0")
    other_base = other.bar_address(other.bars[0])
    machine.config_write(1, 1, 0, 0x10, 4, address)
    # open the bridge's memory window over the 1 MiB block that holds the address
    block = (address >> 16) & r.MEMORY_RANGE_MASK
    machine.config_write(0, 13, 0, r.MEMORY_BASE, 2, block)
    machine.config_write(0, 13, 0, r.MEMORY_LIMIT, 2, block)
    assert machine.read(address, 4) == 0x4B4C5443
    assert any("overlaps" in message for message in machine.guest_errors.messages())
    assert machine.read(other_base, 4) == 0xFFFF_FFFF


def test_closing_memory_while_a_view_is_held_keeps_ram_usable(errors: GuestErrorLog) -> None:
    """close() refuses while someone holds a view, and RAM keeps working afterwards."""
    memory = PhysicalMemory([RamRange(0, 1 << 20)], errors)
    held = memory.view(0x100, 4)
    assert held is not None
    assert not memory.close()
    memory.write_int(0x100, 4, 0xCAFE)
    assert bytes(held) == (0xCAFE).to_bytes(4, "little")
    held.release()
    assert memory.close()
