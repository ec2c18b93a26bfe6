"""IOPCIFamily register matching: the kernel's strtoul, matchKeys and pciMatchNub.

Every quirk of ``shared/spec/iokit-matching.md`` §2.2 has a test here, and the real
personalities of §5.4 item 3 are matched against the real registers of the nubs they
were attached to (values copied from the dumps in ``shared/data/ioreg/``).
"""

from __future__ import annotations

import struct

import pytest

from kextlab.families.pci.match_keys import (
    PCI_MATCH_KEYS,
    VENDOR_DEVICE_SCORE_BONUS,
    PCIConfigRegisters,
    PCIMatchResult,
    kernel_strtoul,
    match_keys,
    pci_match_nub,
    vendor_device_bonus_for_arch,
)

ULONG_MAX = (1 << 64) - 1

# Real registers (rebuilt from the dumps' vendor-id ... revision-id properties).
#: MacBookPro9,2 HDEF, Intel 7 Series HD Audio 8086:1e20, class 0x040300 rev 4.
MBP92_HDEF = PCIConfigRegisters.from_ids(0x8086, 0x1E20, 0x8086, 0x7270, 0x040300, 0x04)
#: MacBookPro9,2 EHC1, Intel 7 Series EHCI 8086:1e26, ``class-code <20030c00>``.
MBP92_EHC1 = PCIConfigRegisters.from_ids(0x8086, 0x1E26, 0x8086, 0x7270, 0x0C0320, 0x04)
#: MacBookPro9,2 NHI0, Intel Thunderbolt (Cactus Ridge) 8086:1513, class 0x088000.
MBP92_NHI0 = PCIConfigRegisters.from_ids(0x8086, 0x1513, 0x2222, 0x1111, 0x088000, 0x00)
#: MacBookPro9,2 IGPU, Intel HD Graphics 4000 8086:0166, subsystem 106b:00fa.
MBP92_IGPU = PCIConfigRegisters.from_ids(0x8086, 0x0166, 0x106B, 0x00FA, 0x030000, 0x09)
#: CheckAudio CNVW, Intel CNVi Wi-Fi 8086:51f1, subsystem 8086:4090, class 0x028000.
CHECKAUDIO_CNVW = PCIConfigRegisters.from_ids(0x8086, 0x51F1, 0x8086, 0x4090, 0x028000, 0x01)


# -- kernel_strtoul ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8086", (0x8086, 4)),
        ("0x8086", (0x8086, 6)),
        ("0X8086", (0x8086, 6)),
        ("abcDEF", (0xABCDEF, 6)),
        ("0xFfFf", (0xFFFF, 6)),
        ("10ea8086 rest", (0x10EA8086, 8)),
        ("0", (0, 1)),
        ("00x5", (0, 2)),
        ("ffffffffffffffff", (ULONG_MAX, 16)),
    ],
)
def test_strtoul_reads_hex_with_an_optional_0x_in_either_case(
    text: str, expected: tuple[int, int]
) -> None:
    """Hex digits of either case, with or without 0x/0X, up to the first non-digit."""
    assert kernel_strtoul(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  12", (0x12, 4)),
        ("\t12", (0x12, 3)),
        ("\n12", (0x12, 3)),
        (" \t\n 0x12", (0x12, 8)),
    ],
)
def test_strtoul_skips_the_kernels_spaces_before_the_number(
    text: str, expected: tuple[int, int]
) -> None:
    """Space, tab and newline before the number are skipped."""
    assert kernel_strtoul(text) == expected


@pytest.mark.parametrize("space", ["\r", "\v", "\f"])
def test_strtoul_does_not_skip_what_only_the_c_library_calls_space(space: str) -> None:
    """IOStringFuncs.c has its own isspace (space, tab, newline, and '\\12' = newline
    again): carriage return, vertical tab and form feed stop the number."""
    assert kernel_strtoul(f"{space}12") == (0, 0)


@pytest.mark.parametrize("text", ["", " ", "zz", "&ff", "- 5", "+-5", "\u0661", "\uff21"])
def test_strtoul_reports_no_number_with_end_at_the_start(text: str) -> None:
    """Nothing parsed gives 0 with end = start, even after skipped spaces; only ASCII
    digits and letters count as digits."""
    assert kernel_strtoul(text) == (0, 0)


