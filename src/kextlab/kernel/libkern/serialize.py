"""Kernel-format XML: OSSerialize (writing) and OSUnserializeXML (reading).

Mirrors libkern's ``OSSerialize.cpp`` and ``OSUnserializeXML.y``.  This is the XML the
kernel hands to user space (``IORegistryEntryCreateCFProperties``) and reads kext
personalities from, and it differs from Apple's property-list XML:

* every object carries an ``ID`` attribute (numbered as objects are first met;
  booleans and dictionary keys take none), and an object met again is written
  ``<reference IDREF="3"/>`` (``OSSerialize::previouslySerialized``), so shared objects
  and the same symbol used twice stay shared.  The reader, like OSUnserializeXML,
  takes an IDREF on any element name;
* integers carry their bit size and are written in hex:
  ``<integer size="32" ID="2">0x3e8</integer>``;
* sets are ``<set>`` elements (CF plists have no sets; ``plistlib`` silently misreads
  them, which is why kextlab has this reader);
* an object that cannot serialize itself (an IOService in a property, a command
  object) is written as the string ``"<Class> is not serializable"``, as
  ``OSObject::serialize`` does, through a temporary OSString that takes an ID.

The reader accepts this format and plain property lists alike (no IDs, sizeless
integers in decimal or hex, ``<real>``, ``<date>`` as strings), which is what kext
Info.plists are.  Malformed input raises ``XMLFormatError`` naming the position.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from xml.sax.saxutils import escape

from kextlab.errors import KextlabError
from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSOrderedSet, OSSet
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import (
    OSBoolean,
    OSData,
    OSNumber,
    OSString,
    kOSBooleanFalse,
    kOSBooleanTrue,
)


class XMLFormatError(KextlabError, ValueError):
    """Kernel-format XML that cannot be read; the message names the offset."""


class OSSerialize:
    """Builds the XML text of an object graph."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._ids: dict[int, int] = {}
        self._objects: list[OSObject] = []  # keep ids stable while serializing

    def text(self) -> str:
        return "".join(self._parts)

    @classmethod
    def withObject(cls, obj: OSObject) -> str:
        serializer = cls()
        serializer.add_object(obj)
        return serializer.text()

    def add_object(self, obj: OSObject) -> bool:
        return obj.serialize(self)

    def _start(self, tag: str, obj: OSObject, attributes: str = "") -> bool:
        """Open ``tag`` for ``obj``, or write an IDREF and return False if seen before."""
        key = id(obj)
        if key in self._ids:
            self._parts.append(f'<reference IDREF="{self._ids[key]}"/>')
            return False
        identifier = len(self._ids)
        self._ids[key] = identifier
        self._objects.append(obj)
        self._parts.append(f'<{tag}{attributes} ID="{identifier}">')
        return True

    def add_string(self, value: OSString) -> bool:
        if self._start("string", value):
            self._parts.append(escape(value.getCStringNoCopy()) + "</string>")
        return True

    def add_number(self, value: OSNumber) -> bool:
        if self._start("integer", value, f' size="{value.numberOfBits()}"'):
            self._parts.append(f"0x{value.unsigned64BitValue():x}</integer>")
        return True

    def add_data(self, value: OSData) -> bool:
        if self._start("data", value):
            self._parts.append(base64.b64encode(value.getBytesNoCopy()).decode("ascii") + "</data>")
        return True

    def add_boolean(self, value: OSBoolean) -> bool:
        self._parts.append("<true/>" if value.isTrue() else "<false/>")
        return True

    def add_array(self, value: OSArray | OSOrderedSet) -> bool:
        if self._start("array", value):
            for member in value:
                member.serialize(self)
            self._parts.append("</array>")
        return True

    def add_set(self, value: OSSet) -> bool:
        if self._start("set", value):
            for member in value:
                member.serialize(self)
            self._parts.append("</set>")
        return True

    def add_dictionary(self, value: OSDictionary) -> bool:
        if self._start("dict", value):
            for key, member in value.items():
                self._parts.append(f"<key>{escape(key)}</key>")
                member.serialize(self)
            self._parts.append("</dict>")
        return True

    def add_not_serializable(self, obj: OSObject) -> bool:
        """What an object without its own serializer becomes: a string saying so
        (``OSObject::serialize``), which is an object of the graph like any other."""
        string = OSString(f"{obj.getClassName()} is not serializable")
        try:
            return self.add_string(string)
        finally:
            string.release()


# -- reading ------------------------------------------------------------------------------------

