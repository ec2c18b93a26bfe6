"""Our PCI nodes against the real ones of a Power Mac G3 Blue & White (``oftree.nw``).

Spec §1: wherever the real tree has the same kind of node, our properties must read
like Apple's.  The machine ``BW_G3_LIKE`` reproduces the B&W G3's topology: a DEC
21154 in root slot 13 and, behind it, a card in slot 5 of bus 1 where mac-io sits,
everything below 4 GiB.
"""

from __future__ import annotations

import pytest

from .support import BW_G3_LIKE, ranges_entries

BRIDGE_IDENTICAL = [
    "name",
    "device_type",
    "model",
    "compatible",
    "vendor-id",
    "device-id",
    "revision-id",
    "class-code",
    "devsel-speed",
    "fast-back-to-back",
    "#address-cells",
    "#size-cells",
    "#interrupt-cells",
    "reg",
    "bus-range",
]


@pytest.fixture
def ours(boot):
    """(bridge node, card node, host node) of the B&W G3-like machine."""
    machine, firmware, tree = boot(BW_G3_LIKE)
    bridge = firmware.node_for(machine.pci_function("bridge"))
    card = firmware.node_for(machine.pci_function("macio"))
    return bridge, card, tree.find("pci")


@pytest.fixture
def real(real_nw):
    """(bridge node, mac-io node, host node) of oftree.nw."""
    bridge = real_nw.find("/pci/pci-bridge")
    mac_io = real_nw.find("/pci/pci-bridge/mac-io")
    return bridge, mac_io, real_nw.find("/pci")


@pytest.mark.parametrize("name", BRIDGE_IDENTICAL)
def test_bridge_property_is_byte_identical_to_the_real_dec_21154(ours, real, name):
    """Each identity, header and bus property of /pci/pci-bridge has the real bytes."""
    real_value = real[0].get_property(name)
    assert real_value is not None, f"oftree.nw's bridge lacks {name}"
    assert ours[0].get_property(name) == real_value


def test_bridge_path_matches_the_real_one(ours, real):
    """Both bridges are pci-bridge@d directly under the host bridge."""
    assert ours[0].node_name == real[0].node_name == "pci-bridge@d"


def test_bridge_has_no_endpoint_only_properties_like_the_real_one(ours, real):
    """Neither bridge carries min-grant or max-latency (type 1 header)."""
    for node in (ours[0], real[0]):
        assert not node.has_property("min-grant")
        assert not node.has_property("max-latency")


def test_bridge_ranges_use_the_real_entry_layout(ours, real):
    """Ranges entries are 8 cells, child == parent, with the real phys.hi words."""
    our_entries = ranges_entries(ours[0])
    real_entries = ranges_entries(real[0])
    for entries in (our_entries, real_entries):
        assert all(len(entry) == 8 and entry[0:3] == entry[3:6] for entry in entries)
    assert [entry[0] for entry in our_entries] == [entry[0] for entry in real_entries]
    assert [entry[0] for entry in our_entries] == [0x82000000, 0x81000000]


def test_bridge_windows_have_the_real_minimal_sizes(ours, real):
    """With little behind it the bridge opens 1 MiB of memory and 4 KiB of I/O, as Apple's."""
    sizes = [entry[6:8] for entry in ranges_entries(ours[0])]
    assert sizes == [entry[6:8] for entry in ranges_entries(real[0])]
    assert sizes == [[0, 0x100000], [0, 0x1000]]


def test_bridge_interrupt_map_mask_selects_the_device_like_the_real_one(ours, real):
    """Both masks keep the device number (0xf800) of the child's phys.hi."""
    assert ours[0].get_cells("interrupt-map-mask")[:3] == [0xF800, 0, 0]
    assert real[0].get_cells("interrupt-map-mask")[:3] == [0xF800, 0, 0]


