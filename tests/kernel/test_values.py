"""OSString, OSSymbol, OSNumber, OSData and OSBoolean, and their equality rules.

The string/data rules are those of xnu's two functions, which are not mirror images:

* ``OSData::isEqualTo(const OSString *)`` compares the data with the string's
  characters, allowing the data one extra trailing NUL: ``<"display">`` and
  ``<"display\\0">`` both equal ``"display"``.  This is the direction IOPropertyMatch
  takes (``OSDictionary::isEqualTo(match, keys)`` asks the service's value), which is
  how ``{"name" = "display"}`` matches a device-tree ``name`` property.
* ``OSString::isEqualTo(const OSData *)`` measures the string *with* its terminator
  (OSString's ``length`` counts the NUL), so the data must carry that NUL, and may
  carry one more: ``<"display\\0">`` and ``<"display\\0\\0">`` equal ``"display"``,
  ``<"display">`` does not.
"""

from __future__ import annotations

import pytest

from kextlab.kernel.libkern.object import ClassRegistry
from kextlab.kernel.libkern.values import (
    OSBoolean,
    OSData,
    OSNumber,
    OSString,
    OSSymbol,
    kOSBooleanFalse,
    kOSBooleanTrue,
)
from tests.kernel.conftest import entered_kernel

# -- OSString and OSData -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "equal"),
    [
        (b"display", True),
        (b"display\0", True),
        (b"display\0\0", False),
        (b"display!", False),
        (b"displa", False),
        (b"Display\0", False),
    ],
)
def test_data_equals_a_string_with_or_without_one_trailing_nul(data: bytes, equal: bool) -> None:
    """OSData::isEqualTo(const OSString *)."""
    assert OSData(data).isEqualTo(OSString("display")) is equal
    assert OSData(data).isEqualTo(OSSymbol("display")) is equal


@pytest.mark.parametrize(
    ("data", "equal"),
    [
        (b"display\0", True),
        (b"display\0\0", True),
        (b"display", False),
        (b"display\0x", False),
        (b"displa\0", False),
    ],
)
def test_a_string_equals_data_that_carries_its_terminator(data: bytes, equal: bool) -> None:
    """OSString::isEqualTo(const OSData *): the string's length includes its NUL."""
    assert OSString("display").isEqualTo(OSData(data)) is equal
    assert OSSymbol("display").isEqualTo(OSData(data)) is equal


def test_empty_strings_and_data_follow_the_same_two_rules() -> None:
    assert OSData(b"").isEqualTo(OSString(""))
    assert OSData(b"\0").isEqualTo(OSString(""))
    assert not OSString("").isEqualTo(OSData(b""))
    assert OSString("").isEqualTo(OSData(b"\0"))


def test_strings_compare_by_text_and_data_by_length_and_bytes() -> None:
    assert OSString("abc").isEqualTo(OSString("abc"))
    assert OSString("abc").isEqualTo(OSSymbol("abc"))
    assert OSString("abc").isEqualTo("abc")
    assert not OSString("abc").isEqualTo(OSString("abd"))
    assert not OSString("1").isEqualTo(OSNumber(1))
    assert OSData(b"ab").isEqualTo(OSData(b"ab"))
    assert not OSData(b"ab").isEqualTo(OSData(b"ab\0"))
    assert not OSData(b"ab\0").isEqualTo(OSData(b"ab"))
    assert OSData(b"ab").isEqualTo(b"ab")
    assert not OSData(b"ab").isEqualTo(kOSBooleanTrue)


def test_data_copies_its_bytes_and_appends() -> None:
    source = bytearray(b"abc")
    data = OSData(source)
    source[0] = ord("X")
    assert data.getBytesNoCopy() == b"abc"
    assert data.appendBytes(b"de")
    assert data.getLength() == 5
    assert data.getBytesNoCopy(1, 3) == b"bcd"
    assert bytes(OSData.withData(data)) == b"abcde"
    assert OSData.withCapacity(16).getLength() == 0


# -- OSNumber ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bits", "stored"),
    [
        (-100, 32, 0xFFFF_FF9C),
        (-100, 64, 0xFFFF_FFFF_FFFF_FF9C),
        (0x1FF, 8, 0xFF),
        (0x1_0000, 16, 0),
        (7, 1, 1),
        (1 << 64, 64, 0),
    ],
)
def test_a_number_is_masked_to_its_size_when_made(value: int, bits: int, stored: int) -> None:
    number = OSNumber(value, bits)
    assert number.unsigned64BitValue() == stored
    assert number.numberOfBits() == bits
    assert int(number) == stored


