"""PCI nodes per the PCI bus binding (shared/spec/open-firmware.md §1.2-§1.7).

Names, ``compatible``, unit addresses, the properties taken from the configuration
header, ``reg``/``assigned-addresses``/``ranges``, and the interrupt tree, which is
walked through ``interrupt-map`` the way an operating system walks it.
"""

from __future__ import annotations

import pytest

from kextlab.firmware import pci_binding
from kextlab.firmware.devicetree import DeviceTreeNode
from kextlab.firmware.pci_probe import ProbedFunction
from kextlab.machine.pci import registers as r

from .support import NESTED_BRIDGES, assignments, ranges_entries, resolve_interrupt

TEST_CARD_COMPATIBLE = [
    "pci1234,4b4c.1234.1.1",
    "pci1234,4b4c.1234.1",
    "pci1234,1",
    "pci1234,4b4c.1",
    "pci1234,4b4c",
    "pciclass,ff0000",
    "pciclass,ff00",
]


def function(**fields) -> ProbedFunction:
    """A probed function as the probe would record it; fields override the test card's IDs."""
    values = {
        "bus": 0,
        "device": 2,
        "function": 0,
        "vendor_id": 0x1234,
        "device_id": 0x4B4C,
        "revision_id": 1,
        "class_code": 0xFF0000,
        "header_type": r.HEADER_TYPE_NORMAL,
        "status": 0,
    }
    values.update(fields)
    return ProbedFunction(**values)


def node_of(firmware, machine, name: str):
    node = firmware.node_for(machine.pci_function(name))
    assert node is not None
    return node


# -- compatible and name ---------------------------------------------------------------------


def test_test_card_compatible_is_the_full_binding_list(booted):
    """testcard0's compatible is the seven forms of §1.7, most specific first."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard0")
    assert node.get_strings("compatible") == TEST_CARD_COMPATIBLE


def test_compatible_uses_each_card_subsystem_id(booted):
    """testcard1 (subsystem ID 2) differs from testcard0 only in the subsystem forms."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard1")
    assert node.get_strings("compatible") == [
        "pci1234,4b4c.1234.2.1",
        "pci1234,4b4c.1234.2",
        "pci1234,2",
        *TEST_CARD_COMPATIBLE[3:],
    ]


def test_compatible_without_subsystem_vendor_has_no_subsystem_forms():
    """Subsystem vendor 0: entries 1-3 of the list are left out."""
    probed = function(subsystem_vendor_id=0, subsystem_id=0)
    assert pci_binding.compatible_list(probed) == [
        "pci1234,4b4c.1",
        "pci1234,4b4c",
        "pciclass,ff0000",
        "pciclass,ff00",
    ]


def test_compatible_hex_has_no_leading_zeros_but_class_is_padded():
    """IDs print as %x; the class forms are exactly 6 and 4 hex digits."""
    probed = function(vendor_id=0x106B, device_id=0x0017, revision_id=0, class_code=0x000100)
    assert pci_binding.compatible_list(probed) == [
        "pci106b,17.0",
        "pci106b,17",
        "pciclass,000100",
        "pciclass,0001",
    ]


def test_compatible_with_subsystem_ids_uses_lower_case_without_padding():
    """Subsystem forms are lower case with no leading zeros: pciVVVV,DDDD.SSSS.ssss.RR."""
    probed = function(
        vendor_id=0x8086,
        device_id=0x100E,
        revision_id=2,
        subsystem_vendor_id=0xABC,
        subsystem_id=0x0D,
        class_code=0x020000,
    )
    assert pci_binding.compatible_list(probed)[:3] == [
        "pci8086,100e.abc.d.2",
        "pci8086,100e.abc.d",
        "pciabc,d",
    ]


def test_name_is_subsystem_ids_when_subsystem_vendor_is_set(booted):
    """testcard0 (subsystem 1234:1) is named pci1234,1, after HW39."""
    machine, firmware = booted
    assert node_of(firmware, machine, "testcard0").get_string("name") == "pci1234,1"
    assert node_of(firmware, machine, "testcard1").get_string("name") == "pci1234,2"


