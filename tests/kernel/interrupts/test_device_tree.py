"""Interrupt and address properties of device-tree nubs: IODTMapInterrupts and
IODTResolveAddressing, on the default machine and on real Power Macintosh trees.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.firmware.devicetree import DeviceTree
from kextlab.firmware.moltree import read_mol_tree_file
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSArray
from kextlab.kernel.libkern.object import ClassRegistry
from kextlab.kernel.libkern.values import OSData, OSSymbol
from kextlab.kernel.platform import (
    IODTInterruptControllerName,
    IODTMapInterrupts,
    IOPlatformDevice,
    IOPlatformExpertDevice,
    build_device_tree_plane,
)
from kextlab.kernel.platform.addressing import IODTResolveAddressing
from kextlab.kernel.registry import IORegistry, IORegistryEntry
from kextlab.machine.description import INTERRUPT_CONTROLLER_BASE, INTERRUPT_CONTROLLER_SIZE
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioreg import IORegOptions, ioreg

CONTROLLER = "IOInterruptControllerFF800400"  # the phandle of /interrupt-controller
INPUT_18_LEVEL = bytes.fromhex("0000001200000001")  # (input 0x12, sense 1 = level)
INPUT_16_LEVEL = bytes.fromhex("0000001000000001")  # (input 0x10, sense 1 = level)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with booted_kernel() as booted:
        yield booted


def interrupts_of(entry: IORegistryEntry) -> list[tuple[str, bytes]]:
    controllers = entry.getProperty("IOInterruptControllers")
    specifiers = entry.getProperty("IOInterruptSpecifiers")
    assert isinstance(controllers, OSArray)
    assert isinstance(specifiers, OSArray)
    names = []
    for name in controllers:
        assert isinstance(name, OSSymbol)
        names.append(str(name))
    datas = []
    for data in specifiers:
        assert isinstance(data, OSData)
        datas.append(data.getBytesNoCopy())
    return list(zip(names, datas, strict=True))


def mirrored(tree: DeviceTree, classes: ClassRegistry) -> dict[str, IORegistryEntry]:
    """The tree's entries in a fresh registry, by path without unit addresses."""
    registry = IORegistry(classes, "test")
    root = IOPlatformExpertDevice()
    entries = build_device_tree_plane(registry, tree, root)
    return {re.sub(r"@[^/]*", "", path): entry for path, entry in entries.items()}


# -- the default machine ---------------------------------------------------------------------------


def test_both_test_cards_reach_the_same_controller_input_through_different_paths(
    kernel: Kernel,
) -> None:
    """testcard1 (bus 0, slot 2, INTA#) through the host map, testcard0 (behind the
    bridge, slot 1, INTA# swizzled to INTB# of slot 13) through both maps: input 18."""
    registry = kernel.registry
    direct = registry.fromPath("IODeviceTree:testcard1")
    behind = registry.fromPath("IODeviceTree:testcard0")
    assert direct is not None
    assert behind is not None
    assert interrupts_of(direct) == [(CONTROLLER, INPUT_18_LEVEL)]
    assert interrupts_of(behind) == [(CONTROLLER, INPUT_18_LEVEL)]


def test_the_hba_in_slot_4_reaches_input_16_through_the_host_map(kernel: Kernel) -> None:
    """hba0 (bus 0, slot 4, INTA#): the host map's swizzle puts it on the first of the
    inputs, 16, a line of its own."""
    hba = kernel.registry.fromPath("IODeviceTree:hba0")
    assert hba is not None
    assert interrupts_of(hba) == [(CONTROLLER, INPUT_16_LEVEL)]


def test_the_controller_name_is_the_one_its_driver_registers_under(kernel: Kernel) -> None:
    """IODTInterruptControllerName of the controller node: its phandle in hex."""
    node = kernel.registry.fromPath("IODeviceTree:/interrupt-controller")
    assert node is not None
    assert IODTInterruptControllerName(node) == CONTROLLER
    assert isinstance(node, IOPlatformDevice)
    (driver,) = node.getClients()
    assert str(driver.getProperty("InterruptControllerName")) == CONTROLLER


def test_nodes_without_interrupts_get_no_interrupt_properties(kernel: Kernel) -> None:
    """The bridge and the platform nubs have no ``interrupts``: nothing to map."""
    for path in ("IODeviceTree:/pci/pci-bridge", "IODeviceTree:/interrupt-controller"):
        entry = kernel.registry.fromPath(path)
        assert entry is not None, path
        assert entry.getProperty("IOInterruptControllers") is None


