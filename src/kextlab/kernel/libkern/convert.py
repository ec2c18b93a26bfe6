"""Between OS objects and Python values.

* ``from_python`` builds OS objects from Python values, for kernel code that sets
  properties with literals and for personalities read from plists: ``str`` ->
  ``OSString``, ``bool`` -> ``OSBoolean``, ``int`` -> ``OSNumber`` (32 bits when the
  value fits in 32, else 64; pass an ``OSNumber`` to choose), ``bytes`` -> ``OSData``,
  ``dict`` -> ``OSDictionary``, ``list``/``tuple`` -> ``OSArray``, ``set``/``frozenset``
  -> ``OSSet``.  OS objects pass through (retained).
* ``to_user`` is what a user program receives (``IORegistryEntryCreateCFProperties``):
  the same graph as plain Python values, copied, as IOKitUser's ``IOCFUnserialize``
  makes CF objects from the kernel's XML.  Numbers keep the signedness CF gives them:
  an OSNumber of 32 bits or fewer becomes a *signed* 32-bit value
  (``kCFNumberSInt32Type``), a wider one a signed 64-bit value, which is why ``ioreg``
  prints a 32-bit -100 as 18446744073709551516.  Sets become ``UserSet`` lists (CF
  sets have no order; ours keep the kernel's).  Objects that cannot be serialized
  become the string ``"<Class> is not serializable"``.  A ``PrintedObject`` (a value
  known only as a tool printed it) becomes a ``PrintedValue``.  The result equals
  ``OSUnserializeXML(OSSerialize(...))`` converted the same way (a test proves it);
  the direct copy only skips the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSOrderedSet, OSSet
from kextlab.kernel.libkern.object import OSObject, OSSerializer
from kextlab.kernel.libkern.values import (
    OSBoolean,
    OSData,
    OSNumber,
    OSString,
    kOSBooleanFalse,
    kOSBooleanTrue,
)

if TYPE_CHECKING:
    from kextlab.kernel.libkern.serialize import OSSerialize

UserValue = str | int | bool | bytes | dict[str, "UserValue"] | list["UserValue"]


class UserSet(list):  # type: ignore[type-arg]
    """A CF set as user space sees it: its members, in the kernel's order."""


class PrintedValue(str):
    """A value known only by the text a tool printed for it, such as a dump's redacted
    ``<a**********c>`` or ``<unknown object>``: tools print it back as that text."""


class PrintedObject(OSObject):
    """The kernel side of a ``PrintedValue`` (kextlab's, not libkern's): a registry
    rebuilt from a dump holds such values as this object.  It serializes as a string."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def isEqualTo(self, other: object) -> bool:
        return isinstance(other, PrintedObject) and other.text == self.text

    def serialize(self, serializer: OSSerialize) -> bool:
        string = OSString(self.text)
        try:
            return serializer.add_string(string)
        finally:
            string.release()


def from_python(value: object) -> OSObject:
    """The OS object for a Python value (see the module docstring for the mapping)."""
    if isinstance(value, OSObject):
        value.retain()
        return value
    if isinstance(value, bool):
        return kOSBooleanTrue if value else kOSBooleanFalse
    if isinstance(value, int):
        return OSNumber(value, 32 if -(1 << 31) <= value < (1 << 32) else 64)
    if isinstance(value, str):
        return OSString(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return OSData(value)
    if isinstance(value, Mapping):
        dictionary = OSDictionary()
        for key, item in value.items():
            member = from_python(item)
            dictionary.setObject(str(key), member)
            member.release()
        return dictionary
    if isinstance(value, list | tuple | set | frozenset):
        collection: OSArray | OSSet = OSSet() if isinstance(value, set | frozenset) else OSArray()
        for item in value:
            member = from_python(item)
            collection.setObject(member)
            member.release()
        return collection
    raise TypeError(f"no OS object type for {type(value).__name__} value {value!r}")


def signed(value: int, bits: int) -> int:
    """``value`` read as a two's-complement number of ``bits`` bits."""
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def to_user(obj: OSObject) -> UserValue:
    """A user-space copy of ``obj`` (what IOCFUnserialize would build)."""
    if isinstance(obj, OSBoolean):
        return obj.isTrue()
    if isinstance(obj, OSString):
        return obj.getCStringNoCopy()
    if isinstance(obj, OSNumber):
        value = obj.unsigned64BitValue()
        return signed(value & 0xFFFF_FFFF, 32) if obj.numberOfBits() <= 32 else signed(value, 64)
    if isinstance(obj, OSData):
        return obj.getBytesNoCopy()
    if isinstance(obj, OSDictionary):
        return {key: to_user(member) for key, member in obj.items()}
    if isinstance(obj, OSSet):
        return UserSet(to_user(member) for member in obj)
    if isinstance(obj, OSArray | OSOrderedSet):
        return [to_user(member) for member in obj]
    if isinstance(obj, PrintedObject):
        return PrintedValue(obj.text)
    if isinstance(obj, OSSerializer):
        produced = obj.produce()
        try:
            return to_user(produced)
        finally:
            produced.release()
    return f"{obj.getClassName()} is not serializable"