def test_name_is_vendor_and_device_without_subsystem_vendor():
    """With subsystem vendor 0 the name is pciVVVV,DDDD."""
    assert pci_binding.node_name(function(subsystem_vendor_id=0)) == "pci1234,4b4c"


def test_dec_bridge_is_named_pci_bridge_with_apple_compatible(booted):
    """The DEC 21154 gets Apple's table entry: name pci-bridge, DEC,21154 identity."""
    machine, firmware = booted
    node = node_of(firmware, machine, "bridge0")
    assert node.name == "pci-bridge"
    assert node.get_string("name") == "pci-bridge"
    assert node.get_string("device_type") == "pci"
    assert node.get_string("model") == "DEC,21154"
    assert node.get_strings("compatible") == ["DEC,21154", "pci-bridge"]


def test_unknown_pci_to_pci_bridge_is_named_pci_bridge():
    """Any class 0x0604 function without a table entry is named pci-bridge too."""
    probed = function(
        vendor_id=0x8086,
        device_id=0x244E,
        class_code=0x060400,
        header_type=r.HEADER_TYPE_BRIDGE,
        subsystem_vendor_id=0x8086,
        subsystem_id=1,
    )
    assert pci_binding.node_name(probed) == "pci-bridge"


def test_endpoint_has_no_device_type_or_model(booted):
    """Without FCode or a table entry the firmware invents no device_type or model."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard0")
    assert not node.has_property("device_type")
    assert not node.has_property("model")


# -- unit addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "number", "text"),
    [(0xD, 0, "d"), (0xD, 1, "d,1"), (0x1F, 7, "1f,7"), (0, 0, "0"), (0x10, 0, "10")],
)
def test_unit_address_is_lower_case_hex_device_and_nonzero_function(device, number, text):
    """``DD`` or ``DD,F``: lower-case hex, no leading zeros, ``,F`` only when F is not 0."""
    assert pci_binding.unit_address(device, number) == text


def test_node_paths_carry_pci_unit_addresses(boot):
    """Nodes sit at ``name@DD`` / ``name@DD,F`` under their bus."""
    _, _, tree = boot(NESTED_BRIDGES)
    paths = {tree.find(name).path for name in ("card", "card1", "deep")}
    assert paths == {
        "/pci@0,f2000000/pci1234,1@7",
        "/pci@0,f2000000/pci1234,1@7,1",
        "/pci@0,f2000000/pci-bridge@1/pci-bridge@4/pci1234,1@3",
    }


# -- header properties -------------------------------------------------------------------------


def test_header_properties_are_one_cell_each(booted):
    """vendor-id, device-id, revision-id, class-code, interrupts... are 4-byte cells."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard1")
    cells = {
        name: node.get_property(name)
        for name in (
            "vendor-id",
            "device-id",
            "revision-id",
            "class-code",
            "subsystem-vendor-id",
            "subsystem-id",
            "interrupts",
            "min-grant",
            "max-latency",
            "devsel-speed",
        )
    }
    assert cells == {
        "vendor-id": bytes.fromhex("00001234"),
        "device-id": bytes.fromhex("00004b4c"),
        "revision-id": bytes.fromhex("00000001"),
        "class-code": bytes.fromhex("00ff0000"),
        "subsystem-vendor-id": bytes.fromhex("00001234"),
        "subsystem-id": bytes.fromhex("00000002"),
        "interrupts": bytes.fromhex("00000001"),
        "min-grant": bytes.fromhex("00000000"),
        "max-latency": bytes.fromhex("00000000"),
        "devsel-speed": bytes.fromhex("00000001"),
    }