def test_card_in_mac_io_slot_has_mac_io_config_entry(ours, real):
    """The card's reg starts with mac-io's config entry: 00012800 0 0 0 0."""
    assert ours[1].get_cells("reg")[:5] == real[1].get_cells("reg")[:5]
    assert ours[1].get_cells("reg")[0] == 0x00012800


def test_card_bar0_reg_entry_matches_mac_io(ours, real):
    """BAR0's reg entry is 02012810 0 0 like mac-io's (only the size differs)."""
    our_bar0 = ours[1].get_cells("reg")[5:10]
    real_bar0 = real[1].get_cells("reg")[5:10]
    assert our_bar0[:3] == real_bar0[:3] == [0x02012810, 0, 0]
    assert our_bar0[3:] == [0, 0x1000]


def test_card_assigned_addresses_start_like_mac_io(ours, real):
    """assigned-addresses' first phys.hi is 82012810 (n bit set), as on the real mac-io."""
    assert ours[1].get_cells("assigned-addresses")[0] == 0x82012810
    assert real[1].get_cells("assigned-addresses")[0] == 0x82012810


def test_card_assigned_bar0_lies_in_the_bridge_memory_range(ours):
    """Like mac-io's 0x80800000, BAR0's address is inside the bridge's memory range."""
    entry = ours[1].get_cells("assigned-addresses")[:5]
    memory = next(item for item in ranges_entries(ours[0]) if item[0] == 0x82000000)
    base, size = memory[1] << 32 | memory[2], memory[6] << 32 | memory[7]
    address = entry[1] << 32 | entry[2]
    assert base <= address
    assert address + entry[4] <= base + size


@pytest.mark.parametrize(
    "name", ["min-grant", "max-latency", "devsel-speed", "class-code", "vendor-id", "device-id"]
)
def test_card_header_property_is_a_word_like_mac_io(ours, real, name):
    """Header-derived properties are 4-byte cells on both nodes."""
    assert len(real[1].get_property(name)) == 4
    assert len(ours[1].get_property(name)) == 4


def test_card_class_code_encoding_matches_mac_io(ours, real):
    """class-code is base<<16 | sub<<8 | prog-if: both are 0x00ff0000."""
    assert ours[1].get_property("class-code") == real[1].get_property("class-code")


def test_card_unit_address_matches_mac_io(ours, real):
    """The card is @5 behind pci-bridge@d, as mac-io is."""
    assert ours[1].unit_address == real[1].unit_address == "5"
    assert ours[1].path.split("/")[2:] == ["pci-bridge@d", ours[1].node_name]


def test_host_bridge_cell_sizes_match_the_real_grackle(ours, real):
    """On an all-below-4-GiB machine the host has #address-cells 3, #size-cells 2, like /pci."""
    for name in ("#address-cells", "#size-cells", "#interrupt-cells", "device_type"):
        assert ours[2].get_property(name) == real[2].get_property(name), name


def test_host_bus_range_is_two_cells_like_the_real_one(ours, real):
    """bus-range is two cells; with one bridge both say 0 1."""
    assert ours[2].get_cells("bus-range") == real[2].get_cells("bus-range") == [0, 1]


def test_host_ranges_entries_are_six_cells_like_the_real_one(ours, real):
    """3 child + 1 parent + 2 size cells per entry, both on ours and on Grackle's."""
    for node in (ours[2], real[2]):
        assert node.parent.get_int("#address-cells") == 1
        entries = ranges_entries(node)
        assert all(len(entry) == 6 for entry in entries)
    real_codes = {entry[0] for entry in ranges_entries(real[2])}
    our_codes = {entry[0] for entry in ranges_entries(ours[2])}
    assert our_codes == real_codes == {0x01000000, 0x02000000}


def test_host_reg_uses_root_cells_like_the_real_one(ours, real):
    """The host's reg is (address, size) pairs of one cell each under a one-cell root."""
    assert len(real[2].get_cells("reg")) == 2
    assert ours[2].get_cells("reg")[:2] == [0xF2000000, 0x10000]
