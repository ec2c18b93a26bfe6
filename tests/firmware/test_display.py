"""``ls`` (Apple's QA1036 layout) and ``.properties`` (OpenBIOS's layout), spec §3.1."""

from __future__ import annotations

import re

import pytest

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.firmware.display import NAME_COLUMN, format_properties, list_tree
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.machine import Machine

LS_LINE = re.compile(r"^[0-9a-f]{8}: (?P<indent>(?:  )*)/(?P<name>\S+)$")


@pytest.fixture
def small_tree() -> DeviceTree:
    """A tree shaped like QA1036's G4 excerpt, with known phandles."""
    tree = DeviceTree()
    cpus = tree.root.add_child("cpus")
    cpu = cpus.add_child("PowerPC,G4", "0")
    cpu.add_child("l2-cache")
    pci = tree.root.add_child("pci", "f2000000")
    bridge = pci.add_child("pci-bridge", "d")
    bridge.add_child("mac-io", "7")
    phandles = [0xFF800000, 0xFF83D620, 0xFF83D8D0, 0xFF83DCC8, 0xFF909800, 0xFF90A968, 0xFF90CC20]
    for node, phandle in zip(tree.nodes(), phandles, strict=True):
        node.phandle = phandle
    return tree


def bus_node() -> DeviceTreeNode:
    """A device node under a PCI bus (3 address cells, 2 size cells)."""
    bus = DeviceTreeNode("pci")
    bus.set_int("#address-cells", 3)
    bus.set_int("#size-cells", 2)
    node = DeviceTreeNode("mac-io", "5")
    bus.attach(node)
    return node


# -- ls ----------------------------------------------------------------------------------------


def test_ls_of_root_matches_apple_qa1036_lines(small_tree):
    """``dev / ls``: phandle, colon, space, two spaces per level below the first, /name@unit."""
    assert list_tree(small_tree.root) == [
        "ff83d620: /cpus",
        "ff83d8d0:   /PowerPC,G4@0",
        "ff83dcc8:     /l2-cache",
        "ff909800: /pci@f2000000",
        "ff90a968:   /pci-bridge@d",
        "ff90cc20:     /mac-io@7",
    ]


def test_ls_below_a_node_starts_its_children_unindented(small_tree):
    """``dev /pci ls``: the node itself is not listed, its children are at level one."""
    pci = small_tree.find("/pci")
    assert list_tree(pci) == ["ff90a968: /pci-bridge@d", "ff90cc20:   /mac-io@7"]


def test_ls_pads_phandles_to_eight_hex_digits():
    """Small phandles print with leading zeros, always 8 digits."""
    tree = DeviceTree()
    child = tree.root.add_child("a")
    child.phandle = 0x1F
    assert list_tree(tree.root) == ["0000001f: /a"]


def test_ls_of_leaf_is_empty(small_tree):
    """A node without children lists nothing."""
    assert list_tree(small_tree.find("/cpus/PowerPC,G4/l2-cache")) == []


def test_ls_of_real_oftree_nw_lists_every_node_once_in_qa1036_format(real_nw):
    """The real B&W G3 tree lists 73 lines, each well formed and indented by depth."""
    lines = list_tree(real_nw.root)
    nodes = [node for node in real_nw.nodes() if node is not real_nw.root]
    assert len(lines) == len(nodes) == 73
    for line, node in zip(lines, nodes, strict=True):
        match = LS_LINE.match(line)
        assert match, line
        assert len(match["indent"]) == 2 * (node.depth() - 1)
        assert match["name"] == node.node_name
        assert line.startswith(f"{node.phandle:08x}: ")


def test_ls_of_real_oftree_nw_shows_the_pci_hierarchy(real_nw):
    """The /pci subtree prints like Apple's: pci-bridge@d, mac-io@5, the controller's phandle."""
    lines = list_tree(real_nw.root)
    pci = real_nw.find("/pci")
    index = lines.index(f"{pci.phandle:08x}: /pci@80000000")
    assert lines[index + 1].endswith(":   /pci-bridge@d")
    assert lines[index + 2].endswith(":     /mac-io@5")
    assert lines[index + 3] == "ff861220:       /interrupt-controller@10"


# -- .properties --------------------------------------------------------------------------------


def test_values_start_at_column_26():
    """Every value begins at column 26, the name padded with spaces."""
    node = bus_node()
    node.set_string("name", "mac-io")
    node.set_int("vendor-id", 0x106B)
    for line in format_properties(node):
        assert len(line) > NAME_COLUMN
        assert line[NAME_COLUMN - 1] == " "
        assert line[NAME_COLUMN] != " "
    assert NAME_COLUMN == 26


def test_long_name_gets_one_space_before_its_value():
    """A name of 26 characters or more is followed by exactly one space."""
    node = DeviceTreeNode("x")
    node.set_int("a-very-long-property-name-xyz", 5)
    assert format_properties(node) == ["a-very-long-property-name-xyz 5"]


def test_string_is_quoted():
    """A single string prints in double quotes."""
    node = DeviceTreeNode("x")
    node.set_string("device_type", "mac-io")
    assert format_properties(node) == ['device_type               "mac-io"']


