"""Name matching on device-tree and PCI nubs, and the names IOPCIConfigurator gives.

``compare_nub_name`` is xnu's ``IODTCompareNubName``/``CompareKey`` and
``compare_nub_names`` its ``IORegistryEntry::compareNames`` walk
(``shared/spec/iokit-matching.md`` §1.6); ``pci_generic_name``, ``pci_compatible``,
``pci_nub_name`` and ``pci_location`` are IOPCIConfigurator's and IOPCIBridge's naming.
Nub properties are copied from the real dumps in ``shared/data/ioreg/`` where one fits.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kextlab.families.pci.names import (
    NUB_NAME_PROPERTIES,
    compare_nub_name,
    compare_nub_names,
    pci_compatible,
    pci_generic_name,
    pci_location,
    pci_nub_name,
)


def nub(**properties: object) -> Callable[[str], object]:
    """A nub's property lookup (``device_type`` and friends spelled as Python names)."""
    return properties.get


#: MacBookPro9,2 FRWR: Texas Instruments/Agere FireWire 11c1:5901, subsystem 11c1:5900.
MBP92_FRWR = nub(
    name="pci11c1,5901",
    compatible=b"pci11c1,5900\0pci11c1,5901\0pciclass,0c0010\0",
    IOName="pci11c1,5901",
)
#: MacBookPro9,2 IGPU: generic name "display", and a model from the firmware.
MBP92_IGPU = nub(
    name="display",
    compatible=b"pci106b,fa\0pci8086,166\0pciclass,030000\0",
    model=b"Intel HD Graphics 4000\0",
)
#: CheckAudio IGPU: ``name`` is data here, and ``compatible`` ends with ACPI names.
CHECKAUDIO_IGPU = nub(
    name=b"display\0",
    compatible=b"pci1028,c1d\0pci8086,a721\0pciclass,030000\0GFX0\0IGPU\0",
)
#: MacBookPro9,2 CPU0 in the device tree: name and device_type only.
MBP92_CPU0 = nub(name=b"CPU0\0", device_type=b"processor\0")
#: A PowerPC Rage 128 as Open Firmware names it (oftree.nw.old's ``screen`` alias).
RAGE128 = nub(name=b"ATY,Rage128y\0", device_type=b"display\0", model=b"ATY,Rage128y\0")


# -- compare_nub_name -------------------------------------------------------------------------


def test_the_properties_are_tried_in_apples_order() -> None:
    """name, compatible, device_type, model."""
    assert NUB_NAME_PROPERTIES == ("name", "compatible", "device_type", "model")


def test_an_exact_key_matches_an_equal_entry_of_name_or_compatible() -> None:
    """AppleFWOHCI's "pciclass,0c0010" is found in compatible, the name also works."""
    assert compare_nub_name(MBP92_FRWR, "pciclass,0c0010") == "pciclass,0c0010"
    assert compare_nub_name(MBP92_FRWR, "pci11c1,5900") == "pci11c1,5900"
    assert compare_nub_name(MBP92_FRWR, "pci11c1,5901") == "pci11c1,5901"


def test_an_exact_key_matches_neither_a_prefix_nor_a_longer_entry() -> None:
    """Lengths must be equal: "pci11c1" and "pciclass,0c00100" are not names of FRWR."""
    for key in ("pci11c1", "pciclass,0c0010 ", "pciclass,0c00100", "PCI11C1,5901", ""):
        assert compare_nub_name(MBP92_FRWR, key) is None, key


def test_a_wildcard_key_returns_the_entry_it_matched_not_the_key() -> None:
    """IONameMatched is the property entry: "pciclass,0c*" gives "pciclass,0c0010"."""
    assert compare_nub_name(MBP92_FRWR, "pciclass,0c*") == "pciclass,0c0010"
    assert compare_nub_name(MBP92_FRWR, "pci11c1,*") == "pci11c1,5901"


def test_a_wildcard_is_a_prefix_of_keylen_minus_one_characters() -> None:
    """Only a final * is special; the entry must be at least as long as the prefix."""
    assert compare_nub_name(MBP92_FRWR, "pciclass,0c0010*") == "pciclass,0c0010"
    assert compare_nub_name(MBP92_FRWR, "pciclass,0c00100*") is None
    assert compare_nub_name(MBP92_FRWR, "pci*,5901") is None
    assert compare_nub_name(MBP92_FRWR, "*") == "pci11c1,5901"


