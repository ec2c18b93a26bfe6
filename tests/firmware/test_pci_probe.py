"""PCI probing: bus numbering, BAR sizing, resource assignment and register programming.

Results are read back from the hardware with configuration cycles (and, for the
forwarding windows, decoded by the bridge model), not from the probe's records, so
each test checks what a kernel would find after the firmware ran.
"""

from __future__ import annotations

import itertools

import pytest

from kextlab.firmware.pci_probe import ProbedBar, ProbedFunction
from kextlab.machine.devices import testcard_registers as tc
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind
from kextlab.machine.pci.bridge import PCIBridge

from .support import (
    DEFAULT_MACHINE,
    NESTED_BRIDGES,
    NO_PREFETCHABLE_WINDOW,
    Assignment,
    assignments,
    config_address,
    read_config,
)

TWO_BRIDGES = """
[memory]
size = "1G"
[pci]
memory_window = { base = 0x80000000, size = "256M" }
prefetchable_window = { base = 0x1000000000, size = "1G" }
[[device]]
name = "left"
model = "dec21154"
slot = 1
[[device]]
name = "right"
model = "dec21154"
slot = 2
[[device]]
name = "left_card"
model = "testcard"
bus = "left"
slot = 0
[[device]]
name = "right_card"
model = "testcard"
bus = "right"
slot = 0
"""

LAYOUTS = [DEFAULT_MACHINE, NESTED_BRIDGES, NO_PREFETCHABLE_WINDOW]
LAYOUT_IDS = ["default", "nested-bridges", "no-prefetchable-window"]

TINY_MEMORY_WINDOW = """
[memory]
size = "512M"
[pci]
memory_window = { base = 0x80000000, size = "1M" }
[[device]]
name = "big"
model = "testcard"
slot = 2
[device.params]
sram_size = "2M"
"""


def probed(firmware, location: str) -> ProbedFunction:
    for root in firmware.pci:
        for function in root.walk():
            if function.location == location:
                return function
    raise AssertionError(f"the probe found nothing at {location}")


def bars_by_register(function: ProbedFunction) -> dict[int, ProbedBar]:
    return {bar.register: bar for bar in function.bars}


def all_assignments(machine) -> list[Assignment]:
    return [
        found for function in machine.pci_functions() for found in assignments(machine, function)
    ]


def bridges_above(function) -> list[PCIBridge]:
    bridges = []
    bus = function.bus
    while bus is not None and bus.bridge is not None:
        bridges.append(bus.bridge)
        bus = bus.bridge.bus
    return bridges


# -- enumeration and bus numbers ------------------------------------------------------------


def test_bridge_gets_next_bus_number_depth_first(boot):
    """Bridges are numbered depth first: outer 0/1/2, inner 1/2/2, the next root bridge 0/3/3."""
    machine, _, _ = boot(NESTED_BRIDGES)
    numbers = {
        name: tuple(
            read_config(machine, machine.pci_function(name), offset, 1)
            for offset in (r.PRIMARY_BUS, r.SECONDARY_BUS, r.SUBORDINATE_BUS)
        )
        for name in ("outer", "inner", "empty")
    }
    assert numbers == {"outer": (0, 1, 2), "inner": (1, 2, 2), "empty": (0, 3, 3)}


def test_function_behind_two_bridges_answers_on_bus_2(boot):
    """After numbering, configuration cycles for bus 2 reach the card behind both bridges."""
    machine, _, _ = boot(NESTED_BRIDGES)
    assert machine.config_read(2, 3, 0, r.VENDOR_ID, 2) == tc.VENDOR_ID
    assert config_address(machine.pci_function("deep")) == (2, 3, 0)


def test_probe_finds_every_function_of_the_machine(boot):
    """Every function in the description appears once in the probe, at its location."""
    machine, firmware, _ = boot(NESTED_BRIDGES)
    found = sorted(function.location for root in firmware.pci for function in root.walk())
    expected = sorted(function.location for function in machine.pci_functions())
    assert found == expected
    assert len(found) == 7