def test_status_capabilities_become_booleans(booted):
    """Fast back-to-back capable cards get the boolean; 66 MHz and UDF are absent."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard0")
    assert node.get_property("fast-back-to-back") == b""
    assert not node.has_property("66mhz-capable")
    assert not node.has_property("udf-supported")


def test_devsel_speed_uses_both_status_bits():
    """devsel-speed is status bits 10:9 (slow = 2), not OpenBIOS's lossy shift."""
    parent = DeviceTreeNode("pci")
    node = pci_binding.add_function_node(
        parent, function(status=r.DEVSEL_SLOW << r.STATUS_DEVSEL_SHIFT), {}
    )
    assert node.get_int("devsel-speed") == 2


def test_card_without_interrupt_pin_has_no_interrupts_property(boot):
    """A card with interrupt_pin 0 gets no interrupts property and no interrupt-map entry."""
    _, _, tree = boot(
        """
[memory]
size = "256M"
[[device]]
name = "quiet"
model = "testcard"
slot = 4
[device.params]
interrupt_pin = 0
"""
    )
    node = tree.find("quiet")
    assert not node.has_property("interrupts")
    host = tree.find("pci")
    assert not host.get_cells("interrupt-map")


def test_reg_lists_config_entry_then_every_bar_relocatable(booted):
    """reg: config entry (size 0), then one n=0 entry per BAR with its size (§1.2)."""
    machine, firmware = booted
    node = node_of(firmware, machine, "testcard1")
    entries = [
        [0x00001000, 0, 0, 0, 0],
        [0x02001010, 0, 0, 0, 0x1000],
        [0x01001014, 0, 0, 0, 0x20],
        [0x43001018, 0, 0, 0, 0x10000],
        [0x02001030, 0, 0, 0, 0x4000],
    ]
    assert node.get_cells("reg") == [cell for entry in entries for cell in entry]


def test_assigned_addresses_carry_the_programmed_addresses(booted):
    """assigned-addresses: n=1 entries with the address each BAR was programmed with."""
    machine, firmware = booted
    card = machine.pci_function("testcard0")
    node = node_of(firmware, machine, "testcard0")
    cells = node.get_cells("assigned-addresses")
    assert cells is not None
    entries = [cells[start : start + 5] for start in range(0, len(cells), 5)]
    from_hardware = {bar.register: bar for bar in assignments(machine, card)}
    assert [entry[0] & 0xFF for entry in entries] == [0x10, 0x14, 0x18, 0x30]
    for entry in entries:
        bar = from_hardware[entry[0] & 0xFF]
        assert entry[0] & 0x8000_0000, "n bit"
        assert entry[0] & 0x00FF_FF00 == 0x00010800, "bus 1, device 1"
        assert (entry[1] << 32 | entry[2], entry[3] << 32 | entry[4]) == (bar.address, bar.size)


def test_assigned_address_space_codes_follow_the_bars(booted):
    """Space codes: 0x82 mem32, 0x81 I/O, 0xc3 64-bit prefetchable, 0x82 ROM."""
    machine, firmware = booted
    cells = node_of(firmware, machine, "testcard0").get_cells("assigned-addresses")
    assert [cell >> 24 for cell in cells[::5]] == [0x82, 0x81, 0xC3, 0x82]


def test_bridge_ranges_map_its_open_windows_one_to_one(booted):
    """bridge ranges: 8-cell entries, child == parent, matching the bridge's registers."""
    machine, firmware = booted
    bridge = machine.pci_function("bridge0")
    node = node_of(firmware, machine, "bridge0")
    entries = ranges_entries(node)
    assert all(len(entry) == 8 and entry[0:3] == entry[3:6] for entry in entries)
    by_code = {entry[0]: entry for entry in entries}
    assert set(by_code) == {0x82000000, 0xC3000000, 0x81000000}
    windows = {
        0x82000000: bridge.memory_window(),
        0xC3000000: bridge.prefetchable_window(),
        0x81000000: bridge.io_window(),
    }
    for code, window in windows.items():
        entry = by_code[code]
        assert (entry[1] << 32 | entry[2], entry[6] << 32 | entry[7]) == (
            window.base,
            window.size,
        )


