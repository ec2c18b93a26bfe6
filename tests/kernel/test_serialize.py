"""Kernel XML: OSSerialize's exact text, OSUnserializeXML, and the round trip.

The writer is xnu's ``OSSerialize`` (``libkern/c++/OSSerialize.cpp`` and each class's
``serialize``): every object that can be referenced gets ``ID="n"``, numbered in
the order objects are first met; an object met again is written
``<reference IDREF="n"/>``; booleans and dictionary keys take no ID.  The reader is
``OSUnserializeXML.y``, which also reads plain property lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSOrderedSet, OSSet
from kextlab.kernel.libkern.convert import PrintedObject, to_user
from kextlab.kernel.libkern.object import OSObject, OSSerializer
from kextlab.kernel.libkern.serialize import OSSerialize, OSUnserializeXML, XMLFormatError
from kextlab.kernel.libkern.values import (
    OSData,
    OSNumber,
    OSString,
    OSSymbol,
    kOSBooleanFalse,
    kOSBooleanTrue,
)


class Opaque(OSObject):
    """An object without a serializer of its own (a command, a service...)."""


def sample_graph() -> tuple[OSDictionary, OSString]:
    shared = OSString("shared")
    graph = OSDictionary(
        [
            ("name", shared),
            ("size", OSNumber(1000, 32)),
            ("blob", OSData(b"\x00\x01\xff")),
            ("on", kOSBooleanTrue),
            ("list", OSArray([shared, OSNumber(-1, 8), kOSBooleanFalse])),
            ("set", OSSet([OSString("a<b&c>")])),
            ("empty", OSDictionary()),
        ]
    )
    return graph, shared


SAMPLE_XML = (
    '<dict ID="0">'
    '<key>name</key><string ID="1">shared</string>'
    '<key>size</key><integer size="32" ID="2">0x3e8</integer>'
    '<key>blob</key><data ID="3">AAH/</data>'
    "<key>on</key><true/>"
    '<key>list</key><array ID="4"><reference IDREF="1"/>'
    '<integer size="8" ID="5">0xff</integer><false/></array>'
    '<key>set</key><set ID="6"><string ID="7">a&lt;b&amp;c&gt;</string></set>'
    '<key>empty</key><dict ID="8"></dict>'
    "</dict>"
)


# -- writing -------------------------------------------------------------------------------


def test_a_graph_serializes_to_xnus_exact_text() -> None:
    graph, _ = sample_graph()
    assert OSSerialize.withObject(graph) == SAMPLE_XML


def test_a_symbol_used_twice_is_written_once() -> None:
    symbol = OSSymbol("IOService")
    keyed = OSDictionary([("IOProviderClass", symbol), ("IOClass", symbol)])
    assert OSSerialize.withObject(keyed) == (
        '<dict ID="0"><key>IOProviderClass</key><string ID="1">IOService</string>'
        '<key>IOClass</key><reference IDREF="1"/></dict>'
    )


def test_an_object_that_cannot_serialize_itself_is_a_string_saying_so() -> None:
    """OSObject::serialize writes a temporary OSString, which takes an ID like any."""
    holder = OSArray([Opaque(), OSNumber(1, 32)])
    assert OSSerialize.withObject(holder) == (
        '<array ID="0"><string ID="1">Opaque is not serializable</string>'
        '<integer size="32" ID="2">0x1</integer></array>'
    )


def test_an_ordered_set_is_written_as_an_array_and_a_printed_value_as_a_string() -> None:
    ordered = OSOrderedSet()
    ordered.setObject(PrintedObject("<a**********c>"))
    assert OSSerialize.withObject(ordered) == (
        '<array ID="0"><string ID="1">&lt;a**********c&gt;</string></array>'
    )


# -- reading -------------------------------------------------------------------------------


def test_the_reader_rebuilds_the_graph_with_its_sharing_and_sizes() -> None:
    read = OSUnserializeXML(SAMPLE_XML)
    assert isinstance(read, OSDictionary)
    assert read.keys() == ["name", "size", "blob", "on", "list", "set", "empty"]
    name = read.getObject("name")
    items = read.getObject("list")
    assert isinstance(items, OSArray)
    assert items.getObject(0) is name  # IDREF is the same object
    assert name is not None
    assert name.getRetainCount() == 2
    size = read.getObject("size")
    assert isinstance(size, OSNumber)
    assert (size.unsigned64BitValue(), size.numberOfBits()) == (1000, 32)
    byte = items.getObject(1)
    assert isinstance(byte, OSNumber)
    assert (byte.unsigned64BitValue(), byte.numberOfBits()) == (0xFF, 8)
    assert items.getObject(2) is kOSBooleanFalse
    assert read.getObject("on") is kOSBooleanTrue
    blob = read.getObject("blob")
    assert isinstance(blob, OSData)
    assert blob.getBytesNoCopy() == b"\x00\x01\xff"
    members = read.getObject("set")
    assert isinstance(members, OSSet)
    assert [str(member) for member in members] == ["a<b&c>"]
    empty = read.getObject("empty")
    assert isinstance(empty, OSDictionary)
    assert empty.getCount() == 0


def test_a_reference_may_use_any_element_name() -> None:
    """OSUnserializeXML ignores the element of an IDREF (older writers used the type)."""
    read = OSUnserializeXML('<array><string ID="7">x</string><string IDREF="7"/></array>')
    assert isinstance(read, OSArray)
    assert read.getObject(0) is read.getObject(1)


def test_plain_property_lists_read_too() -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<!-- a personality -->
<dict>
    <key>IOProbeScore</key>
    <integer>-100</integer>
    <key>IOPCIMatch</key>
    <string>0x10EA8086 &amp; more</string>
    <key>Mask</key>
    <integer>0xff</integer>
    <key>Ratio</key>
    <real>1.5</real>
    <key>When</key>
    <date>2024-01-01T00:00:00Z</date>
    <key>Blob</key>
    <data>
        AAEC
        Aw==
    </data>
    <key>Empty</key>
    <string/>
    <key>Flags</key>
    <array><true/><false/></array>
</dict>
</plist>
"""
    read = OSUnserializeXML(text)
    assert to_user(read) == {
        "IOProbeScore": -100,
        "IOPCIMatch": "0x10EA8086 & more",
        "Mask": 0xFF,
        "Ratio": "1.5",
        "When": "2024-01-01T00:00:00Z",
        "Blob": b"\x00\x01\x02\x03",
        "Empty": "",
        "Flags": [True, False],
    }
    assert isinstance(read, OSDictionary)
    score = read.getObject("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert score.numberOfBits() == 64
    assert score.unsigned64BitValue() == (1 << 64) - 100


def test_entities_are_read_back() -> None:
    read = OSUnserializeXML("<string>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;</string>")
    assert str(read) == "<>&\"'AB"


@pytest.mark.parametrize(
    ("text", "offset", "complaint"),
    [
        ("<string>abc", 8, "<string> is not closed"),
        ('<dict><key>a</key><foo size="1"/></dict>', 18, "unknown element <foo>"),
        ('<array><reference IDREF="3"/></array>', 7, "IDREF 3 names no earlier object"),
        ("<data>A@==</data>", 6, "<data> is not base64"),
        ("<integer>12z</integer>", 9, "'12z' is not an integer"),
        (
            '<integer size="65">1</integer>',
            0,
            "integer size '65' is not a number of bits from 1 to 64",
        ),
        (
            '<integer size="0">1</integer>',
            0,
            "integer size '0' is not a number of bits from 1 to 64",
        ),
        ('<a/><integer size="x"/>', 0, "unknown element <a>"),
        (
            '<array><integer size="big"/></array>',
            7,
            "integer size 'big' is not a number of bits from 1 to 64",
        ),
        ("<dict><key>a</key><string>b</string></array>", 36, "</array> closes <dict>"),
        ("<dict><key>a</key></dict>", 18, "key 'a' has no value"),
        ("<dict><string>b</string></dict>", 6, "expected <key> in <dict>, found <string>"),
        ("<array><string>b</string></dict>", 25, "</dict> closes <array>"),
        ("</array>", 0, "unexpected </array>"),
        ("just text", 0, "expected an element"),
        ("<string>&bogus;</string>", 8, "unknown entity &bogus;"),
        ("<string>ab&#xZZ;</string>", 10, "unknown entity &#xZZ;"),
        ("<dict><key>&#x110000;</key><true/></dict>", 11, "unknown entity &#x110000;"),
        ("<true/><false/>", 7, "text after the object"),
        ("<plist><string>a</string></plist><string>b</string>", 33, "text after the object"),
    ],
)
def test_malformed_xml_is_refused_naming_the_offset(text: str, offset: int, complaint: str) -> None:
    with pytest.raises(XMLFormatError) as raised:
        OSUnserializeXML(text)
    assert str(raised.value) == f"kernel XML at offset {offset}: {complaint}"


def test_a_closing_plist_tag_and_trailing_space_are_not_extra_text() -> None:
    assert str(OSUnserializeXML("<plist><string>a</string></plist>\n  ")) == "a"


# -- the round trip --------------------------------------------------------------------------

Build = Callable[[list[OSObject]], OSObject]


def pooled(pool: list[OSObject], obj: OSObject) -> OSObject:
    """Keep ``obj`` for later sharing; the pool holds a reference of its own."""
    obj.retain()
    pool.append(obj)
    return obj


def leaf(make: Callable[[], OSObject]) -> Build:
    def build(pool: list[OSObject]) -> OSObject:
        return pooled(pool, make())

    return build


def shared(index: int) -> Build:
    """An object made earlier in the same graph (written as an IDREF), or a string."""

    def build(pool: list[OSObject]) -> OSObject:
        if not pool:
            return OSString("nothing to share yet")
        obj = pool[index % len(pool)]
        obj.retain()
        return obj

    return build


def container(kind: str, parts: list[tuple[str, Build]]) -> Build:
    def build(pool: list[OSObject]) -> OSObject:
        made: OSObject
        if kind == "dict":
            dictionary = OSDictionary()
            for key, part in parts:
                member = part(pool)
                dictionary.setObject(key, member)
                member.release()
            made = dictionary
        else:
            collection: OSArray | OSSet | OSOrderedSet = {
                "array": OSArray,
                "set": OSSet,
                "ordered": OSOrderedSet,
            }[kind]()
            for _, part in parts:
                member = part(pool)
                collection.setObject(member)
                member.release()
            made = collection
        return pooled(pool, made)  # complete: later parts may share it without a cycle

    return build


def serializer_of(value: int) -> OSObject:
    return OSSerializer(lambda: OSDictionary([("live", OSNumber(value, 16))]))


LEAVES: st.SearchStrategy[Build] = st.one_of(
    st.text().map(lambda text: leaf(lambda: OSString(text))),
    st.text().map(lambda text: leaf(lambda: OSSymbol(text))),
    st.tuples(st.integers(min_value=1, max_value=64), st.integers()).map(
        lambda sized: leaf(lambda: OSNumber(sized[1], sized[0]))
    ),
    st.binary(max_size=40).map(lambda data: leaf(lambda: OSData(data))),
    st.sampled_from([kOSBooleanTrue, kOSBooleanFalse]).map(lambda value: leaf(lambda: value)),
    st.text(max_size=10).map(lambda text: leaf(lambda: PrintedObject(text))),
    st.just(leaf(Opaque)),
    st.integers(min_value=0, max_value=0xFFFF).map(lambda n: leaf(lambda: serializer_of(n))),
    st.integers(min_value=0, max_value=50).map(shared),
)

GRAPHS: st.SearchStrategy[Build] = st.recursive(
    LEAVES,
    lambda children: st.tuples(
        st.sampled_from(["dict", "array", "set", "ordered"]),
        st.lists(st.tuples(st.text(max_size=12), children), max_size=6),
    ).map(lambda spec: container(spec[0], spec[1])),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(GRAPHS)
def test_user_space_sees_the_same_values_directly_or_through_the_xml(build: Build) -> None:
    """to_user(obj) == to_user(OSUnserializeXML(OSSerialize(obj))), as convert.py claims:
    the direct copy only skips the text."""
    graph = build([])
    text = OSSerialize.withObject(graph)
    assert to_user(OSUnserializeXML(text)) == to_user(graph)
    # and the text is well formed: every ID is declared once, every IDREF after its ID
    declared = [int(found) for found in re.findall(r' ID="(\d+)"', text)]
    assert declared == list(range(len(declared)))
    for match in re.finditer(r'IDREF="(\d+)"', text):
        assert f' ID="{match.group(1)}"' in text[: match.start()]