CONTROLLERS_LINE = re.compile(r'"IOInterruptControllers" = \("[^"]+"(,"[^"]+")*\)$')
INTERRUPT_KEYS = re.compile(r'"IOInterrupt(Controllers|Specifiers)" = ')
SPECIFIERS_LINE = re.compile(r'"IOInterruptSpecifiers" = \(<[0-9a-f]+>(,<[0-9a-f]+>)*\)$')


def test_ioreg_shows_the_properties_in_the_shape_of_a_real_dump(
    kernel: Kernel, shared_data: Path
) -> None:
    """A list of controller names and a list of data, as a real Mac's ioreg prints them
    (the MacBook Pro 9,2 dump's lines match the same patterns as ours)."""
    with gzip.open(shared_data / "ioreg" / "MacBookPro9.2__IOReg.txt.gz", "rt") as dump:
        real = [line.rstrip("\n") for line in dump if INTERRUPT_KEYS.search(line)]
    assert real
    for line in real:
        assert CONTROLLERS_LINE.search(line) or SPECIFIERS_LINE.search(line), line
    output = ioreg(io.IOMainPort(kernel.registry), IORegOptions(list=True, width=0))
    ours = [line for line in output.stdout if INTERRUPT_KEYS.search(line)]
    assert len(ours) == 6  # two test cards and the HBA, two properties each
    for line in ours:
        assert CONTROLLERS_LINE.search(line) or SPECIFIERS_LINE.search(line), line
    assert sum(line.endswith(f'"IOInterruptControllers" = ("{CONTROLLER}")') for line in ours) == 3
    assert (
        sum(line.endswith('"IOInterruptSpecifiers" = (<0000001200000001>)') for line in ours) == 2
    )
    assert (
        sum(line.endswith('"IOInterruptSpecifiers" = (<0000001000000001>)') for line in ours) == 1
    )


def test_the_bridge_map_holds_masked_unit_addresses_like_a_real_newworld_bridge(
    kernel: Kernel,
) -> None:
    """Regression: the firmware used to store the bus number in the bridge's
    interrupt-map entries, which the mask 0xF800 removes from the child's address, so
    xnu's walk (it masks the child, not the entry) found no entry for testcard0."""
    bridge = kernel.device_tree.find("/pci/pci-bridge")
    assert bridge is not None
    interrupt_map = bridge.get_cells("interrupt-map")
    mask = bridge.get_cells("interrupt-map-mask")
    assert interrupt_map is not None
    assert mask is not None
    entry_width = 3 + 1 + 1 + 3 + 1  # child unit, pin, phandle, parent unit, parent pin
    for start in range(0, len(interrupt_map), entry_width):
        child = interrupt_map[start : start + 4]
        assert [cell & bits for cell, bits in zip(child, mask, strict=True)] == child


def test_the_controller_nub_has_its_registers_as_device_memory(kernel: Kernel) -> None:
    """IODTResolveAddressing of ``reg`` under the root: one range, the register block,
    which maps and reads the FEATURES register (32 inputs, version 1)."""
    nub = kernel.registry.fromPath("IODeviceTree:/interrupt-controller")
    assert isinstance(nub, IOPlatformDevice)
    assert nub.getDeviceMemoryCount() == 1
    memory = nub.getDeviceMemoryWithIndex(0)
    assert memory is not None
    assert memory.getPhysicalAddress() == INTERRUPT_CONTROLLER_BASE
    assert memory.getLength() == INTERRUPT_CONTROLLER_SIZE
    assert nub.getDeviceMemoryWithIndex(1) is None
    with kernel.entered():
        mapped = nub.mapDeviceMemoryWithIndex(0)
        assert mapped is not None
        assert mapped.ioRead32(0x00) == 32 | 1 << 8
        mapped.release()
    host = kernel.registry.fromPath("IODeviceTree:/pci")
    assert isinstance(host, IOPlatformDevice)
    assert host.getDeviceMemoryCount() == 3  # I/O window, CONFIG_ADDRESS, CONFIG_DATA


# -- synthetic trees -------------------------------------------------------------------------------


def bus_tree() -> DeviceTree:
    """/ (1 cell each) > bus (ranges: child 0 at 0x80000000, 16 MiB) > device."""
    tree = DeviceTree()
    root = tree.root
    root.set_int("#address-cells", 1)
    root.set_int("#size-cells", 1)
    controller = root.add_child("pic", "f0000000")
    controller.set_boolean("interrupt-controller")
    controller.set_int("#interrupt-cells", 2)
    controller.set_cells("reg", [0xF000_0000, 0x100])
    bus = root.add_child("bus", "80000000")
    bus.set_int("#address-cells", 1)
    bus.set_int("#size-cells", 1)
    bus.set_cells("reg", [0x8000_0000, 0x0100_0000])
    bus.set_cells("ranges", [0, 0x8000_0000, 0x0100_0000])
    device = bus.add_child("device", "1000")
    device.set_cells("reg", [0x1000, 0x100, 0x0200_0000, 0x10])  # the second is outside
    device.set_cells("interrupts", [5])
    tree.assign_phandles()
    bus.set_cells("interrupt-map-mask", [0xFFFF_F000, 7])
    bus.set_cells("interrupt-map", [0x1000, 5, controller.phandle, 9, 1])
    return tree