@pytest.mark.parametrize("text", ["0x", "0X", "0xg", "0x ff", " 0x", "-0x", "0x&ff"])
def test_strtoul_consumes_0x_even_when_no_digit_follows_and_then_parses_nothing(
    text: str,
) -> None:
    """A 0x prefix is taken whenever present; with no hex digit after it nothing is
    parsed (glibc would read the 0)."""
    assert kernel_strtoul(text) == (0, 0)


def test_strtoul_reads_apples_typo_0x0x_as_zero() -> None:
    """``0x0xff00ffff`` reads the prefix, the digit 0, and stops at the second x."""
    assert kernel_strtoul("0x0xff00ffff") == (0, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+8086", (0x8086, 5)),
        ("+0x8086", (0x8086, 7)),
        ("-1", (ULONG_MAX, 2)),
        ("-0x10", ((1 << 64) - 0x10, 5)),
        ("-0", (0, 2)),
        ("-ffffffffffffffff", (1, 17)),
        ("  -1", (ULONG_MAX, 4)),
    ],
)
def test_strtoul_takes_a_sign_and_negates_modulo_2_to_the_64(
    text: str, expected: tuple[int, int]
) -> None:
    """An optional + or -; a minus negates the unsigned 64-bit result."""
    assert kernel_strtoul(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1" + "0" * 16, (ULONG_MAX, 17)),
        ("-1" + "0" * 16, (ULONG_MAX, 18)),
        ("f" * 40 + "z", (ULONG_MAX, 40)),
    ],
)
def test_strtoul_overflow_gives_the_maximum_not_negated_and_consumes_every_digit(
    text: str, expected: tuple[int, int]
) -> None:
    """On overflow the value is 2**64-1 (a minus is ignored) and end is past all digits."""
    assert kernel_strtoul(text) == expected


def test_strtoul_starts_at_the_given_index_and_returns_it_when_nothing_is_parsed() -> None:
    """``start`` plays the C pointer: the end is an index into the same text."""
    assert kernel_strtoul("0x1234 0x5678", 6) == (0x5678, 13)
    assert kernel_strtoul("0x1234 &zz", 8) == (0, 8)


def test_strtoul_stops_at_a_nul_as_at_the_end_of_a_c_string() -> None:
    """A NUL is not a space nor a digit: the C string ends there."""
    assert kernel_strtoul("12\0" + "34") == (0x12, 2)
    assert kernel_strtoul("\0" + "12") == (0, 0)


@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("0b101", 2, (5, 5)),
        ("0b1", 16, (0xB1, 3)),
        ("0b101", 0, (5, 5)),
        ("010", 0, (8, 3)),
        ("0x1f", 0, (31, 4)),
        ("19", 0, (19, 2)),
        ("0x5", 10, (0, 1)),
        ("zz", 36, (1295, 2)),
        ("129", 8, (0o12, 2)),
    ],
)
def test_strtoul_honours_other_bases_like_the_kernel(
    text: str, base: int, expected: tuple[int, int]
) -> None:
    """Base 0 picks 16 after 0x, 2 after 0b, 8 after 0, else 10; 0b only for bases 0 and 2."""
    assert kernel_strtoul(text, base=base) == expected


@pytest.mark.parametrize(("start", "base"), [(0, 1), (0, 37), (0, -16), (-1, 16), (5, 16)])
def test_strtoul_refuses_a_base_or_start_c_would_not_take(start: int, base: int) -> None:
    """Bases other than 0 and 2..36, and a start outside the text, are programming errors."""
    with pytest.raises(ValueError, match="strtoul"):
        kernel_strtoul("1234", start, base)


# -- match_keys -------------------------------------------------------------------------------


def test_a_single_value_must_equal_the_whole_register_under_the_default_mask() -> None:
    """IOPCIMatch "0x10ea8086": device 0x10ea, vendor 0x8086, all 32 bits compared."""
    assert match_keys("0x10ea8086", 0xFFFFFFFF, 0x10EA8086)
    assert not match_keys("0x10ea8086", 0xFFFFFFFF, 0x10EB8086)


