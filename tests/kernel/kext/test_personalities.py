"""IOKitPersonalities into catalogue dictionaries (OSKext::copyPersonalitiesArray, §1.1)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.errors import KextBundleError
from kextlab.kernel.kext.personalities import copy_personalities, unique_personality_properties
from kextlab.kernel.libkern.collections import OSArray, OSDictionary
from kextlab.kernel.libkern.object import ClassRegistry
from kextlab.kernel.libkern.values import (
    OSData,
    OSNumber,
    OSString,
    OSSymbol,
    kOSBooleanTrue,
)
from tests.kernel.kext.conftest import MakeKext

KEXT_ID = "com.example.driver"


@dataclass
class Source:
    """A personality source: what a bundle or a library kext offers."""

    personalities: Mapping[str, Mapping[str, object]]
    bundle_id: str = KEXT_ID
    source: str = "/k/Example.kext/Contents/Info.plist"


def one(personality: Mapping[str, object]) -> OSDictionary:
    (dictionary,) = copy_personalities(Source({"P": personality}))
    return dictionary


def text(dictionary: OSDictionary, key: str) -> str:
    value = dictionary.getObject(key)
    assert isinstance(value, OSString)
    return value.getCStringNoCopy()


def test_personalities_come_out_in_file_order_without_their_names() -> None:
    """An ordered list of dictionaries; the IOKitPersonalities keys are dropped."""
    result = copy_personalities(
        Source({"Second": {"IOClass": "B"}, "First": {"IOClass": "A"}, "Third": {"IOClass": "C"}})
    )
    assert [text(dictionary, "IOClass") for dictionary in result] == ["B", "A", "C"]
    assert all("Second" not in dictionary for dictionary in result)
    assert all(dictionary.getRetainCount() == 1 for dictionary in result)


def test_a_personality_without_a_bundle_identifier_gets_the_kexts() -> None:
    """CFBundleIdentifier = kext ID is inserted, then CFBundleIdentifierKernel follows it."""
    dictionary = one({"IOClass": "Driver", "IOProviderClass": "IOPCIDevice"})
    assert dictionary.keys() == [
        "IOClass",
        "IOProviderClass",
        "CFBundleIdentifier",
        "CFBundleIdentifierKernel",
    ]
    assert text(dictionary, "CFBundleIdentifier") == KEXT_ID
    assert text(dictionary, "CFBundleIdentifierKernel") == KEXT_ID
    assert "IOPersonalityPublisher" not in dictionary


def test_a_personality_naming_another_kext_records_its_publisher() -> None:
    """A different CFBundleIdentifier stays, and IOPersonalityPublisher names the kext."""
    dictionary = one({"CFBundleIdentifier": "com.apple.driver.Other", "IOClass": "Other"})
    assert dictionary.keys() == [
        "CFBundleIdentifier",
        "IOClass",
        "IOPersonalityPublisher",
        "CFBundleIdentifierKernel",
    ]
    assert text(dictionary, "CFBundleIdentifier") == "com.apple.driver.Other"
    assert text(dictionary, "IOPersonalityPublisher") == KEXT_ID
    assert text(dictionary, "CFBundleIdentifierKernel") == "com.apple.driver.Other"


def test_a_personality_naming_its_own_kext_gets_no_publisher() -> None:
    """Same identifier: nothing but CFBundleIdentifierKernel is added."""
    dictionary = one({"CFBundleIdentifier": KEXT_ID, "IOClass": "Driver"})
    assert dictionary.keys() == ["CFBundleIdentifier", "IOClass", "CFBundleIdentifierKernel"]


def test_an_existing_kernel_identifier_is_kept() -> None:
    """CFBundleIdentifierKernel present: uniqued, not replaced."""
    dictionary = one({"CFBundleIdentifier": KEXT_ID, "CFBundleIdentifierKernel": "com.kernel.x"})
    assert text(dictionary, "CFBundleIdentifierKernel") == "com.kernel.x"
    assert isinstance(dictionary.getObject("CFBundleIdentifierKernel"), OSSymbol)


def test_a_bundle_identifier_that_is_not_a_string_is_replaced_by_the_kexts() -> None:
    """OSDynamicCast(OSString, ...) fails, so the kext's identifier is set over it."""
    dictionary = one({"CFBundleIdentifier": 5, "IOClass": "X"})
    assert text(dictionary, "CFBundleIdentifier") == KEXT_ID
    assert dictionary.keys()[0] == "CFBundleIdentifier"