def test_addresses_are_translated_through_the_parents_ranges(kernel_context: ClassRegistry) -> None:
    """The device's 0x1000 is 0x80001000 on the root; an entry outside every range is
    left out, as xnu leaves it out."""
    entries = mirrored(bus_tree(), kernel_context)
    ranges = IODTResolveAddressing(entries["/bus/device"])
    assert ranges is not None
    assert [(memory.getPhysicalAddress(), memory.getLength()) for memory in ranges] == [
        (0x8000_1000, 0x100)
    ]
    direct = IODTResolveAddressing(entries["/pic"])
    assert direct is not None
    assert [(memory.getPhysicalAddress(), memory.getLength()) for memory in direct] == [
        (0xF000_0000, 0x100)
    ]
    for memory in [*ranges, *direct]:
        memory.release()


def test_an_interrupt_the_map_does_not_know_is_not_mapped(kernel_context: ClassRegistry) -> None:
    """A specifier without a matching interrupt-map entry fails the whole entry: no
    properties, and IODTMapInterrupts says so."""
    tree = bus_tree()
    device = tree.find("/bus/device")
    assert device is not None
    device.set_cells("interrupts", [6])
    entries = mirrored(tree, kernel_context)
    entry = entries["/bus/device"]
    assert IODTMapInterrupts(entry) is False
    assert entry.getProperty("IOInterruptControllers") is None


def test_the_map_is_looked_up_with_the_masked_unit_address(kernel_context: ClassRegistry) -> None:
    """The mask keeps the unit address's high bits: 0x1000 & 0xFFFFF000 finds the entry,
    whose specifier (9, level) goes to the controller."""
    entries = mirrored(bus_tree(), kernel_context)
    entry = entries["/bus/device"]
    assert IODTMapInterrupts(entry) is True
    pic = entries["/pic"]
    name = IODTInterruptControllerName(pic)
    assert name is not None
    assert interrupts_of(entry) == [(name, bytes.fromhex("0000000900000001"))]


# -- real Power Macintosh trees --------------------------------------------------------------------


@pytest.fixture
def oftrees(shared_data: Path) -> Path:
    return shared_data / "oftrees"


def test_a_newworld_device_behind_a_bridge_maps_through_the_bridges_map(
    oftrees: Path, kernel_context: ClassRegistry
) -> None:
    """mol-blk in slot 3 behind the Blue & White G3's bridge: heathrow input 0x17."""
    entries = mirrored(read_mol_tree_file(oftrees / "oftree.nw"), kernel_context)
    entry = entries["/pci/pci-bridge/mol-blk"]
    assert IODTMapInterrupts(entry) is True
    assert interrupts_of(entry) == [("IOInterruptControllerFF861220", bytes.fromhex("00000017"))]


def test_a_newworld_interrupt_parent_names_the_controller_directly(
    oftrees: Path, kernel_context: ClassRegistry
) -> None:
    """escc-legacy/ch-a names heathrow as its interrupt-parent: three interrupts of one
    cell each (heathrow's #interrupt-cells)."""
    entries = mirrored(read_mol_tree_file(oftrees / "oftree.nw"), kernel_context)
    entry = entries["/pci/pci-bridge/mac-io/escc-legacy/ch-a"]
    assert IODTMapInterrupts(entry) is True
    assert interrupts_of(entry) == [
        ("IOInterruptControllerFF861220", bytes.fromhex(cell))
        for cell in ("0000000f", "00000004", "00000005")
    ]


def test_oldworld_interrupts_go_to_the_primary_interrupt_controller(
    oftrees: Path, kernel_context: ClassRegistry
) -> None:
    """The 7200's 53c94 lists AAPL,interrupts 12 0: one vector per cell."""
    entries = mirrored(read_mol_tree_file(oftrees / "oftree.7200"), kernel_context)
    entry = entries["/bandit/gc/53c94"]
    assert IODTMapInterrupts(entry) is True
    assert interrupts_of(entry) == [
        ("IOPrimaryInterruptController", bytes.fromhex("0000000c")),
        ("IOPrimaryInterruptController", bytes.fromhex("00000000")),
    ]