def test_the_first_property_with_a_hit_wins_then_the_first_entry_in_it() -> None:
    """ "display" is in CheckAudio's name; "pci*" hits name on FRWR before compatible;
    within compatible the first matching entry is returned."""
    assert compare_nub_name(CHECKAUDIO_IGPU, "display") == "display"
    assert compare_nub_name(MBP92_FRWR, "pci*") == "pci11c1,5901"
    assert compare_nub_name(MBP92_IGPU, "pci*") == "pci106b,fa"
    assert compare_nub_name(CHECKAUDIO_IGPU, "IGPU") == "IGPU"


def test_device_type_and_model_are_searched_last() -> None:
    """A device-tree CPU matches "processor" by device_type; IGPU's model matches too."""
    assert compare_nub_name(MBP92_CPU0, "processor") == "processor"
    assert compare_nub_name(MBP92_IGPU, "Intel HD*") == "Intel HD Graphics 4000"
    assert compare_nub_name(RAGE128, "display") == "display"


def test_matching_is_case_sensitive() -> None:
    """strncmp, not strncasecmp."""
    assert compare_nub_name(CHECKAUDIO_IGPU, "Display") is None
    assert compare_nub_name(CHECKAUDIO_IGPU, "igpu") is None


def test_absent_properties_and_values_that_are_neither_data_nor_string_are_skipped() -> None:
    """CompareKey matches nothing in a number, a boolean or a dictionary."""
    lookup = nub(name=0x1234, compatible=True, device_type={"a": 1}, model=b"display\0")
    assert compare_nub_name(lookup, "display") == "display"
    assert compare_nub_name(lookup, "*") == "display"
    assert compare_nub_name(nub(), "*") is None


def test_a_string_property_is_one_entry_and_empty_data_has_none() -> None:
    """An OSString is one NUL-terminated entry (even the empty string, which "*"
    matches); an empty OSData has no bytes to walk, so not even "*" matches."""
    assert compare_nub_name(nub(name="pci8086,154"), "pci8086,154") == "pci8086,154"
    assert compare_nub_name(nub(name=""), "*") == ""
    assert compare_nub_name(nub(name=b""), "*") is None
    assert compare_nub_name(nub(name=b"", compatible=b"x\0"), "*") == "x"


def test_the_data_walk_follows_c_on_unterminated_and_empty_entries() -> None:
    """The last entry may lack its NUL; a terminating NUL starts no entry; two NULs
    in a row make an empty entry, which only an empty key (or a bare *) matches."""
    assert compare_nub_name(nub(compatible=b"pci8086,154"), "pci8086,154") == "pci8086,154"
    assert compare_nub_name(nub(compatible=b"abc\0"), "") is None
    assert compare_nub_name(nub(compatible=b"abc\0\0def\0"), "") == ""
    assert compare_nub_name(nub(compatible=b"abc\0\0def\0"), "def") == "def"
    assert compare_nub_name(nub(compatible=b"\0"), "*") == ""


def test_a_nul_inside_a_string_property_separates_entries_as_in_c() -> None:
    """C walks the string's bytes up to its terminator: an embedded NUL splits them."""
    assert compare_nub_name(nub(name="one\0two"), "two") == "two"


def test_a_key_holding_a_nul_never_matches() -> None:
    """strncmp stops at the key's NUL, where no entry long enough can agree."""
    assert compare_nub_name(nub(compatible=b"ab\0cd\0"), "ab\0cd") is None
    assert compare_nub_name(nub(compatible=b"ab\0cd\0"), "ab\0*") is None


def test_entries_compare_as_bytes_and_come_back_as_utf_8_strings() -> None:
    """A UTF-8 key matches the same bytes in data; bytes that are not UTF-8 survive
    as surrogate escapes, as kextlab's dump reader keeps them."""
    name = "Caméra FaceTime"
    data = name.encode("utf-8") + b"\0"
    assert compare_nub_name(nub(model=data), "Caméra*") == name
    assert compare_nub_name(nub(model=name), "Caméra*") == name
    raw = b"Cam\xe9ra\0"  # Latin-1/Mac Roman bytes, not UTF-8
    matched = compare_nub_name(nub(model=raw), "Cam*")
    assert matched is not None
    assert matched.encode("utf-8", "surrogateescape") == b"Cam\xe9ra"