def test_common_string_values_become_symbols(kernel_context: ClassRegistry) -> None:
    """uniquePersonalityProperties: IOClass, IOProviderClass, IOMatchCategory... are OSSymbols."""
    first, second = copy_personalities(
        Source(
            {
                "A": {
                    "IOClass": "Driver",
                    "IOProviderClass": "IOPCIDevice",
                    "IOMatchCategory": "Cat",
                    "IOUserClientClass": "UC",
                    "IOResourceMatch": "IOKit",
                    "IONameMatch": "display",
                },
                "B": {"IOClass": "Driver", "IOProviderClass": "IOPCIDevice"},
            }
        )
    )
    for key in ("IOClass", "IOProviderClass", "IOMatchCategory", "IOUserClientClass"):
        assert isinstance(first.getObject(key), OSSymbol), key
    assert isinstance(first.getObject("IOResourceMatch"), OSSymbol)
    assert not isinstance(first.getObject("IONameMatch"), OSSymbol)
    assert first.getObject("IOProviderClass") is second.getObject("IOProviderClass")
    assert first.getObject("CFBundleIdentifier") is first.getObject("CFBundleIdentifierKernel")


def test_plist_values_become_libkern_objects() -> None:
    """Strings, integers, booleans, data, arrays and dictionaries, nested, keys in order."""
    dictionary = one(
        {
            "IOProbeScore": 1000,
            "Big": 1 << 40,
            "Negative": -100,
            "Flag": True,
            "Bytes": b"\x01\x02",
            "IONameMatch": ["pci1011,26", "pci-bridge"],
            "IOPropertyMatch": {"z": 1, "a": "x"},
        }
    )
    score = dictionary.getObject("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert (score.unsigned64BitValue(), score.numberOfBits()) == (1000, 32)
    big = dictionary.getObject("Big")
    assert isinstance(big, OSNumber)
    assert big.numberOfBits() == 64
    negative = dictionary.getObject("Negative")
    assert isinstance(negative, OSNumber)
    assert negative.unsigned32BitValue() == 0xFFFF_FF9C
    assert dictionary.getObject("Flag") is kOSBooleanTrue
    data = dictionary.getObject("Bytes")
    assert isinstance(data, OSData)
    assert data.getBytesNoCopy() == b"\x01\x02"
    names = dictionary.getObject("IONameMatch")
    assert isinstance(names, OSArray)
    assert [str(member) for member in names] == ["pci1011,26", "pci-bridge"]
    nested = dictionary.getObject("IOPropertyMatch")
    assert isinstance(nested, OSDictionary)
    assert nested.keys() == ["z", "a"]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (1.5, "<real>"),
        (datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC), "<date>"),
        (None, "NoneType"),
    ],
)
def test_values_libkern_cannot_hold_are_refused_naming_file_and_key(
    value: object, what: str
) -> None:
    """<real> and <date> have no libkern type: one error with the key path."""
    with pytest.raises(KextBundleError, match=f"a {what} value") as caught:
        copy_personalities(Source({"Timer": {"IOClass": "X", "Nested": [{"When": value}]}}))
    assert caught.value.source == "/k/Example.kext/Contents/Info.plist"
    assert caught.value.key == "IOKitPersonalities['Timer']['Nested'][0]['When']"


def test_integers_wider_than_64_bits_are_refused() -> None:
    """An OSNumber holds at most 64 bits."""
    with pytest.raises(KextBundleError, match="does not fit in 64 bits"):
        one({"Huge": 1 << 64})
    assert one({"Max": (1 << 64) - 1}).getObject("Max") is not None


def test_unique_without_adding_the_kernel_identifier() -> None:
    """The matching-dictionary form (defaultAddKernelBundleIdentifier false) adds nothing."""
    dictionary = OSDictionary()
    identifier = OSString("com.x")
    dictionary.setObject("CFBundleIdentifier", identifier)
    unique_personality_properties(dictionary, add_kernel_identifier=False)
    assert dictionary.keys() == ["CFBundleIdentifier"]
    assert isinstance(dictionary.getObject("CFBundleIdentifier"), OSSymbol)


def test_a_library_kexts_personalities_convert_too() -> None:
    """Built-in IOPCIFamily's bridge personalities, with their own identifier."""
    result = copy_personalities(IOPCIFAMILY)[:3]
    assert [text(dictionary, "IOClass") for dictionary in result] == ["IOPCI2PCIBridge"] * 3
    assert [dictionary.keys()[1] for dictionary in result] == [
        "IONameMatch",
        "IOPCIMatch",
        "IOPCIClassMatch",
    ]
    assert all("IOPersonalityPublisher" not in dictionary for dictionary in result)


def test_a_bundles_real_personalities_convert(real_plists: Path, kext: MakeKext) -> None:
    """AppleSamplePCI's personality: an IONameMatch array, category and user client class."""
    path = kext("AppleSamplePCI", module="")
    info = path / "Contents" / "Info.plist"
    info.write_bytes((real_plists / "Info-AppleSamplePCI.plist").read_bytes())
    (dictionary,) = copy_personalities(KextBundle.read(path))
    assert text(dictionary, "CFBundleIdentifier") == "com.YourCompany.driver.AppleSamplePCI"
    assert isinstance(dictionary.getObject("IONameMatch"), OSArray)
    assert isinstance(dictionary.getObject("IOUserClientClass"), OSSymbol)
    assert text(dictionary, "CFBundleIdentifierKernel") == "com.YourCompany.driver.AppleSamplePCI"