def test_bridge_bus_range_matches_its_bus_number_registers(boot):
    """bus-range of each bridge equals its Secondary and Subordinate Bus Number."""
    machine, firmware, _ = boot(NESTED_BRIDGES)
    for name in ("outer", "inner", "empty"):
        bridge = machine.pci_function(name)
        node = node_of(firmware, machine, name)
        assert node.get_cells("bus-range") == [
            bridge.secondary_bus_number,
            bridge.subordinate_bus_number,
        ]


def test_host_bus_range_spans_every_bus(boot):
    """The host bridge's bus-range runs from 0 to the highest subordinate bus."""
    _, _, tree = boot(NESTED_BRIDGES)
    assert tree.find("pci").get_cells("bus-range") == [0, 3]


def test_host_ranges_describe_the_host_windows(booted):
    """Host ranges: I/O at 0 -> io cpu base, 32-bit memory 1:1, prefetchable 1:1."""
    machine, firmware = booted
    tree = firmware.device_tree
    layout = machine.description.host_bridge
    entries = ranges_entries(tree.find("pci"))
    assert entries == [
        [0x01000000, 0, 0, 0, layout.io_cpu_base, 0, layout.io_size],
        [0x02000000, 0, 0x80000000, 0, 0x80000000, 0, layout.memory_window.size],
        [0x43000000, 0x10, 0, 0x10, 0, 4, 0],
    ]


# -- interrupts -------------------------------------------------------------------------------


def test_interrupt_map_of_host_and_bridge_reach_input_18(booted):
    """Walking interrupt-map from both default cards ends at the controller, input 18, level."""
    machine, firmware = booted
    tree = firmware.device_tree
    controller = tree.find("/interrupt-controller")
    for name in ("testcard0", "testcard1"):
        reached, specifier = resolve_interrupt(tree, node_of(firmware, machine, name))
        assert reached is controller, name
        assert specifier == [18, 1], name


def test_interrupt_map_agrees_with_interrupt_line_everywhere(boot):
    """For every function the tree's interrupt routing equals the programmed Interrupt Line."""
    machine, firmware, tree = boot(NESTED_BRIDGES)
    checked = 0
    for pci_function in machine.pci_functions():
        if not pci_function.interrupt_pin:
            continue
        node = firmware.node_for(pci_function)
        _, specifier = resolve_interrupt(tree, node)
        line = machine.config_read(
            pci_function.bus.number,
            pci_function.device_number,
            pci_function.function_number,
            r.INTERRUPT_LINE,
            1,
        )
        assert specifier[0] == line, pci_function.name
        checked += 1
    assert checked == 4


def test_bridge_interrupt_map_points_at_its_parent_bus(boot):
    """A bridge's interrupt-map entries name its parent bus node's phandle."""
    _, _, tree = boot(NESTED_BRIDGES)
    inner = tree.find("inner")
    entry_width = 3 + 1 + 1 + 3 + 1
    cells = inner.get_cells("interrupt-map")
    assert cells
    assert len(cells) % entry_width == 0
    assert {cells[index + 4] for index in range(0, len(cells), entry_width)} == {
        inner.parent.phandle
    }


def test_interrupt_map_mask_keeps_device_and_pin(booted):
    """interrupt-map-mask is 0xf800 0 0 7 on host and bridges."""
    _, firmware = booted
    tree = firmware.device_tree
    for path in ("pci", "bridge0"):
        assert tree.find(path).get_cells("interrupt-map-mask") == [0xF800, 0, 0, 7]


def test_bridge_with_nothing_behind_it_has_no_ranges_property(boot):
    """A zero-length ranges means 1:1 translation (IEEE 1275); a closed bridge must omit it."""
    _, _, tree = boot(NESTED_BRIDGES)
    empty = tree.find("empty")
    assert empty.get_property("ranges") != b""