def test_multi_function_device_has_both_functions_found(boot):
    """A card at function 1 beside one at function 0 is probed and gets its own node."""
    machine, firmware, tree = boot(NESTED_BRIDGES)
    assert machine.config_read(0, 7, 0, r.HEADER_TYPE, 1) & r.HEADER_TYPE_MULTI_FUNCTION
    assert probed(firmware, "00:07.1").interrupt_pin == 3
    assert tree.find("card1") is firmware.node_for(machine.pci_function("card1"))
    assert tree.find("card1").unit_address == "7,1"


# -- BAR sizing -----------------------------------------------------------------------------------


def test_test_card_bars_are_sized_with_their_types(boot):
    """BAR0 4 KiB mem32, BAR1 32-byte I/O, BAR2 64-bit prefetchable SRAM, ROM 16 KiB."""
    _, firmware, _ = boot(NO_PREFETCHABLE_WINDOW)
    bars = bars_by_register(probed(firmware, "01:01.0"))
    described = {
        register: (bar.size, bar.io, bar.is_64bit, bar.prefetchable, bar.rom)
        for register, bar in bars.items()
    }
    assert described == {
        0x10: (4 << 10, False, False, False, False),
        0x14: (32, True, False, False, False),
        0x18: (1 << 20, False, True, True, False),
        0x30: (16 << 10, False, False, False, True),
    }


def test_sram_bar_size_follows_the_card_parameter(boot):
    """The 64-bit BAR is sized from the hardware: default 64 KiB card vs a 1 MiB one."""
    _, firmware, _ = boot(NO_PREFETCHABLE_WINDOW)
    assert bars_by_register(probed(firmware, "00:02.0"))[0x18].size == 64 << 10
    assert bars_by_register(probed(firmware, "01:01.0"))[0x18].size == 1 << 20


def test_bridge_without_bars_has_none_sized(boot):
    """The DEC 21154 implements no BARs or ROM; the probe records none."""
    _, firmware, _ = boot(NO_PREFETCHABLE_WINDOW)
    assert probed(firmware, "00:0d.0").bars == []


# -- assignment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("machine_text", LAYOUTS, ids=LAYOUT_IDS)
def test_every_bar_is_assigned_naturally_aligned(boot, machine_text):
    """Every BAR and ROM gets a non-zero address that is a multiple of its size."""
    machine, _, _ = boot(machine_text)
    found = all_assignments(machine)
    assert found
    for bar in found:
        assert bar.address != 0, f"{bar.function.name} {bar.register:#x} unassigned"
        assert bar.address % bar.size == 0, f"{bar.function.name} {bar.register:#x}"


@pytest.mark.parametrize("machine_text", LAYOUTS, ids=LAYOUT_IDS)
def test_every_bar_lies_inside_a_host_window(boot, machine_text):
    """Memory BARs lie in the 32-bit or prefetchable window, I/O BARs in the I/O space."""
    machine, _, _ = boot(machine_text)
    layout = machine.description.host_bridge
    for bar in all_assignments(machine):
        if bar.kind is BarKind.IO:
            assert bar.address >= 0x1000
            assert bar.end <= layout.io_size
        else:
            windows = [layout.memory_window, layout.prefetchable_window]
            assert any(
                window is not None and window.covers(bar.address, bar.size) for window in windows
            ), f"{bar.function.name} {bar.register:#x} at {bar.address:#x}"


@pytest.mark.parametrize("machine_text", LAYOUTS, ids=LAYOUT_IDS)
def test_bars_behind_bridges_lie_inside_every_bridge_window_above(boot, machine_text):
    """Each BAR behind bridges is forwarded by every bridge on its path (windows read back)."""
    machine, _, _ = boot(machine_text)
    checked = 0
    for bar in all_assignments(machine):
        for bridge in bridges_above(bar.function):
            assert bridge.forwards(bar.kind, bar.address, bar.size, bar.prefetchable), (
                f"{bridge.name} does not forward {bar.function.name} {bar.register:#x} "
                f"at {bar.address:#x}"
            )
            checked += 1
    assert checked