def test_any_token_of_the_list_matching_is_enough() -> None:
    """Tokens are ORed; the walk ends at the first that matches."""
    assert match_keys("0x816810ec 0x81681186 0x250210ec 0x260010ec", 0xFFFFFFFF, 0x250210EC)
    assert not match_keys("0x816810ec 0x81681186", 0xFFFFFFFF, 0x250210EC)


@pytest.mark.parametrize("separator", [" ", "   ", "\t", "\n", " \t\n "])
def test_tokens_may_be_separated_by_any_kernel_space(separator: str) -> None:
    """strtoul skips spaces, tabs and newlines before each value."""
    assert match_keys(f"0x11118086{separator}0x10ea8086", 0xFFFFFFFF, 0x10EA8086)


def test_0x_is_optional_and_digits_may_be_either_case() -> None:
    """ "10EA8086", "10ea8086" and "0X10Ea8086" are the same token."""
    for keys in ("10EA8086", "10ea8086", "0X10Ea8086", "0x10EA8086"):
        assert match_keys(keys, 0xFFFFFFFF, 0x10EA8086), keys


def test_spaces_may_stand_between_a_value_and_its_mask() -> None:
    """Spaces (only) are skipped before the &; anything strtoul skips may follow it."""
    assert match_keys("0x00008086   &0x0000ffff", 0xFFFFFFFF, 0x51F18086)
    assert match_keys("0x00008086& \t0x0000ffff", 0xFFFFFFFF, 0x51F18086)
    assert match_keys("0x00008086&\n0x0000ffff", 0xFFFFFFFF, 0x51F18086)


def test_a_tab_before_the_ampersand_detaches_the_mask_and_ends_the_list() -> None:
    """After a tab the & is not seen: the value takes the default mask, and the next
    token, "&0x0000ffff", does not parse, which ends the list."""
    assert not match_keys("0x00008086\t&0x0000ffff", 0xFFFFFFFF, 0x51F18086)
    assert match_keys("0x00008086\t&0x0000ffff", 0xFFFFFFFF, 0x00008086)
    assert not match_keys("0x00008086\t&0x0000ffff 0x51f18086", 0xFFFFFFFF, 0x51F18086)


def test_a_token_that_does_not_parse_ends_the_list() -> None:
    """Tokens after the first unparsable one are never read."""
    assert match_keys("0x11118086 0x51f18086", 0xFFFFFFFF, 0x51F18086)
    assert not match_keys("0x11118086 zz 0x51f18086", 0xFFFFFFFF, 0x51F18086)
    assert not match_keys("0x11118086, 0x51f18086", 0xFFFFFFFF, 0x51F18086)


@pytest.mark.parametrize("keys", ["", " ", "\t\n", "zz", "0x", "&0xffff"])
def test_a_list_with_no_value_matches_nothing(keys: str) -> None:
    """The first strtoul parses nothing: no match, even against 0."""
    assert not match_keys(keys, 0xFFFFFFFF, 0)
    assert not match_keys(keys, 0, 0)


@pytest.mark.parametrize("keys", ["0x12345678&zz", "0x12345678&", "0x12345678 &", "0x12345678&-"])
def test_a_mask_that_does_not_parse_is_zero_and_matches_every_device(keys: str) -> None:
    """strtoul returns 0 for the mask, and (value & 0) == (reg & 0) always holds."""
    for register in (0, 0x12345678, 0x51F18086, 0xFFFFFFFF):
        assert match_keys(keys, 0xFFFFFFFF, register)


def test_apples_own_header_typo_matches_every_device() -> None:
    """IOPCIDevice.h's example "0x78009004&0x0xff00ffff": strtoul reads the mask as
    0x0, so it matches any register, not only Adaptec 9004:78xx."""
    keys = "0x78009004&0x0xff00ffff"
    assert match_keys(keys, 0xFFFFFFFF, 0x78009004)
    assert match_keys(keys, 0xFFFFFFFF, 0x10EA8086)
    assert match_keys(keys, 0xFFFFFFFF, 0)


def test_an_explicit_mask_replaces_the_default_entirely() -> None:
    """ "&0x0000ffff" compares the vendor only, whatever the default mask."""
    assert match_keys("0x00008086&0x0000ffff", 0xFFFFFFFF, 0x51F18086)
    assert match_keys("0x00008086&0x0000ffff", 0xFFFFFF00, 0x51F18086)
    assert not match_keys("0x00008086&0x0000ffff", 0xFFFFFFFF, 0x51F110EC)


