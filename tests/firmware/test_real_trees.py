"""The MOL reader on the real Power Macintosh trees in ``shared/data/oftrees``.

Counts and values are checked against the text of the files themselves (see
``shared/spec/open-firmware.md`` §6.1); the tests skip when the data is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kextlab.firmware.moltree import read_mol_tree_file

from .support import resolve_interrupt

TREE_FILES = [
    "oftree.7200",
    "oftree.8500",
    "oftree.elf",
    "oftree.linux",
    "oftree.linux-via",
    "oftree.linux.old",
    "oftree.nw",
    "oftree.nw.old",
    "oftree.powerbase.180",
    "oftree.powerbase.200",
    "oftree.starmax.4160",
    "oftree.x",
]
CPU_FILES = ["ppc601.cpu", "ppc603.cpu", "ppc604.cpu", "ppc7400.cpu", "ppc7410.cpu", "ppc750.cpu"]


@pytest.mark.parametrize("name", TREE_FILES)
def test_every_exported_tree_parses_with_device_tree_as_root(oftrees: Path, name: str):
    """Each real tree file reads without error, its root named device-tree."""
    tree = read_mol_tree_file(oftrees / name)
    assert tree.root.name == "device-tree"
    assert len(list(tree.nodes())) > 1


@pytest.mark.parametrize("name", CPU_FILES)
def test_every_cpu_node_file_parses_with_a_cpu_root(oftrees: Path, name: str):
    """The CPU node files read as one-node-plus-children trees of device_type cpu."""
    tree = read_mol_tree_file(oftrees / name)
    assert tree.root.get_string("device_type") == "cpu"


def test_oftree_nw_has_74_nodes_and_568_properties(real_nw):
    """571 ``(property`` in the text minus the 3 commented out (AAPL,debug, no-boot, hd)."""
    nodes = list(real_nw.nodes())
    assert len(nodes) == 74
    assert sum(len(node.properties) for node in nodes) == 568


def test_commented_properties_are_absent(real_nw):
    """AAPL,debug (root), the multi-line no-boot and the first hd alias are comments."""
    assert not real_nw.root.has_property("AAPL,debug")
    aliases = real_nw.find("/aliases")
    assert aliases is not None
    assert not aliases.has_property("no-boot")
    assert aliases.get_string("hd") == "/pci/@d/mol-blk@3/disk@0"


def test_property_after_commented_no_boot_is_read(real_nw):
    """The entry right after the commented multi-line property is not swallowed."""
    aliases = real_nw.find("/aliases")
    assert aliases is not None
    assert aliases.get_property("usb-mouse") == b""
    assert aliases.get_string("last-boot") == "/pci@80000000/pci-bridge@d/mac-io@5/ethernet"


def test_boot_device_keeps_both_backslashes(real_nw):
    """/options boot-device is ``hd:,\\\\:tbxi``: two backslash characters, verbatim."""
    options = real_nw.find("/options")
    assert options is not None
    assert options.get_property("boot-device") == b"hd:,\\\\:tbxi\0"
    assert options.get_string("boot-device").count("\\") == 2


def test_chosen_bootpath_keeps_backslashes(real_nw):
    """/chosen bootpath ends in ``,\\\\:tbxi`` exactly as in the file."""
    chosen = real_nw.find("/chosen")
    assert chosen is not None
    assert chosen.get_string("bootpath") == "/pci/pci-bridge/mol-blk/disk@0:0,\\\\:tbxi"


def test_mac_io_compatible_is_a_string_list(real_nw):
    """mac-io's compatible is the two strings paddington and heathrow."""
    mac_io = real_nw.find("/pci/pci-bridge/mac-io")
    assert mac_io is not None
    assert mac_io.get_strings("compatible") == ["paddington", "heathrow"]
    assert mac_io.get_property("compatible") == b"paddington\0heathrow\0"


def test_mac_io_reg_and_assigned_addresses_are_read_as_cells(real_nw):
    """mac-io reg and assigned-addresses match the B&W G3 values quoted in the spec."""
    mac_io = real_nw.find("/pci/pci-bridge/mac-io")
    assert mac_io is not None
    assert mac_io.get_cells("reg") == [0x12800, 0, 0, 0, 0, 0x02012810, 0, 0, 0, 0x80000]
    assert mac_io.get_cells("assigned-addresses") == [0x82012810, 0, 0x80800000, 0, 0x80000]
    assert mac_io.get_cells("ranges") == [0, 0x82012810, 0, 0x80800000, 0x80000]


def test_byte_property_decodes_to_bytes(real_nw):
    """/chosen mac-address is a six-byte <byte> value."""
    chosen = real_nw.find("/chosen")
    assert chosen is not None
    assert chosen.get_property("mac-address") == bytes.fromhex("0050e4f0a04f")


def test_multi_line_byte_property_with_comment_before_it(real_nw):
    """The bridge's slot-names, after a ``#`` line, is 3 mask bytes + 7 names."""
    bridge = real_nw.find("/pci/pci-bridge")
    assert bridge is not None
    value = bridge.get_property("slot-names")
    assert value == bytes([0, 0, 3, 0x9E]) + b"".join(b"J%d\0" % slot for slot in range(1, 8))


def test_decimal_words_in_oftree_8500(oftrees: Path):
    """``AAPL,interrupts <word> 22`` on bandit is the cell 0x16."""
    tree = read_mol_tree_file(oftrees / "oftree.8500")
    bandit = tree.find("/bandit")
    assert bandit is not None
    assert bandit.get_property("AAPL,interrupts") == bytes.fromhex("00000016")


def test_multi_cell_decimal_words_in_oftree_8500(oftrees: Path):
    """``AAPL,interrupts <word> 14 2 3`` gives three cells."""
    tree = read_mol_tree_file(oftrees / "oftree.8500")
    mace = tree.find("/bandit/gc/mace")
    assert mace is not None
    assert mace.get_cells("AAPL,interrupts") == [14, 2, 3]


def test_interrupt_controller_keeps_its_mol_phandle(real_nw):
    """The Heathrow interrupt controller's phandle is the file's 0xff861220."""
    controller = real_nw.find("/pci/pci-bridge/mac-io/interrupt-controller")
    assert controller is not None
    assert controller.phandle == 0xFF861220
    assert real_nw.by_phandle(0xFF861220) is controller


def test_phandles_are_unique_and_nonzero(real_nw):
    """Every node of oftree.nw gets its own phandle."""
    phandles = [node.phandle for node in real_nw.nodes()]
    assert all(phandles)
    assert len(set(phandles)) == len(phandles)


def test_unit_addresses_derived_from_reg_under_pci(real_nw):
    """The bridge is ``pci-bridge@d``, mac-io behind it ``mac-io@5`` (from phys.hi)."""
    mac_io = real_nw.find("/pci/pci-bridge/mac-io")
    assert mac_io is not None
    assert mac_io.unit_address == "5"
    assert mac_io.parent is not None
    assert mac_io.parent.unit_address == "d"
    assert mac_io.path == "/pci@80000000/pci-bridge@d/mac-io@5"


def test_unit_addresses_derived_from_reg_under_mac_io(real_nw):
    """Nodes under mac-io (one address cell) use their first reg cell in hex."""
    escc = real_nw.find("/pci/pci-bridge/mac-io/escc")
    assert escc is not None
    assert escc.unit_address == "13000"
    assert [child.node_name for child in escc.children] == ["ch-a@13020", "ch-b@13000"]


def test_unit_string_is_used_verbatim(real_nw):
    """``(unit_string * )`` gives the wildcard unit of MOL's disk nodes."""
    disk = real_nw.find("/mol/pseudo-disk/disk")
    assert disk is not None
    assert disk.unit_address == "*"


def test_find_by_absolute_path_with_units(real_nw):
    """A full path with unit addresses, upper or lower case, finds the node."""
    node = real_nw.find("/pci@80000000/pci-bridge@D/mac-io@5")
    assert node is not None
    assert node.get_string("name") == "mac-io"
    assert real_nw.find("/pci@80000000/pci-bridge@e") is None


def test_find_by_path_without_units_and_with_bare_units(real_nw):
    """Names alone, and ``@unit`` components without a name, resolve (``/pci/@d``)."""
    by_names = real_nw.find("/pci/pci-bridge/mac-io/via-cuda/adb")
    by_unit = real_nw.find("/pci/@d/mac-io/via-cuda/adb")
    assert by_names is not None
    assert by_names is by_unit
    assert by_names.path == "/pci@80000000/pci-bridge@d/mac-io@5/via-cuda@16000/adb"


def test_find_through_aliases(real_nw):
    """An alias as first component resolves, with or without more path and :args."""
    mac_io = real_nw.find("/pci/pci-bridge/mac-io")
    assert real_nw.find("mac-io") is mac_io
    assert real_nw.find("bridge") is mac_io.parent
    rtc = real_nw.find("rtc:0")
    assert rtc is not None
    assert rtc.path == "/pci@80000000/pci-bridge@d/mac-io@5/via-cuda@16000/rtc"
    assert real_nw.find("mac-io/escc/ch-a") is real_nw.find("scca")
    assert real_nw.find("no-such-alias") is None


def test_find_matches_wildcard_unit_string(real_nw):
    """The ``pseudo`` alias (``.../disk@0``) reaches the node whose unit is ``*``."""
    disk = real_nw.find("pseudo")
    assert disk is not None
    assert disk.path == "/mol/pseudo-disk@0/disk@*"


def test_aliases_table_lists_string_aliases(real_nw):
    """tree.aliases() holds every alias string and not the node's name."""
    aliases = real_nw.aliases()
    assert aliases["pci"] == "/pci"
    assert aliases["scca"] == "/pci/@d/mac-io/escc/ch-a"
    assert "name" not in aliases
    assert "no-boot" not in aliases


def test_starmax_file_keeps_its_extra_top_level_node(oftrees: Path):
    """oftree.starmax.4160 puts starmax_hack before device-tree; it becomes a peer."""
    tree = read_mol_tree_file(oftrees / "oftree.starmax.4160")
    assert tree.root.name == "device-tree"
    assert [peer.name for peer in tree.top_level_peers] == ["starmax_hack"]
    assert all(node.name != "starmax_hack" for node in tree.nodes())


def test_name_with_trailing_empty_string_names_the_node_by_its_first_string(oftrees: Path):
    """ppc7400.cpu's name ``"PowerPC,G4", ""`` names the node PowerPC,G4, as promif.c does."""
    tree = read_mol_tree_file(oftrees / "ppc7400.cpu")
    assert tree.root.get_property("name") == b"PowerPC,G4\0\0"
    assert tree.root.name == "PowerPC,G4"


def test_pci106b_1_node_of_oftree_8500_has_no_compatible(oftrees: Path):
    """The OldWorld no-FCode node is named pci106b,1 at unit b and has no compatible."""
    tree = read_mol_tree_file(oftrees / "oftree.8500")
    node = tree.find("/bandit/pci106b,1")
    assert node is not None
    assert node.unit_address == "b"
    assert not node.has_property("compatible")
    assert node.get_property("fast-back-to-back") == b""


def test_real_bridge_interrupt_map_routes_mol_blk_to_heathrow_input_0x17(real_nw):
    """mol-blk (slot 3 behind the bridge) reaches controller input 0x17 via interrupt-map."""
    mol_blk = real_nw.find("/pci/pci-bridge/mol-blk")
    assert mol_blk is not None
    controller, specifier = resolve_interrupt(real_nw, mol_blk)
    assert controller.phandle == 0xFF861220
    assert specifier == [0x17]
