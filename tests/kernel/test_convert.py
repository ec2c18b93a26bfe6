"""Python values into OS objects (``from_python``) and user-space copies out (``to_user``).

``to_user`` is what IOKitUser's IOCFUnserialize makes of the kernel's XML: an
OSNumber of 32 bits or fewer becomes a CFNumber of type SInt32, a wider one SInt64,
so user space sees a 32-bit 0xFFFFFF9C as -100.
"""

from __future__ import annotations

import pytest

from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSOrderedSet, OSSet
from kextlab.kernel.libkern.convert import (
    PrintedObject,
    PrintedValue,
    UserSet,
    from_python,
    to_user,
)
from kextlab.kernel.libkern.object import OSObject, OSSerializer
from kextlab.kernel.libkern.values import (
    OSData,
    OSNumber,
    OSString,
    kOSBooleanFalse,
    kOSBooleanTrue,
)


class Opaque(OSObject):
    pass


@pytest.mark.parametrize(
    ("value", "bits", "stored"),
    [
        (0, 32, 0),
        (-100, 32, 0xFFFF_FF9C),
        (-(1 << 31), 32, 0x8000_0000),
        ((1 << 32) - 1, 32, 0xFFFF_FFFF),
        (1 << 32, 64, 1 << 32),
        (-(1 << 31) - 1, 64, (1 << 64) - (1 << 31) - 1),
    ],
)
def test_an_int_becomes_a_32_bit_number_when_it_fits(value: int, bits: int, stored: int) -> None:
    number = from_python(value)
    assert isinstance(number, OSNumber)
    assert (number.numberOfBits(), number.unsigned64BitValue()) == (bits, stored)


def test_python_values_map_to_their_os_types() -> None:
    assert from_python(True) is kOSBooleanTrue
    assert from_python(False) is kOSBooleanFalse
    text = from_python("IOService")
    assert type(text) is OSString
    assert str(text) == "IOService"
    for raw in (b"\x01\x02", bytearray(b"\x01\x02"), memoryview(b"\x01\x02")):
        data = from_python(raw)
        assert isinstance(data, OSData)
        assert data.getBytesNoCopy() == b"\x01\x02"
    dictionary = from_python({"a": 1, 2: ["x", (True,)], "s": {"only"}})
    assert isinstance(dictionary, OSDictionary)
    assert dictionary.keys() == ["a", "2", "s"]
    nested = dictionary.getObject("2")
    assert isinstance(nested, OSArray)
    assert isinstance(nested.getObject(1), OSArray)
    assert isinstance(dictionary.getObject("s"), OSSet)
    assert isinstance(from_python(frozenset()), OSSet)


def test_members_are_owned_by_their_container_only() -> None:
    dictionary = from_python({"k": "v", "n": [1]})
    assert isinstance(dictionary, OSDictionary)
    members = [dictionary.getObject("k"), dictionary.getObject("n")]
    assert [member.getRetainCount() for member in members if member is not None] == [1, 1]


def test_os_objects_pass_through_with_a_reference_for_the_caller() -> None:
    string = OSString("x")
    assert from_python(string) is string
    assert string.getRetainCount() == 2


@pytest.mark.parametrize("value", [1.5, None, object(), 3j])
def test_values_without_an_os_type_are_refused_naming_the_type(value: object) -> None:
    with pytest.raises(TypeError, match=f"no OS object type for {type(value).__name__}"):
        from_python(value)


# -- to_user --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bits", "seen"),
    [
        (-100, 32, -100),
        (0xFFFF_FFFF, 32, -1),
        (0x7FFF_FFFF, 32, 0x7FFF_FFFF),
        (0xFF, 8, 255),
        (0xFFFF, 16, 65535),
        (-100, 64, -100),
        (1 << 63, 64, -(1 << 63)),
        (0xFFFF_FFFF, 64, 0xFFFF_FFFF),
        (1 << 32, 33, 1 << 32),
    ],
)
def test_numbers_reach_user_space_signed_at_32_or_64_bits(value: int, bits: int, seen: int) -> None:
    """IOCFUnserialize: kCFNumberSInt32Type up to 32 bits, kCFNumberSInt64Type above."""
    assert to_user(OSNumber(value, bits)) == seen


def test_a_32_bit_minus_100_round_trips_through_user_space() -> None:
    assert to_user(from_python(-100)) == -100


def test_user_space_gets_plain_copies_of_the_graph() -> None:
    ordered = OSOrderedSet()
    ordered.setObject(OSString("first"))
    graph = OSDictionary(
        [
            ("string", OSString("s")),
            ("data", OSData(b"\0d")),
            ("yes", kOSBooleanTrue),
            ("list", OSArray([OSNumber(1, 8), kOSBooleanFalse])),
            ("set", OSSet([OSString("b"), OSString("a")])),
            ("ordered", ordered),
            ("service", Opaque()),
        ]
    )
    copy = to_user(graph)
    assert copy == {
        "string": "s",
        "data": b"\0d",
        "yes": True,
        "list": [1, False],
        "set": ["b", "a"],
        "ordered": ["first"],
        "service": "Opaque is not serializable",
    }
    assert isinstance(copy, dict)
    assert type(copy["set"]) is UserSet
    assert type(copy["list"]) is list
    assert type(copy["yes"]) is bool
    copy["string"] = "changed"
    assert isinstance(copy["list"], list)
    copy["list"].append(3)
    again = to_user(graph)
    assert isinstance(again, dict)
    assert again["string"] == "s"
    assert again["list"] == [1, False]


def test_a_printed_object_reaches_user_space_as_a_printed_value() -> None:
    """A value a dump recorded only as printed text prints back as that text."""
    printed = to_user(PrintedObject("<a**********c>"))
    assert type(printed) is PrintedValue
    assert printed == "<a**********c>"
    assert PrintedObject("x").isEqualTo(PrintedObject("x"))
    assert not PrintedObject("x").isEqualTo(PrintedObject("y"))
    assert not PrintedObject("x").isEqualTo(OSString("x"))


def test_a_serializer_reaches_user_space_as_what_it_produces_now() -> None:
    produced: list[OSObject] = []

    def produce() -> OSObject:
        number = OSNumber(len(produced), 32)
        produced.append(number)
        return number

    live = OSSerializer(produce)
    assert [to_user(live), to_user(live)] == [0, 1]
    assert all(number.freed for number in produced)