@pytest.mark.parametrize(
    ("bits", "size"), [(1, 1), (8, 1), (9, 2), (16, 2), (32, 4), (33, 5), (64, 8)]
)
def test_number_of_bytes_rounds_the_bit_size_up(bits: int, size: int) -> None:
    assert OSNumber(0, bits).numberOfBytes() == size


@pytest.mark.parametrize("bits", [0, 65, -8])
def test_a_number_has_one_to_sixty_four_bits(bits: int) -> None:
    with pytest.raises(ValueError, match=f"not {bits}"):
        OSNumber(1, bits)


def test_numbers_compare_their_unsigned_64_bit_values_whatever_their_size() -> None:
    """OSNumber::isEqualTo ignores the bit size; masking at creation still shows."""
    assert OSNumber(5, 8).isEqualTo(OSNumber(5, 64))
    assert OSNumber(-1, 8).isEqualTo(OSNumber(255, 32))
    assert not OSNumber(-1, 32).isEqualTo(OSNumber(-1, 64))
    assert OSNumber(-1, 64).isEqualTo(-1)
    assert OSNumber(3).isEqualTo(3)
    assert not OSNumber(1).isEqualTo(True)
    assert not OSNumber(1).isEqualTo(OSString("1"))


def test_narrow_views_setting_and_adding_keep_the_size() -> None:
    number = OSNumber(0x1234_5678_9ABC_DEF0, 64)
    assert number.unsigned8BitValue() == 0xF0
    assert number.unsigned16BitValue() == 0xDEF0
    assert number.unsigned32BitValue() == 0x9ABC_DEF0
    byte = OSNumber.withNumber(0xFE, 8)
    byte.addValue(3)
    assert byte.unsigned64BitValue() == 1
    byte.setValue(-1)
    assert byte.unsigned64BitValue() == 0xFF


# -- OSBoolean ----------------------------------------------------------------------------


def test_booleans_are_two_singletons_compared_by_identity() -> None:
    assert OSBoolean.withBoolean(True) is kOSBooleanTrue
    assert OSBoolean.withBoolean(False) is kOSBooleanFalse
    assert kOSBooleanTrue.isTrue()
    assert kOSBooleanFalse.isFalse()
    assert kOSBooleanTrue.isEqualTo(kOSBooleanTrue)
    assert not kOSBooleanTrue.isEqualTo(kOSBooleanFalse)
    assert not kOSBooleanTrue.isEqualTo(OSBoolean(True))  # not one of the two
    assert kOSBooleanTrue.isEqualTo(True)
    assert not kOSBooleanTrue.isEqualTo(False)
    assert not kOSBooleanFalse.isEqualTo(0)


def test_retaining_and_releasing_a_boolean_does_nothing() -> None:
    before = kOSBooleanTrue.getRetainCount()
    for _ in range(3):
        kOSBooleanTrue.release()
    kOSBooleanTrue.retain()
    assert kOSBooleanTrue.getRetainCount() == before
    assert not kOSBooleanTrue.freed


# -- OSSymbol ---------------------------------------------------------------------------


def test_a_symbol_is_unique_per_text_in_a_kernel(kernel_context: ClassRegistry) -> None:
    """OSSymbol::withCString returns the live symbol, with a reference for the caller."""
    first = OSSymbol.withCString("IOProviderClass")
    second = OSSymbol.withCString("IOProviderClass")
    assert second is first
    assert first.getRetainCount() == 2
    assert OSSymbol.withString(OSString("IOProviderClass")) is first
    assert OSSymbol.withCString("IOClass") is not first
    assert first.isEqualTo(OSString("IOProviderClass"))


def test_kernels_have_separate_symbols(kernel_context: ClassRegistry) -> None:
    here = OSSymbol.withCString("IOKit")
    with entered_kernel():
        there = OSSymbol.withCString("IOKit")
    assert there is not here
    assert OSSymbol.withCString("IOKit") is here


def test_a_symbol_released_to_zero_is_made_afresh(kernel_context: ClassRegistry) -> None:
    """A freed symbol leaves the pool (xnu's OSSymbol::free removes it), even while
    Python still holds the dead object."""
    old = OSSymbol.withCString("IONameMatch")
    old.release()
    assert old.freed
    new = OSSymbol.withCString("IONameMatch")
    assert new is not old
    assert not new.freed
    assert new.getRetainCount() == 1
    assert OSSymbol.withCString("IONameMatch") is new


def test_outside_a_kernel_symbols_are_not_pooled() -> None:
    assert OSSymbol.withCString("x") is not OSSymbol.withCString("x")