def test_value_bits_above_31_are_ignored_under_a_32_bit_mask() -> None:
    """A 64-bit value against the 32-bit register: the default mask drops the high bits."""
    assert match_keys("0x1_0000_8086".replace("_", ""), 0xFFFFFFFF, 0x00008086)
    assert match_keys("0xffffffff00008086", 0xFFFFFFFF, 0x00008086)


def test_a_wide_mask_makes_a_value_with_high_bits_unmatchable() -> None:
    """With mask bits above 31, a value with any of them set never equals the 32-bit
    register; a value without them still can."""
    assert not match_keys("0x100008086&0x1ffffffff", 0xFFFFFFFF, 0x00008086)
    assert not match_keys("0xffffffff00008086&0xffffffffffffffff", 0xFFFFFFFF, 0x00008086)
    assert match_keys("0x00008086&0x1ffffffff", 0xFFFFFFFF, 0x00008086)


def test_signed_values_match_by_their_64_bit_pattern() -> None:
    """ "-1" is 2**64-1: all ones under a 32-bit mask, never equal under a 64-bit one;
    "+8086" is 0x8086."""
    assert match_keys("-1", 0xFFFFFFFF, 0xFFFFFFFF)
    assert not match_keys("-1&0xffffffffffffffff", 0xFFFFFFFF, 0xFFFFFFFF)
    assert match_keys("+8086", 0xFFFFFFFF, 0x00008086)
    assert match_keys("-0x7fff8000", 0xFFFFFFFF, 0x80008000)


def test_an_overflowing_value_reads_as_all_ones() -> None:
    """2**64 overflows to 2**64-1, which under the default mask is 0xffffffff."""
    assert match_keys("10000000000000000", 0xFFFFFFFF, 0xFFFFFFFF)
    assert not match_keys("10000000000000000", 0xFFFFFFFF, 0x00000000)


def test_a_nul_ends_the_keys_as_it_ends_a_c_string() -> None:
    """Tokens after an embedded NUL are never read."""
    assert not match_keys("0x11118086\0 0x51f18086", 0xFFFFFFFF, 0x51F18086)
    assert match_keys("0x51f18086\0garbage", 0xFFFFFFFF, 0x51F18086)


def test_the_register_and_default_mask_are_32_bit_as_their_c_types() -> None:
    """``reg`` is a uint32_t and ``defaultMask`` a UInt32: wider arguments are truncated."""
    assert match_keys("0x8086&0x1ffffffff", 0xFFFFFFFF, 0x1_0000_8086)
    assert match_keys("0xf00008086", 0xF_0000_FFFF, 0x1234_8086)


# -- PCIConfigRegisters -----------------------------------------------------------------------


def test_registers_from_ids_are_the_three_saved_config_dwords() -> None:
    """0x00 = device<<16|vendor, 0x2C = subsystem<<16|subsystem vendor, 0x08 = class<<8|rev."""
    registers = PCIConfigRegisters.from_ids(0x8086, 0x10EA, 0x106B, 0x00FA, 0x020000, 0x05)
    assert registers == PCIConfigRegisters(0x10EA8086, 0x00FA106B, 0x02000005)
    assert registers.saved_config(0x00) == 0x10EA8086
    assert registers.saved_config(0x08) == 0x02000005
    assert registers.saved_config(0x2C) == 0x00FA106B
    assert (registers.vendor, registers.device) == (0x8086, 0x10EA)
    assert (registers.subsystem_vendor, registers.subsystem_id) == (0x106B, 0x00FA)
    assert (registers.class_code, registers.revision) == (0x020000, 0x05)


def test_registers_from_a_config_header_are_read_little_endian() -> None:
    """A 256-byte header laid out as the PCI spec says; only its three dwords matter."""
    header = bytearray(256)
    struct.pack_into("<HH", header, 0x00, 0x8086, 0x1E20)  # vendor, device
    struct.pack_into("<BBBB", header, 0x08, 0x04, 0x00, 0x03, 0x04)  # rev, progif, sub, base
    struct.pack_into("<HH", header, 0x2C, 0x8086, 0x7270)  # subsystem vendor, subsystem
    assert PCIConfigRegisters.from_config_header(bytes(header)) == MBP92_HDEF
    assert PCIConfigRegisters.from_config_header(memoryview(header)[:0x30]) == MBP92_HDEF