def test_string_list_prints_in_braces():
    """A string list prints as {"a", "b"}."""
    node = DeviceTreeNode("x")
    node.set_strings("compatible", ["paddington", "heathrow"])
    assert format_properties(node) == ['compatible                {"paddington", "heathrow"}']


def test_single_cell_prints_as_bare_lower_case_hex():
    """One cell prints like ``.``: hex, no 0x, no leading zeros."""
    node = DeviceTreeNode("x")
    node.set_int("vendor-id", 0x106B)
    node.set_int("revision-id", 0)
    assert format_properties(node) == [
        "vendor-id                 106b",
        "revision-id               0",
    ]


def test_minus_one_prints_as_minus_one():
    """0xffffffff prints as -1, as ``.`` shows a signed number."""
    node = DeviceTreeNode("x")
    node.set_int("real-base", -1)
    assert format_properties(node) == ["real-base                 -1"]


def test_empty_property_prints_as_empty_marker():
    """A boolean property shows <empty>."""
    node = DeviceTreeNode("x")
    node.set_boolean("built-in")
    assert format_properties(node) == ["built-in                  <empty>"]


def test_reg_groups_address_and_size_with_continuation_lines():
    """reg: one entry per line, address cells, two spaces, size cells; then column 26."""
    node = bus_node()
    node.set_cells("reg", [0x12800, 0, 0, 0, 0, 0x02012810, 0, 0, 0, 0x80000])
    assert format_properties(node) == [
        "reg                       00012800 00000000 00000000  00000000 00000000",
        "                          02012810 00000000 00000000  00000000 00080000",
    ]


def test_ranges_groups_child_parent_and_size():
    """ranges: child address, parent address, size, separated by two spaces."""
    node = bus_node()
    node.set_int("#address-cells", 1)
    node.set_int("#size-cells", 1)
    node.set_cells("ranges", [0, 0x82012810, 0, 0x80800000, 0x80000])
    assert format_properties(node)[-1] == (
        "ranges                    00000000  82012810 00000000 80800000  00080000"
    )


def test_byte_array_prints_length_and_bytes():
    """A value that is neither string nor cells prints as ``-- len : xx xx``."""
    node = DeviceTreeNode("x")
    node.set_property("mac-address", bytes.fromhex("0050e4f0a04f"))
    assert format_properties(node) == ["mac-address               -- 6 : 00 50 e4 f0 a0 4f"]


def test_other_cell_arrays_print_four_cells_per_line():
    """Unstructured cell arrays wrap after four cells, continuation at column 26."""
    node = DeviceTreeNode("x")
    node.set_cells("power-consumption", [0xF800, 0, 0, 7, 1])
    assert format_properties(node) == [
        "power-consumption         0000f800 00000000 00000000 00000007",
        "                          00000001",
    ]


def test_interrupt_map_prints_one_entry_per_line_split_by_its_parts(real_nw):
    """Each interrupt-map entry: child unit, child specifier, parent, parent unit and
    specifier, with the parent's cell counts found through its phandle."""
    lines = format_properties(real_nw.find("/pci/pci-bridge"))
    start = next(index for index, line in enumerate(lines) if line.startswith("interrupt-map "))
    assert lines[start] == (
        "interrupt-map             00000000 00000000 00000000  00000000  ff861220  0000001d"
    )
    assert lines[start + 1] == (
        "                          00000800 00000000 00000000  00000000  ff861220  00000015"
    )
    assert "interrupt-map-mask        0000f800 00000000 00000000  00000000" in lines


def test_our_interrupt_maps_read_as_entries():
    """The firmware's host-bridge map names the controller input and the level sense."""
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        controller = tree.find("/interrupt-controller")
        assert controller is not None
        lines = format_properties(tree.find("pci"))
    expected = (
        "interrupt-map             00001000 00000000 00000000  00000001  "
        f"{controller.phandle:08x}  00000012 00000001"
    )
    assert expected in lines


def test_real_mac_io_properties_match_the_openbios_layout(real_nw):
    """The real mac-io prints exactly the lines of the spec's derived OpenBIOS sample."""
    lines = format_properties(real_nw.find("/pci/pci-bridge/mac-io"))
    sample = [
        'name                      "mac-io"',
        "vendor-id                 106b",
        'compatible                {"paddington", "heathrow"}',
        "reg                       00012800 00000000 00000000  00000000 00000000",
        "                          02012810 00000000 00000000  00000000 00080000",
    ]
    for line in sample:
        assert line in lines
    reg = lines.index(sample[3])
    assert lines[reg + 1] == sample[4]


def test_real_host_reg_groups_one_address_and_one_size_cell(real_nw):
    """/pci's reg under a one-cell root prints as ``80000000  7f000000``."""
    lines = format_properties(real_nw.find("/pci"))
    assert "reg                       80000000  7f000000" in lines


def test_properties_print_in_node_order(real_nw):
    """``.properties`` keeps the order of the node's property table."""
    node = real_nw.find("/pci/pci-bridge/mac-io")
    names = [line.split()[0] for line in format_properties(node) if not line.startswith(" ")]
    assert names == list(node.properties)
