"""The device tree itself: value encodings, paths, lookup and phandles (IEEE 1275 §3.2, §4.3)."""

from __future__ import annotations

import pytest

from kextlab.firmware.devicetree import (
    PHANDLE_BASE,
    DeviceTree,
    DeviceTreeNode,
    decode_cells,
    decode_string,
    decode_strings,
    encode_cells,
    encode_int,
    encode_string,
    encode_strings,
)


@pytest.fixture
def tree() -> DeviceTree:
    """/pci@f2000000 with pci-bridge@d (mac-io@5, mac-io@5,1) and two ``disk`` nodes."""
    tree = DeviceTree()
    pci = tree.root.add_child("pci", "f2000000")
    bridge = pci.add_child("pci-bridge", "d")
    bridge.add_child("mac-io", "5")
    bridge.add_child("mac-io", "5,1")
    tree.root.add_child("disk")
    tree.root.add_child("disk", "1")
    aliases = tree.root.add_child("aliases")
    aliases.set_string("bridge", "/pci/pci-bridge")
    aliases.set_string("relative", "pci/pci-bridge")
    return tree


# -- encodings ------------------------------------------------------------------------------


def test_integers_encode_as_big_endian_cells():
    """encode-int: 32-bit big-endian, negative numbers in two's complement."""
    assert encode_int(0x106B) == b"\x00\x00\x10\x6b"
    assert encode_int(-1) == b"\xff\xff\xff\xff"
    assert encode_cells([1, 0x82012810]) == bytes.fromhex("00000001 82012810")


def test_strings_encode_with_terminating_nul():
    """encode-string adds a NUL; a string list is NUL-terminated strings back to back."""
    assert encode_string("pci") == b"pci\0"
    assert encode_strings(["paddington", "heathrow"]) == b"paddington\0heathrow\0"


def test_cells_decode_and_reject_partial_cells():
    """decode_cells splits whole cells and refuses a length that is not a multiple of 4."""
    assert decode_cells(bytes.fromhex("0000f800 00000007")) == [0xF800, 7]
    with pytest.raises(ValueError, match="6 bytes"):
        decode_cells(b"\0" * 6)


def test_string_decoding_recognises_lists_and_rejects_binary():
    """Printable NUL-terminated strings decode; binary data and cells do not."""
    assert decode_strings(b"a\0bc\0") == ["a", "bc"]
    assert decode_strings(b"\0") == [""]
    assert decode_strings(bytes.fromhex("00001011")) is None
    assert decode_strings(b"abc") is None
    assert decode_string(b"a\0bc\0") is None
    assert decode_string(b"mac-io\0") == "mac-io"


# -- nodes -----------------------------------------------------------------------------------


def test_add_child_sets_name_property_and_parent(tree):
    """add_child names the node, sets its ``name`` property and links it to its parent."""
    pci = tree.root.children[0]
    assert pci.get_string("name") == "pci"
    assert pci.parent is tree.root
    assert pci.node_name == "pci@f2000000"


def test_path_joins_name_and_unit_of_every_ancestor(tree):
    """The root's path is ``/``; others are ``/name@unit/...``."""
    assert tree.root.path == "/"
    mac_io = tree.root.children[0].children[0].children[1]
    assert mac_io.path == "/pci@f2000000/pci-bridge@d/mac-io@5,1"
    assert mac_io.depth() == 3


def test_walk_is_depth_first_in_child_order(tree):
    """nodes() yields a node before its children, children in insertion order."""
    names = [node.node_name for node in tree.nodes()]
    assert names == [
        "device-tree",
        "pci@f2000000",
        "pci-bridge@d",
        "mac-io@5",
        "mac-io@5,1",
        "disk",
        "disk@1",
        "aliases",
    ]


def test_missing_cell_counts_default_to_ieee_1275_values():
    """Without #address-cells / #size-cells a node gives its children 2 and 1."""
    node = DeviceTreeNode("bus")
    assert (node.address_cells(), node.size_cells()) == (2, 1)
    node.set_int("#address-cells", 3)
    node.set_int("#size-cells", 2)
    assert (node.address_cells(), node.size_cells()) == (3, 2)