def test_a_config_header_too_short_to_hold_the_subsystem_register_is_refused() -> None:
    """Matching needs bytes up to 0x2F."""
    with pytest.raises(ValueError, match="at least 48 bytes"):
        PCIConfigRegisters.from_config_header(bytes(0x2F))


@pytest.mark.parametrize(
    "ids",
    [
        (0x10000, 0, 0, 0, 0, 0),
        (0, -1, 0, 0, 0, 0),
        (0, 0, 0x10000, 0, 0, 0),
        (0, 0, 0, 0x10000, 0, 0),
        (0, 0, 0, 0, 0x1000000, 0),
        (0, 0, 0, 0, 0, 0x100),
    ],
)
def test_ids_out_of_their_field_widths_are_refused(ids: tuple[int, ...]) -> None:
    """16-bit IDs, a 24-bit class code and an 8-bit revision."""
    with pytest.raises(ValueError, match="must fit"):
        PCIConfigRegisters.from_ids(*ids)


def test_registers_are_32_bit_dwords_and_only_three_offsets_are_read() -> None:
    """A wider register, or another offset, is a programming error."""
    with pytest.raises(ValueError, match="32-bit dword"):
        PCIConfigRegisters(1 << 32, 0, 0)
    with pytest.raises(ValueError, match="not 0x4"):
        MBP92_HDEF.saved_config(0x04)


# -- pci_match_nub ----------------------------------------------------------------------------


def test_the_keys_are_walked_in_apples_order() -> None:
    """IOPCIMatch, IOPCIPrimaryMatch, IOPCISecondaryMatch, IOPCIClassMatch."""
    assert PCI_MATCH_KEYS == (
        "IOPCIMatch",
        "IOPCIPrimaryMatch",
        "IOPCISecondaryMatch",
        "IOPCIClassMatch",
    )


def test_a_personality_without_pci_keys_matches_with_no_bonus() -> None:
    """Absent keys are skipped; with none present pciMatchNub returns true."""
    table = {"IOClass": "AppleFWOHCI", "IONameMatch": "pciclass,0c0010"}
    assert pci_match_nub(table, MBP92_HDEF, vendor_device_bonus=True) == PCIMatchResult(
        score_delta=0, keys=(), pci_match_register=None
    )


def test_an_iopcimatch_hit_on_the_vendor_device_register_earns_the_bonus_when_enabled() -> None:
    """+1000 for IOPCIMatch on 0x00, only where the family compiles the bonus in."""
    table = {"IOPCIMatch": "0x01668086"}
    with_bonus = pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True)
    without = pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=False)
    assert with_bonus == PCIMatchResult(VENDOR_DEVICE_SCORE_BONUS, ("IOPCIMatch",), 0x00)
    assert without == PCIMatchResult(0, ("IOPCIMatch",), 0x00)


def test_an_iopcimatch_hit_on_the_subsystem_register_earns_no_bonus() -> None:
    """IOPCIMatch falls back to 0x2C when no token matched 0x00; that hit scores nothing."""
    result = pci_match_nub({"IOPCIMatch": "0x00fa106b"}, MBP92_IGPU, vendor_device_bonus=True)
    assert result == PCIMatchResult(0, ("IOPCIMatch",), 0x2C)


def test_iopcimatch_tries_the_whole_list_on_0x00_before_any_token_on_0x2c() -> None:
    """A subsystem token listed first does not stop a later vendor/device token from
    matching 0x00 (and earning the bonus)."""
    result = pci_match_nub(
        {"IOPCIMatch": "0x00fa106b 0x01668086"}, MBP92_IGPU, vendor_device_bonus=True
    )
    assert result == PCIMatchResult(VENDOR_DEVICE_SCORE_BONUS, ("IOPCIMatch",), 0x00)


def test_iopcimatch_fails_when_neither_register_matches() -> None:
    """Neither 0x00 nor 0x2C: the personality is refused."""
    assert pci_match_nub({"IOPCIMatch": "0x01628086"}, MBP92_IGPU, vendor_device_bonus=True) is None