def test_bytes_like_values_are_data() -> None:
    """bytearray and memoryview hold OSData bytes too."""
    assert compare_nub_name(nub(name=bytearray(b"display\0")), "display") == "display"
    assert compare_nub_name(nub(name=memoryview(b"display\0")), "disp*") == "display"


# -- compare_nub_names ------------------------------------------------------------------------


def test_a_string_is_one_name() -> None:
    """IONameMatch "display" on CheckAudio's IGPU (IONDRVFramebuffer's personality 1)."""
    assert compare_nub_names(CHECKAUDIO_IGPU, "display") == "display"


def test_applefwohci_matches_its_pciclass_name_through_compatible() -> None:
    """AppleFWOHCI's IONameMatch ("pciclass,0c0010") on MacBookPro9,2's FRWR: the
    name property is pci11c1,5901; the hit is compatible's third entry."""
    assert compare_nub_names(MBP92_FRWR, ["pciclass,0c0010"]) == "pciclass,0c0010"


def test_applesamplepci_wildcards_yield_the_matched_entry() -> None:
    """("ATY*", "NVDA*") on a Rage 128 gives IONameMatched "ATY,Rage128y"."""
    assert compare_nub_names(RAGE128, ["ATY*", "NVDA*"]) == "ATY,Rage128y"
    nvidia = nub(name=b"NVDA,Display-A\0", device_type=b"display\0")
    assert compare_nub_names(nvidia, ["ATY*", "NVDA*"]) == "NVDA,Display-A"
    assert compare_nub_names(MBP92_IGPU, ["ATY*", "NVDA*"]) is None


def test_names_are_tried_in_collection_order_and_the_first_hit_wins() -> None:
    """The list order decides, not the property order: "pciclass,0c0010" (found in
    compatible) wins over a later "pci11c1,5901" (found in name)."""
    assert compare_nub_names(MBP92_FRWR, ["pciclass,0c0010", "pci11c1,5901"]) == "pciclass,0c0010"
    assert compare_nub_names(MBP92_FRWR, ("nothing", "pci11c1,59*")) == "pci11c1,5901"
    assert compare_nub_names(MBP92_FRWR, ["nothing", "else"]) is None
    assert compare_nub_names(MBP92_FRWR, []) is None


def test_a_member_that_is_not_a_string_ends_the_walk() -> None:
    """OSDynamicCast(OSString, next) fails and compareNames stops there."""
    assert compare_nub_names(CHECKAUDIO_IGPU, ["nothing", 5, "display"]) is None
    assert compare_nub_names(CHECKAUDIO_IGPU, [b"display", "display"]) is None


def test_a_value_that_is_neither_string_nor_collection_matches_nothing() -> None:
    """Data, a number or a boolean as IONameMatch: compareNames finds no string."""
    for names in (b"display", bytearray(b"display"), 0x1234, True, None):
        assert compare_nub_names(CHECKAUDIO_IGPU, names) is None


def test_a_dictionary_is_walked_by_its_keys_like_any_collection() -> None:
    """C's collection iterator yields a dictionary's keys, and so does Python's."""
    assert compare_nub_names(CHECKAUDIO_IGPU, {"nothing": 1, "display": 2}) == "display"


# -- IOPCIConfigurator's names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("class_code", "name"),
    [
        (0x000100, "display"),  # pre-2.0 VGA-compatible
        (0x000000, None),
        (0x000101, None),
        (0x010000, "scsi"),
        (0x010011, "scsi"),
        (0x010601, None),  # AHCI
        (0x020000, "ethernet"),
        (0x020080, "ethernet"),
        (0x028000, None),  # other network (Wi-Fi)
        (0x030000, "display"),
        (0x030001, "display"),
        (0x038000, "display"),
        (0x040300, None),
        (0x060400, "pci-bridge"),
        (0x060401, "pci-bridge"),  # subtractive decode
        (0x060000, None),  # host bridge
        (0x060900, None),  # semi-transparent bridge
    ],
)
def test_generic_names_follow_the_configurators_table(class_code: int, name: str | None) -> None:
    """display, scsi, ethernet, display, pci-bridge, each under its own mask."""
    assert pci_generic_name(class_code) == name


