"""The Mac-on-Linux tree reader on small inline texts: value encodings, structure, errors.

The real files are read in ``test_real_trees``; here each text isolates one rule of
``mol-src/src/main/promif.c`` that ``moltree`` follows, or one syntax error it must
report with the file and line.
"""

from __future__ import annotations

import pytest

from kextlab.errors import DeviceTreeSyntaxError
from kextlab.firmware.moltree import read_mol_tree

PCI_BUS = """
{
    (property name <str> "device-tree" )
    (property #address-cells <word> 1 )
    {
        (property name <str> "pci" )
        (property device_type <str> "pci" )
        (property #address-cells <word> 3 )
        (property #size-cells <word> 2 )
        (property reg <word> 0x80000000 0x7f000000 )
        {
            (property name <str> "bridge" )
            (property reg <word> 0x00006800 0x0 0x0 0x0 0x0 )
        }
        {
            (property name <str> "second" )
            (property reg <word> 0x00006900 0x0 0x0 0x0 0x0 )
        }
        {
            (unit_string 7 )
            (property name <str> "given" )
            (property reg <word> 0x00001800 0x0 0x0 0x0 0x0 )
        }
    }
}
"""


def read(text: str):
    return read_mol_tree(text, "inline.tree")


def error_of(text: str) -> DeviceTreeSyntaxError:
    with pytest.raises(DeviceTreeSyntaxError) as caught:
        read(text)
    return caught.value


# -- values -------------------------------------------------------------------------------------


def test_str_value_keeps_backslashes_and_ends_with_nul():
    """<str> takes the characters between the quotes verbatim, without escape processing."""
    tree = read('{\n (property boot-device <str> "hd:,\\\\:tbxi" )\n}\n')
    assert tree.root.get_property("boot-device") == b"hd:,\\\\:tbxi\0"


def test_commas_outside_quotes_separate_strings_of_a_list():
    """A comma between quoted strings makes a NUL-separated string list."""
    tree = read('{\n (property compatible <str> "paddington", "heathrow" )\n}\n')
    assert tree.root.get_property("compatible") == b"paddington\0heathrow\0"
    assert tree.root.get_strings("compatible") == ["paddington", "heathrow"]


def test_commas_and_parentheses_inside_quotes_are_text():
    """Inside quotes a comma or a parenthesis is part of the string, not syntax."""
    tree = read('{\n (property model <str> "AAPL,e826 (rev 2)" )\n}\n')
    assert tree.root.get_string("model") == "AAPL,e826 (rev 2)"


def test_word_values_are_big_endian_cells_in_hex_or_decimal():
    """<word> numbers are 0x-hex or decimal and stored as big-endian 32-bit cells."""
    tree = read("{\n (property AAPL,interrupts <word> 22 0x1d 0 )\n}\n")
    assert tree.root.get_property("AAPL,interrupts") == bytes.fromhex("00000016 0000001d 00000000")


def test_byte_values_are_one_byte_each():
    """<byte> numbers are stored one byte each, in order."""
    tree = read("{\n (property mac-address <byte> 0x00 0x50 0xe4 0xF0 160 0x4f )\n}\n")
    assert tree.root.get_property("mac-address") == bytes([0x00, 0x50, 0xE4, 0xF0, 0xA0, 0x4F])


def test_property_without_type_is_an_empty_boolean():
    """``(property built-in )`` is a property with a zero-length value."""
    tree = read("{\n (property built-in )\n}\n")
    assert tree.root.has_property("built-in")
    assert tree.root.get_property("built-in") == b""


def test_word_type_without_numbers_is_empty():
    """``<word>`` with no numbers gives an empty value, as in the ppc7400.cpu file."""
    tree = read("{\n (property altivec <word> )\n}\n")
    assert tree.root.get_property("altivec") == b""


# -- comments ----------------------------------------------------------------------------------


def test_hash_comment_removes_a_property_on_its_line():
    """A property after ``#`` on its line does not exist."""
    tree = read('{\n#   (property AAPL,debug <word> 0xffffffff )\n (property a <str> "x" )\n}\n')
    assert not tree.root.has_property("AAPL,debug")
    assert tree.root.get_string("a") == "x"


def test_commented_property_spanning_lines_is_removed_entirely():
    """A commented-out ``(`` comments out its whole expression, across lines."""
    text = (
        "{\n"
        "#        (property no-boot            <str>  \n"
        '            "/pci@80000000/pci-bridge@d/mac-io@5/fdc",\n'
        '            "/pci@80000000/pci-bridge@d/mac-io@5/scsi" )\n'
        "        (property usb-mouse          )\n"
        "}\n"
    )
    tree = read(text)
    assert sorted(tree.root.properties) == ["usb-mouse"]


# -- structure ---------------------------------------------------------------------------------


def test_children_nest_in_braces_in_file_order():
    """Nested braces make children, kept in the order of the file."""
    tree = read(PCI_BUS)
    pci = tree.root.children[0]
    assert [child.name for child in pci.children] == ["bridge", "second", "given"]
    assert pci.children[0].parent is pci


def test_unit_address_under_pci_comes_from_device_and_function():
    """Under a PCI bus the derived unit is ``DD`` or ``DD,F`` from reg's phys.hi."""
    tree = read(PCI_BUS)
    pci = tree.root.children[0]
    assert [child.unit_address for child in pci.children[:2]] == ["d", "d,1"]