def test_primary_match_reads_only_the_vendor_device_register_and_earns_no_bonus() -> None:
    """IOPCIPrimaryMatch never looks at 0x2C, and the bonus is IOPCIMatch's alone."""
    assert (
        pci_match_nub({"IOPCIPrimaryMatch": "0x00fa106b"}, MBP92_IGPU, vendor_device_bonus=True)
        is None
    )
    assert pci_match_nub(
        {"IOPCIPrimaryMatch": "0x01668086"}, MBP92_IGPU, vendor_device_bonus=True
    ) == PCIMatchResult(0, ("IOPCIPrimaryMatch",), None)


def test_secondary_match_reads_only_the_subsystem_register() -> None:
    """IOPCISecondaryMatch compares 0x2C, never 0x00."""
    assert pci_match_nub(
        {"IOPCISecondaryMatch": "0x00fa106b"}, MBP92_IGPU, vendor_device_bonus=True
    ) == PCIMatchResult(0, ("IOPCISecondaryMatch",), None)
    assert (
        pci_match_nub({"IOPCISecondaryMatch": "0x01668086"}, MBP92_IGPU, vendor_device_bonus=True)
        is None
    )


def test_class_match_ignores_the_revision_under_its_default_mask() -> None:
    """IOPCIClassMatch's default mask is 0xffffff00: any revision of the class matches."""
    for revision in (0x00, 0x04, 0xFF):
        registers = PCIConfigRegisters.from_ids(0x8086, 0x1E26, 0, 0, 0x0C0320, revision)
        assert pci_match_nub({"IOPCIClassMatch": "0x0c032000"}, registers, vendor_device_bonus=True)


def test_an_explicit_class_mask_replaces_the_default_and_can_compare_the_revision() -> None:
    """ "&0xffffffff" makes the revision count; "&0xffff0000" drops the programming
    interface too."""
    table = {"IOPCIClassMatch": "0x0c032004&0xffffffff"}
    assert pci_match_nub(table, MBP92_EHC1, vendor_device_bonus=False)
    other_revision = PCIConfigRegisters.from_ids(0x8086, 0x1E26, 0, 0, 0x0C0320, 0x05)
    assert pci_match_nub(table, other_revision, vendor_device_bonus=False) is None
    any_usb = {"IOPCIClassMatch": "0x0c030000&0xffff0000"}
    assert pci_match_nub(any_usb, MBP92_EHC1, vendor_device_bonus=False)


def test_every_present_key_must_match() -> None:
    """Keys are ANDed: a matching IOPCIMatch with a failing IOPCIClassMatch is refused,
    and the bonus it would have earned is lost."""
    table = {"IOPCIMatch": "0x01668086", "IOPCIClassMatch": "0x02000000"}
    assert pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True) is None
    table["IOPCIClassMatch"] = "0x03000000&0xff000000"
    assert pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True) == PCIMatchResult(
        VENDOR_DEVICE_SCORE_BONUS, ("IOPCIMatch", "IOPCIClassMatch"), 0x00
    )


def test_all_four_keys_together() -> None:
    """A personality with every key matches only when each does, in walk order."""
    table = {
        "IOPCIClassMatch": "0x03000000&0xff000000",
        "IOPCISecondaryMatch": "0x00fa106b",
        "IOPCIPrimaryMatch": "0x01668086",
        "IOPCIMatch": "0x00fa106b",
    }
    assert pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True) == PCIMatchResult(
        0, PCI_MATCH_KEYS, 0x2C
    )
    table["IOPCISecondaryMatch"] = "0x00fb106b"
    assert pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True) is None


def test_a_key_holding_anything_but_a_string_fails() -> None:
    """C reads the value as a C string unchecked (undefined for other objects); we
    refuse the personality."""
    for value in (0x01668086, b"0x01668086", ["0x01668086"], True):
        assert pci_match_nub({"IOPCIMatch": value}, MBP92_IGPU, vendor_device_bonus=True) is None