def test_get_int_only_reads_single_cells():
    """get_int is None for a value that is not exactly one cell."""
    node = DeviceTreeNode("x")
    node.set_cells("pair", [1, 2])
    node.set_boolean("flag")
    assert node.get_int("pair") is None
    assert node.get_int("flag") is None
    assert node.get_int("absent") is None
    assert node.get_cells("pair") == [1, 2]


# -- finding nodes ---------------------------------------------------------------------------


def test_find_absolute_path_with_units(tree):
    """Full components ``name@unit`` select the node; a wrong unit finds nothing."""
    node = tree.find("/pci@f2000000/pci-bridge@d/mac-io@5,1")
    assert node is not None
    assert node.unit_address == "5,1"
    assert tree.find("/pci@f2000000/pci-bridge@e") is None


def test_find_compares_units_numerically_and_case_insensitively(tree):
    """``@D`` and ``@0d`` both name the unit ``d``."""
    bridge = tree.find("/pci/pci-bridge@d")
    assert tree.find("/pci/pci-bridge@D") is bridge
    assert tree.find("/pci/pci-bridge@0d") is bridge


def test_find_without_unit_prefers_the_node_without_one(tree):
    """``/disk`` picks the unit-less disk among two disks; ``/disk@1`` the other."""
    assert tree.find("/disk").unit_address is None
    assert tree.find("/disk@1").unit_address == "1"


def test_find_with_only_a_unit(tree):
    """``@unit`` without a name matches by unit address alone."""
    assert tree.find("/pci/@d/mac-io@5") is tree.find("/pci/pci-bridge/mac-io@5")


def test_find_ignores_arguments_and_follows_parent_components(tree):
    """``:args`` are dropped and ``..`` goes up one level."""
    bridge = tree.find("/pci/pci-bridge")
    assert tree.find("/pci/pci-bridge:0,\\\\:tbxi") is bridge
    assert tree.find("/pci/pci-bridge/mac-io@5/..") is bridge


def test_find_expands_an_alias_and_the_rest_of_the_path(tree):
    """An alias replaces the first component; the rest of the path continues from it."""
    assert tree.find("bridge") is tree.find("/pci/pci-bridge")
    assert tree.find("bridge/mac-io@5,1") is tree.find("/pci@f2000000/pci-bridge@d/mac-io@5,1")


def test_find_rejects_unknown_and_relative_aliases(tree):
    """An unknown alias, an alias to a relative path and an empty specifier find nothing."""
    assert tree.find("nothing") is None
    assert tree.find("relative") is None
    assert tree.find("  ") is None


# -- phandles --------------------------------------------------------------------------------


def test_assign_phandles_keeps_given_ones_and_skips_them(tree):
    """Existing phandles survive; new ones start at the base and avoid those in use."""
    bridge = tree.find("/pci/pci-bridge")
    bridge.phandle = PHANDLE_BASE + 0x100
    tree.assign_phandles()
    phandles = [node.phandle for node in tree.nodes()]
    assert bridge.phandle == PHANDLE_BASE + 0x100
    assert tree.root.phandle == PHANDLE_BASE
    assert len(set(phandles)) == len(phandles)
    assert tree.by_phandle(PHANDLE_BASE + 0x100) is bridge


def test_assign_phandles_is_deterministic():
    """Two trees built the same way get the same phandles."""

    def build() -> list[int]:
        tree = DeviceTree()
        for name in ("a", "b", "c"):
            tree.root.add_child(name).add_child("leaf")
        tree.assign_phandles()
        return [node.phandle for node in tree.nodes()]

    assert build() == build()


def test_by_phandle_of_unknown_phandle_is_none(tree):
    """A phandle no node has resolves to None."""
    tree.assign_phandles()
    assert tree.by_phandle(0x1234) is None