@pytest.mark.parametrize("machine_text", LAYOUTS, ids=LAYOUT_IDS)
def test_no_two_bars_overlap(boot, machine_text):
    """No two assigned ranges share an address in the same space."""
    machine, _, _ = boot(machine_text)
    for io in (True, False):
        ranges = sorted(
            (bar.address, bar.end, f"{bar.function.name}:{bar.register:#x}")
            for bar in all_assignments(machine)
            if (bar.kind is BarKind.IO) == io
        )
        for (_, end, name), (start, _, other) in itertools.pairwise(ranges):
            assert end <= start, f"{name} overlaps {other}"


def test_sibling_bridges_forward_disjoint_windows(boot):
    """Two bridges with a card each open I/O, memory and prefetchable windows that never meet."""
    machine, _, _ = boot(TWO_BRIDGES)
    left = machine.pci_function("left")
    right = machine.pci_function("right")
    assert isinstance(left, PCIBridge)
    assert isinstance(right, PCIBridge)
    for kind in ("io_window", "memory_window", "prefetchable_window"):
        first = getattr(left, kind)()
        second = getattr(right, kind)()
        assert first is not None, kind
        assert second is not None, kind
        assert first.limit < second.base or second.limit < first.base, kind


def test_bridge_with_nothing_behind_it_has_closed_windows(boot):
    """A bridge with an empty secondary bus forwards no I/O or memory at all."""
    machine, _, _ = boot(NESTED_BRIDGES)
    empty = machine.pci_function("empty")
    assert isinstance(empty, PCIBridge)
    assert empty.io_window() is None
    assert empty.memory_window() is None
    assert empty.prefetchable_window() is None


def test_prefetchable_64bit_bar_lands_in_prefetchable_window(booted):
    """With a prefetchable window, the SRAM BARs (64-bit, prefetchable) are placed in it."""
    machine, _ = booted
    window = machine.description.host_bridge.prefetchable_window
    assert window is not None
    sram = [
        bar
        for function in machine.pci_functions()
        for bar in assignments(machine, function)
        if bar.kind is BarKind.MEMORY64
    ]
    assert len(sram) == 2
    assert all(window.covers(bar.address, bar.size) for bar in sram)
    assert all(bar.address >= 1 << 32 for bar in sram)


def test_prefetchable_64bit_bar_lands_in_32bit_window_without_prefetchable_window(boot):
    """Without a prefetchable window, the SRAM BARs go to the 32-bit memory window."""
    machine, _, _ = boot(NO_PREFETCHABLE_WINDOW)
    window = machine.description.host_bridge.memory_window
    sram = [
        bar
        for function in machine.pci_functions()
        for bar in assignments(machine, function)
        if bar.kind is BarKind.MEMORY64
    ]
    assert len(sram) == 2
    assert all(window.covers(bar.address, bar.size) for bar in sram)


def test_bridge_prefetchable_window_is_opened_only_when_the_host_has_one(boot, booted):
    """The bridge forwards prefetchable memory on the default machine, not without a window."""
    default_bridge = booted[0].pci_function("bridge0")
    machine, _, _ = boot(NO_PREFETCHABLE_WINDOW)
    bridge = machine.pci_function("bridge")
    assert isinstance(default_bridge, PCIBridge)
    assert isinstance(bridge, PCIBridge)
    assert default_bridge.prefetchable_window() is not None
    assert bridge.prefetchable_window() is None


def test_card_behind_two_bridges_answers_at_its_assigned_addresses(boot):
    """The card's registers read back through MMIO (BAR0) and port I/O (BAR1)."""
    machine, _, _ = boot(NESTED_BRIDGES)
    deep = machine.pci_function("deep")
    bars = {bar.register: bar for bar in assignments(machine, deep)}
    assert machine.read(bars[0x10].address + tc.Register.IDENTIFICATION, 4) == (
        tc.IDENTIFICATION_VALUE
    )
    assert machine.io_read(bars[0x14].address + tc.Register.IDENTIFICATION, 4) == (
        tc.IDENTIFICATION_VALUE
    )


def test_rom_bar_is_assigned_but_not_enabled(booted):
    """The ROM BAR gets an address; its enable bit stays clear for the driver to set."""
    machine, _ = booted
    card = machine.pci_function("testcard1")
    value = read_config(machine, card, r.ROM_ADDRESS, 4)
    assert value & r.ROM_ADDRESS_MASK
    assert not value & r.ROM_ENABLE