def test_a_key_mapped_to_none_counts_as_absent() -> None:
    """An OSDictionary cannot hold NULL: None is taken as a missing key."""
    table = {"IOPCIMatch": None, "IOPCIClassMatch": "0x03000000&0xff000000"}
    assert pci_match_nub(table, MBP92_IGPU, vendor_device_bonus=True) == PCIMatchResult(
        0, ("IOPCIClassMatch",), None
    )


def test_a_mask_that_does_not_parse_makes_the_personality_match_everything() -> None:
    """The quirk reaches pciMatchNub: "&zz" and Apple's 0x0x typo accept any nub."""
    for keys in ("0x12345678&zz", "0x78009004&0x0xff00ffff"):
        for registers in (MBP92_HDEF, MBP92_IGPU, CHECKAUDIO_CNVW):
            assert pci_match_nub({"IOPCIMatch": keys}, registers, vendor_device_bonus=False)


# -- The bonus by architecture ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "bonus"),
    [("arm64", True), ("x86", False), ("x86_64", False), ("i386", False), ("ppc", False)],
)
def test_only_arm64_kernels_give_the_vendor_device_bonus(arch: str, bonus: bool) -> None:
    """ACPI_SUPPORT is 1 on Intel, so no bonus there; PowerPC's family had no bonus code."""
    assert vendor_device_bonus_for_arch(arch) is bonus


def test_an_unknown_architecture_is_refused() -> None:
    """The message lists the known ones."""
    with pytest.raises(ValueError, match=r"'sparc'.*arm64, i386, ppc, x86, x86_64"):
        vendor_device_bonus_for_arch("sparc")


# -- Real personalities on real registers (spec §5.4 item 3) ----------------------------------


def test_applehdacontroller_class_mask_matches_hd_audio_class_0403() -> None:
    """AppleHDAController "0x04020000&0xFFFE0000" covers classes 0x0402 and 0x0403:
    MacBookPro9,2's HDEF (class 0x040300) matches; class 0x040100 does not."""
    table = {"IOPCIClassMatch": "0x04020000&0xFFFE0000"}
    assert pci_match_nub(table, MBP92_HDEF, vendor_device_bonus=False) == PCIMatchResult(
        0, ("IOPCIClassMatch",), None
    )
    ac97 = PCIConfigRegisters.from_ids(0x8086, 0x51CA, 0x1028, 0x0C1D, 0x040100, 0x01)
    assert pci_match_nub(table, ac97, vendor_device_bonus=False) is None


def test_appleusbehci_default_mask_matches_class_code_20030c00() -> None:
    """AppleUSBEHCI "0x0c032000" with the default mask matches the EHCI whose
    ``class-code`` data is <20030c00> (MacBookPro9,2 EHC1), revision ignored; not OHCI."""
    class_code = int.from_bytes(bytes.fromhex("20030c00"), "little")
    assert class_code == MBP92_EHC1.class_code == 0x0C0320
    table = {"IOPCIClassMatch": "0x0c032000"}
    assert pci_match_nub(table, MBP92_EHC1, vendor_device_bonus=False)
    ohci = PCIConfigRegisters.from_ids(0x106B, 0x003F, 0, 0, 0x0C0310, 0)
    assert pci_match_nub(table, ohci, vendor_device_bonus=False) is None


def test_airportitlwm_vendor_only_mask_matches_any_intel_function() -> None:
    """AirportItlwm's IOPCIPrimaryMatch "0x00008086&0x0000ffff" matches CheckAudio's
    CNVW (8086:51f1), and nothing from another vendor."""
    table = {"IOPCIPrimaryMatch": "0x00008086&0x0000ffff", "IOProbeScore": 2000}
    assert pci_match_nub(table, CHECKAUDIO_CNVW, vendor_device_bonus=True) == PCIMatchResult(
        0, ("IOPCIPrimaryMatch",), None
    )
    realtek = PCIConfigRegisters.from_ids(0x10EC, 0x8168, 0x1028, 0x0C1D, 0x020000, 0x15)
    assert pci_match_nub(table, realtek, vendor_device_bonus=True) is None