def test_compatible_lists_subsystem_vendor_device_and_class() -> None:
    """MacBookPro9,2's MCHC: pci106b,fa, pci8086,154, pciclass,060000 (lower-case
    hex, no padding; the class six digits)."""
    assert pci_compatible(0x8086, 0x0154, 0x106B, 0x00FA, 0x060000) == [
        "pci106b,fa",
        "pci8086,154",
        "pciclass,060000",
    ]


def test_compatible_omits_a_zero_subsystem_or_one_equal_to_the_ids() -> None:
    """No subsystem entry when both IDs are 0 or the pair repeats vendor,device."""
    assert pci_compatible(0x8086, 0x9C90, 0, 0, 0x060400) == ["pci8086,9c90", "pciclass,060400"]
    assert pci_compatible(0x8086, 0x1547, 0x8086, 0x1547, 0x060400) == [
        "pci8086,1547",
        "pciclass,060400",
    ]


def test_compatible_keeps_a_subsystem_with_one_zero_half() -> None:
    """Real cases: "pci7f,0" on root ports, "pci0,aab0" on iMac15,1's HDAU; a pair that
    differs in one half only is kept too."""
    assert pci_compatible(0x8086, 0x9C96, 0x007F, 0, 0x060400)[0] == "pci7f,0"
    assert pci_compatible(0x1002, 0xAAB0, 0, 0xAAB0, 0x040300)[0] == "pci0,aab0"
    assert pci_compatible(0x14E4, 0x16BC, 0x14E4, 0, 0x080501)[0] == "pci14e4,0"


def test_compatible_pads_only_the_class() -> None:
    """ "pciclass,%06x": a VGA-compatible pre-2.0 function is pciclass,000100."""
    assert pci_compatible(0x1, 0x2, 0, 0, 0x000100) == ["pci1,2", "pciclass,000100"]


def test_compatible_ends_with_the_device_tree_name_cut_to_30_bytes() -> None:
    """The ACPI/DT name follows the class (MacBookPro12,1's "NHI0"); strlcpy(..., 31)
    keeps 30 bytes of a longer one."""
    assert pci_compatible(0x8086, 0x156C, 0, 0, 0x088000, acpi_name="NHI0") == [
        "pci8086,156c",
        "pciclass,088000",
        "NHI0",
    ]
    long_name = "N" * 40
    assert pci_compatible(0x8086, 0x156C, 0, 0, 0x088000, acpi_name=long_name)[-1] == "N" * 30


def test_the_nub_name_is_generic_else_vendor_device_even_after_a_subsystem_entry() -> None:
    """IOPCIConfigurator takes ``name = out`` after writing the subsystem entry, so
    MCHC is "pci8086,154", not compatible's first entry "pci106b,fa"."""
    assert pci_nub_name(0x8086, 0x0154, 0x060000) == "pci8086,154"
    assert pci_nub_name(0x8086, 0x0166, 0x030000) == "display"
    assert pci_nub_name(0x10EC, 0x8168, 0x020000) == "ethernet"
    assert pci_nub_name(0x8086, 0x0151, 0x060400) == "pci-bridge"
    assert pci_nub_name(0x11C1, 0x5901, 0x0C0010) == "pci11c1,5901"


@pytest.mark.parametrize(
    ("device", "function", "location"),
    [
        (0, 0, "0"),
        (1, 0, "1"),
        (0x1A, 0, "1A"),
        (0x14, 3, "14,3"),
        (0x1F, 7, "1F,7"),
        (2, 1, "2,1"),
    ],
)
def test_locations_are_upper_case_hex_with_the_function_only_when_not_zero(
    device: int, function: int, location: str
) -> None:
    """ "%X" or "%X,%X" (CheckAudio's CNVW is at 14,3; MacBookPro9,2's EHC2 at 1A)."""
    assert pci_location(device, function) == location


@pytest.mark.parametrize(
    "call",
    [
        lambda: pci_location(32, 0),
        lambda: pci_location(0, 8),
        lambda: pci_location(-1, 0),
        lambda: pci_generic_name(0x1000000),
        lambda: pci_compatible(0x10000, 0, 0, 0, 0),
        lambda: pci_compatible(0, 0, 0, 0x10000, 0),
        lambda: pci_nub_name(0, 0x10000, 0),
    ],
)
def test_numbers_outside_their_pci_fields_are_refused(call: Callable[[], object]) -> None:
    """Device 0-31, function 0-7, 16-bit IDs, 24-bit class: anything else is a bug."""
    with pytest.raises(ValueError, match="must fit"):
        call()