# -- resource exhaustion ----------------------------------------------------------------------


def test_bar_that_does_not_fit_is_reported_and_left_unassigned(boot):
    """A 2 MiB BAR in a 1 MiB window: "no space" on the console, BAR left at 0, no raise."""
    machine, _, tree = boot(TINY_MEMORY_WINDOW)
    card = machine.pci_function("big")
    lines = [line for line in machine.console.lines() if "no space" in line]
    assert len(lines) == 1
    assert "00:02.0: no space for BAR 0x18" in lines[0]
    assert read_config(machine, card, 0x18, 4) & ~0xF == 0
    assert read_config(machine, card, 0x1C, 4) == 0
    node = tree.find("big")
    assert node is not None
    assigned = node.get_cells("assigned-addresses")
    assert assigned is not None
    registers = {cell & 0xFF for cell in assigned[::5]}
    assert registers == {0x10, 0x14, 0x30}


def test_what_fits_stays_usable_after_exhaustion(boot):
    """BAR0 still gets space in the tiny window and the registers answer there."""
    machine, _, _ = boot(TINY_MEMORY_WINDOW)
    card = machine.pci_function("big")
    bars = {bar.register: bar for bar in assignments(machine, card)}
    window = machine.description.host_bridge.memory_window
    assert window.covers(bars[0x10].address, bars[0x10].size)
    assert machine.read(bars[0x10].address, 4) == tc.IDENTIFICATION_VALUE


# -- registers programmed ----------------------------------------------------------------------


def test_endpoints_decode_memory_and_io_but_do_not_master(booted):
    """Endpoints get Memory and I/O decoding, and no Bus Master until a driver asks."""
    machine, _ = booted
    for name in ("testcard0", "testcard1"):
        command = read_config(machine, machine.pci_function(name), r.COMMAND, 2)
        assert command & (r.COMMAND_IO | r.COMMAND_MEMORY | r.COMMAND_MASTER) == (
            r.COMMAND_IO | r.COMMAND_MEMORY
        ), name


def test_bridges_decode_and_master(boot):
    """Bridges, even the empty one, get I/O, Memory and Bus Master enabled."""
    machine, _, _ = boot(NESTED_BRIDGES)
    wanted = r.COMMAND_IO | r.COMMAND_MEMORY | r.COMMAND_MASTER
    for name in ("outer", "inner", "empty"):
        command = read_config(machine, machine.pci_function(name), r.COMMAND, 2)
        assert command & wanted == wanted, name


def test_interrupt_line_of_default_cards_is_input_18(booted):
    """Both test cards of the default machine reach controller input 18 (swizzled)."""
    machine, _ = booted
    lines = {
        name: read_config(machine, machine.pci_function(name), r.INTERRUPT_LINE, 1)
        for name in ("testcard0", "testcard1")
    }
    assert lines == {"testcard0": 18, "testcard1": 18}


def test_interrupt_line_matches_the_board_routing_everywhere(boot):
    """Every function's Interrupt Line equals the input the machine's wiring reaches."""
    machine, _, _ = boot(NESTED_BRIDGES)
    checked = 0
    for function in machine.pci_functions():
        pin = function.interrupt_pin
        if not pin:
            continue
        assert function.bus is not None
        expected = function.bus.interrupt_input(function.device_number, pin)
        assert read_config(machine, function, r.INTERRUPT_LINE, 1) == expected, function.name
        checked += 1
    assert checked == 4


def test_interrupt_line_behind_two_bridges_is_swizzled_twice(boot):
    """deep (slot 3, INTB#) behind inner (slot 4) behind outer (slot 1) reaches input 17."""
    machine, _, _ = boot(NESTED_BRIDGES)
    # INTB# at slot 3 -> INTA# at slot 4 -> INTA# at slot 1 -> inputs[(1 + 1 - 1) % 4] = 17
    assert read_config(machine, machine.pci_function("deep"), r.INTERRUPT_LINE, 1) == 17