def test_airportitlwms_real_id_list_matches_cnvw_on_its_last_upper_case_token() -> None:
    """The list CheckAudio's AirportItlwm carried: 87 tokens, mixed case, 0x51F18086 last."""
    keys = (
        "0x27238086 0x43F08086 0xA0F08086 0x34F08086 0x4DF08086 0x02F08086 0x3DF08086 "
        "0x06F08086 0x27208086 0x08b18086 0x08b28086 0x08b38086 0x08b48086 0x095a8086 "
        "0x095b8086 0x31658086 0x31668086 0x24f38086 0x24f48086 0x24f58086 0x24f68086 "
        "0x24fb8086 0x24fd8086 0x25268086 0x9df08086 0xa3708086 0x31DC8086 0x30DC8086 "
        "0x271C8086 0x271B8086 0x42a48086 0x00a08086 0x00a48086 0x02a08086 0x40a48086 "
        "0x00608086 0x00648086 0x02608086 0x02648086 0x42298086 0x422b8086 0x422c8086 "
        "0x42308086 0x42328086 0x42358086 0x42368086 0x42378086 0x42388086 0x42398086 "
        "0x423a8086 0x423b8086 0x423c8086 0x423d8086 0x00828086 0x00838086 0x00848086 "
        "0x00858086 0x00878086 0x00898086 0x008a8086 0x008b8086 0x00908086 0x00918086 "
        "0x08928086 0x08938086 0x08948086 0x08958086 0x08968086 0x08978086 0x08ae8086 "
        "0x08af8086 0x088e8086 0x088f8086 0x08908086 0x08918086 0x08878086 0x08888086 "
        "0x27258086 0x27268086 0x7A708086 0x7AF08086 0x51F08086 0x54F08086 0x27298086 "
        "0x7E408086 0x7F708086 0x51F18086"
    )
    assert len(keys.split()) == 87
    table = {"IOPCIMatch": keys}
    assert pci_match_nub(table, CHECKAUDIO_CNVW, vendor_device_bonus=False) == PCIMatchResult(
        0, ("IOPCIMatch",), 0x00
    )
    assert pci_match_nub(table, CHECKAUDIO_CNVW, vendor_device_bonus=True) == PCIMatchResult(
        VENDOR_DEVICE_SCORE_BONUS, ("IOPCIMatch",), 0x00
    )


def test_applethunderbolthal_needs_both_its_id_and_its_class() -> None:
    """AppleThunderboltHAL's IOPCIMatch "0x15008086&0xff00ffff" and IOPCIClassMatch
    "0x08800000&0xffff0000" both match MacBookPro9,2's NHI0 (8086:1513, class
    0x088000); the same IDs with a bridge's class 0x0604 fail the class."""
    table = {"IOPCIMatch": "0x15008086&0xff00ffff", "IOPCIClassMatch": "0x08800000&0xffff0000"}
    assert pci_match_nub(table, MBP92_NHI0, vendor_device_bonus=False) == PCIMatchResult(
        0, ("IOPCIMatch", "IOPCIClassMatch"), 0x00
    )
    bridge = PCIConfigRegisters.from_ids(0x8086, 0x1513, 0, 0, 0x060400, 0)
    assert pci_match_nub({"IOPCIMatch": table["IOPCIMatch"]}, bridge, vendor_device_bonus=False)
    assert pci_match_nub(table, bridge, vendor_device_bonus=False) is None


def test_iopci2pcibridge_personalities_of_the_family_plist() -> None:
    """Info-IOPCIFamily.plist: "0x00261011" (DEC 21154) and "0x06040000&0xffff0000"
    (any PCI-to-PCI bridge, programming interface ignored)."""
    dec = PCIConfigRegisters.from_ids(0x1011, 0x0026, 0, 0, 0x060400, 0x02)
    intel = PCIConfigRegisters.from_ids(0x8086, 0x0151, 0x000F, 0, 0x060401, 0x09)
    assert pci_match_nub({"IOPCIMatch": "0x00261011"}, dec, vendor_device_bonus=True)
    assert pci_match_nub({"IOPCIMatch": "0x00261011"}, intel, vendor_device_bonus=True) is None
    by_class = {"IOPCIClassMatch": "0x06040000&0xffff0000"}
    assert pci_match_nub(by_class, dec, vendor_device_bonus=True)
    assert pci_match_nub(by_class, intel, vendor_device_bonus=True)
    assert pci_match_nub(by_class, MBP92_HDEF, vendor_device_bonus=True) is None