def test_unit_address_elsewhere_is_the_first_reg_address_in_hex():
    """Under a non-PCI parent the unit is the first reg address, cells comma-separated."""
    tree = read(PCI_BUS)
    assert tree.root.children[0].unit_address == "80000000"


def test_unit_string_overrides_the_derived_unit_address():
    """An explicit ``(unit_string ...)`` wins over the unit that reg would give."""
    tree = read(PCI_BUS)
    assert tree.root.children[0].children[2].unit_address == "7"


def test_mol_phandle_is_kept_and_others_are_assigned_around_it():
    """A node's mol_phandle is its phandle; the other nodes get distinct fresh ones."""
    text = (
        '{\n (property name <str> "device-tree" )\n'
        ' {\n  (mol_phandle 0xff861220 )\n  (property name <str> "pic" )\n }\n'
        ' {\n  (property name <str> "other" )\n }\n}\n'
    )
    tree = read(text)
    pic = tree.find("/pic")
    assert pic is not None
    assert pic.phandle == 0xFF861220
    assert tree.by_phandle(0xFF861220) is pic
    phandles = [node.phandle for node in tree.nodes()]
    assert all(phandles)
    assert len(set(phandles)) == len(phandles)


def test_legacy_name_entry_names_a_node_without_name_property():
    """Older files name nodes with ``(name ...)``; it is used when no name property exists."""
    text = "{\n (name device-tree )\n (full_name / )\n (type bootrom )\n}\n"
    tree = read(text)
    assert tree.root.name == "device-tree"
    assert not tree.root.has_property("full_name")


def test_name_property_wins_over_legacy_name_entry():
    """When both are present, the node's name is its ``name`` property."""
    tree = read('{\n (name old )\n (property name <str> "device-tree" )\n}\n')
    assert tree.root.name == "device-tree"


def test_extra_top_level_node_becomes_a_peer_of_the_root():
    """A second top-level node is kept beside the root named device-tree."""
    text = (
        '{\n (property name <str> "starmax_hack" )\n}\n'
        '{\n (property name <str> "device-tree" )\n}\n'
    )
    tree = read(text)
    assert tree.root.name == "device-tree"
    assert [peer.name for peer in tree.top_level_peers] == ["starmax_hack"]


# -- errors ------------------------------------------------------------------------------------


def test_unknown_entry_is_a_syntax_error_naming_file_and_line():
    """An entry other than property/unit_string/mol_phandle/legacy ones is reported."""
    error = error_of('{\n (property name <str> "x" )\n (frobnicate 1 )\n}\n')
    assert (error.source, error.line) == ("inline.tree", 3)
    assert "frobnicate" in str(error)
    assert str(error).startswith("inline.tree:3:")


def test_unknown_data_type_is_a_syntax_error():
    """A type other than <str>, <word>, <byte> is reported with its line."""
    error = error_of('{\n (property name <str> "x" )\n (property reg <long> 1 )\n}\n')
    assert error.line == 3
    assert "<long>" in str(error)


def test_bad_number_is_a_syntax_error_on_the_line_of_its_property():
    """A token that is neither 0x-hex nor decimal is reported, naming the token."""
    error = error_of("{\n (property reg <word>\n   0x12 zz )\n}\n")
    assert error.line == 2
    assert "'zz'" in str(error)


def test_bad_byte_is_a_syntax_error():
    """<byte> values are checked the same way as <word> values."""
    error = error_of("{\n\n (property slot-names <byte> 0x00 0xg1 )\n}\n")
    assert error.line == 3
    assert "0xg1" in str(error)


def test_missing_closing_brace_reports_the_unclosed_node():
    """End of file inside a node names the line of the brace left open."""
    error = error_of('{\n (property name <str> "a" )\n {\n }\n')
    assert error.line == 1
    assert "}" in str(error)


def test_extra_closing_brace_is_a_syntax_error():
    """A ``}`` with no open node is reported on its own line."""
    error = error_of('{\n (property name <str> "x" )\n}\n}\n')
    assert error.line == 4


def test_unbalanced_parenthesis_reports_the_opening_line():
    """A ``(`` without its ``)`` is reported where it opened."""
    error = error_of('{\n\n (property name <str> "x"\n}\n')
    assert error.line == 3
    assert "(" in str(error)


def test_extra_closing_parenthesis_is_a_syntax_error():
    """A stray ``)`` is not silently skipped."""
    error = error_of('{\n (property name <str> "x" ))\n}\n')
    assert error.line == 2


def test_text_without_a_node_is_a_syntax_error():
    """A file holding only comments has no tree."""
    error = error_of("# nothing here\n")
    assert error.source == "inline.tree"


def test_two_top_level_nodes_without_device_tree_is_a_syntax_error():
    """With several top-level nodes, one must be named device-tree."""
    error = error_of('{\n (property name <str> "a" )\n}\n{\n (property name <str> "b" )\n}\n')
    assert error.line == 4


def test_syntax_error_is_a_value_error():
    """DeviceTreeSyntaxError can be caught as the built-in ValueError."""
    with pytest.raises(ValueError, match=r"inline\.tree:1:"):
        read('(property name <str> "x" )\n')