#: Whatever may come between elements: space, the XML declaration and other processing
#: instructions, a DOCTYPE, comments.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!DOCTYPE[^>]*>|<!--.*?-->)*", re.DOTALL)
_TAG = re.compile(r"<(?P<close>/)?(?P<tag>[A-Za-z]+)(?P<attributes>[^>]*?)(?P<empty>/)?>")
_ATTRIBUTE = re.compile(r'([A-Za-z]+)\s*=\s*"([^"]*)"')
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        #: Where the last tag read begins, and where the last element's text begins:
        #: errors name the offset of what is wrong, not of what follows it.
        self.tag_start = 0
        self.content_start = 0
        self.ids: dict[str, OSObject] = {}

    def error(self, message: str, at: int | None = None) -> XMLFormatError:
        offset = self.position if at is None else at
        return XMLFormatError(f"kernel XML at offset {offset}: {message}")

    def skip_prolog(self) -> None:
        match = _PROLOG.match(self.text, self.position)
        if match is not None:
            self.position = match.end()

    def next_tag(self) -> tuple[str, bool, bool, dict[str, str]]:
        """(tag, closing, empty, attributes) of the next element tag."""
        self.skip_prolog()
        match = _TAG.match(self.text, self.position)
        if match is None:
            raise self.error("expected an element")
        self.tag_start = self.position
        self.position = match.end()
        attributes = dict(_ATTRIBUTE.findall(match.group("attributes") or ""))
        return (
            match.group("tag"),
            bool(match.group("close")),
            bool(match.group("empty")),
            attributes,
        )

    def text_until(self, tag: str) -> str:
        self.content_start = self.position
        end = self.text.find(f"</{tag}>", self.position)
        if end < 0:
            raise self.error(f"<{tag}> is not closed")
        content = self.text[self.position : end]
        self.position = end + len(tag) + 3
        return content

    def unescape(self, text: str, offset: int) -> str:
        """``text`` (found at ``offset``) with its entities replaced."""

        def replace(match: re.Match[str]) -> str:
            entity = match.group(0)
            if entity in _ENTITIES:
                return _ENTITIES[entity]
            try:
                if entity.startswith("&#x"):
                    return chr(int(entity[3:-1], 16))
                if entity.startswith("&#"):
                    return chr(int(entity[2:-1], 10))
            except ValueError:
                pass
            raise self.error(f"unknown entity {entity}", offset + match.start())

        return re.sub(r"&#?[A-Za-z0-9]+;", replace, text)

    def value(self, tag: str, empty: bool, attributes: dict[str, str]) -> OSObject:
        reference = attributes.get("IDREF")
        if reference is not None:
            if reference not in self.ids:
                raise self.error(f"IDREF {reference} names no earlier object", self.tag_start)
            found = self.ids[reference]
            found.retain()
            return found
        parser = _SCALARS.get(tag)
        if parser is not None:
            content = "" if empty else self.text_until(tag)
            obj = parser(self, content, attributes)
        elif tag in ("true", "false"):
            if not empty:
                self.text_until(tag)
            obj = kOSBooleanTrue if tag == "true" else kOSBooleanFalse
        elif tag in ("array", "set"):
            container: OSArray | OSSet = OSArray() if tag == "array" else OSSet()
            self._remember(attributes, container)
            if not empty:
                for member in self.members(tag):
                    container.setObject(member)
                    member.release()
            return container
        elif tag == "dict":
            dictionary = OSDictionary()
            self._remember(attributes, dictionary)
            if not empty:
                self.entries(dictionary)
            return dictionary
        else:
            raise self.error(f"unknown element <{tag}>", self.tag_start)
        self._remember(attributes, obj)
        return obj

    def _remember(self, attributes: dict[str, str], obj: OSObject) -> None:
        identifier = attributes.get("ID")
        if identifier is not None:
            self.ids[identifier] = obj

    def members(self, container: str) -> list[OSObject]:
        found: list[OSObject] = []
        while True:
            tag, closing, empty, attributes = self.next_tag()
            if closing:
                if tag != container:
                    raise self.error(f"</{tag}> closes <{container}>", self.tag_start)
                return found
            found.append(self.value(tag, empty, attributes))

    def entries(self, dictionary: OSDictionary) -> None:
        while True:
            tag, closing, empty, attributes = self.next_tag()
            if closing:
                if tag != "dict":
                    raise self.error(f"</{tag}> closes <dict>", self.tag_start)
                return
            if tag != "key":
                raise self.error(f"expected <key> in <dict>, found <{tag}>", self.tag_start)
            key = "" if empty else self.text_until("key")
            key = self.unescape(key, self.content_start)
            tag, closing, empty, attributes = self.next_tag()
            if closing:
                raise self.error(f"key {key!r} has no value", self.tag_start)
            value = self.value(tag, empty, attributes)
            dictionary.setObject(key, value)
            value.release()

    def end(self) -> None:
        """Only space, comments and a closing ``</plist>`` may follow the object."""
        self.skip_prolog()
        if self.text.startswith("</plist>", self.position):
            self.position += len("</plist>")
            self.skip_prolog()
        if self.position < len(self.text):
            raise self.error("text after the object")


def _string(reader: _Reader, content: str, attributes: dict[str, str]) -> OSObject:
    return OSString(reader.unescape(content, reader.content_start))


def _integer(reader: _Reader, content: str, attributes: dict[str, str]) -> OSObject:
    size = attributes.get("size", "64")
    if not size.isdigit() or not 1 <= int(size) <= 64:
        raise reader.error(
            f"integer size {size!r} is not a number of bits from 1 to 64", reader.tag_start
        )
    text = content.strip()
    try:
        value = int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text)
    except ValueError:
        raise reader.error(f"{text!r} is not an integer", reader.content_start) from None
    return OSNumber(value, int(size))


def _data(reader: _Reader, content: str, attributes: dict[str, str]) -> OSObject:
    try:
        return OSData(base64.b64decode("".join(content.split()), validate=True))
    except ValueError:
        raise reader.error("<data> is not base64", reader.content_start) from None


def _real(reader: _Reader, content: str, attributes: dict[str, str]) -> OSObject:
    return OSString(content.strip())


_SCALARS: dict[str, Callable[[_Reader, str, dict[str, str]], OSObject]] = {
    "string": _string,
    "integer": _integer,
    "data": _data,
    "real": _real,
    "date": _real,
}


def OSUnserializeXML(text: str) -> OSObject:
    """The object graph in ``text``; ``XMLFormatError`` if it is not kernel XML or a plist."""
    reader = _Reader(text)
    tag, closing, empty, attributes = reader.next_tag()
    if tag == "plist" and not closing:
        tag, closing, empty, attributes = reader.next_tag()
    if closing:
        raise reader.error(f"unexpected </{tag}>", reader.tag_start)
    obj = reader.value(tag, empty, attributes)
    try:
        reader.end()
    except XMLFormatError:
        obj.release()
        raise
    return obj
