"""Device-tree name matching: ``IODTCompareNubName``.

Mirrors xnu's ``IODTCompareNubName`` and ``CompareKey``
(``iokit/Kernel/IODeviceTreeSupport.cpp`` l.916-994; spec §1.6), which device-tree
nubs use for ``IONameMatch``: ``IOPlatformDevice``, ``IODTPlatformExpert``, and
IOPCIFamily's ``IOPCIDevice`` through its bridge.  The properties ``name``,
``compatible``, ``device_type`` and ``model`` are tried in that order; each is a
NUL-separated list of names (an OSData; an OSString is one NUL-terminated entry).
A key ending in ``*`` matches an entry that starts with the rest of the key; any
other key matches an equal entry.  What matched is the *entry*, not the key:
``IONameMatch "pci8086,*"`` on a nub whose ``compatible`` holds ``pci8086,1c3a``
gives ``IONameMatched = "pci8086,1c3a"``.  A list of names (``compareNames``) is
tried in order; the first hit wins.

Bytes and text: C compares bytes (``strncmp``).  Property data (``bytes``) is
compared as it is; ``str`` values and keys, which are OSStrings, as their UTF-8
bytes with ``surrogateescape`` (how kextlab's dump reader keeps bytes that are not
UTF-8), so every byte a C string may hold survives.  A matched entry that came from
data is returned decoded the same way: it never fails, and
``entry.encode("utf-8", "surrogateescape")`` gives the bytes back.  Device-tree and
PCI names are ASCII in practice, where all of this coincides.

Pure functions: safe from any kernel thread, never blocking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kextlab.kernel.libkern.values import OSData, OSString
from kextlab.kernel.registry.entry import IORegistryEntry

__all__ = [
    "NUB_NAME_PROPERTIES",
    "c_bytes",
    "compare_nub_name",
    "compare_nub_names",
    "from_c_bytes",
    "name_matching_property",
]

#: The properties ``IODTCompareNubName`` tries, in order.
NUB_NAME_PROPERTIES: tuple[str, ...] = ("name", "compatible", "device_type", "model")


def c_bytes(text: str) -> bytes:
    """The bytes of an OSString's C string (see the module docstring)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate no C string can have produced; keep it comparable.
        return text.encode("utf-8", "surrogatepass")


def from_c_bytes(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _property_entries(value: object) -> list[bytes] | None:
    """The NUL-separated entries ``CompareKey`` walks in a property value, or None
    when the value is neither data nor a string (``CompareKey`` then matches nothing).

    OSData: its bytes, up to its length (an empty OSData has no bytes pointer in C,
    so no entries); the last entry may lack its NUL.  OSString: its C string and its
    terminator, so one entry (more only if the string holds a NUL).  A NUL that ends
    the value does not start an empty entry; two NULs in a row make one.
    """
    if isinstance(value, str):
        names = c_bytes(value) + b"\0"
    elif isinstance(value, bytes | bytearray | memoryview):
        names = bytes(value)
        if not names:
            return None
    else:
        return None
    entries: list[bytes] = []
    position = 0
    while position < len(names):
        end = names.find(b"\0", position)
        if end < 0:
            end = len(names)
        entries.append(names[position:end])
        position = end + 1
    return entries


def _compare_key(key: bytes, value: object) -> bytes | None:
    """The first entry of ``value`` that ``key`` matches, per ``CompareKey``."""
    entries = _property_entries(value)
    if entries is None:
        return None
    if b"\0" in key:
        # strncmp stops at the key's NUL, where no entry (NUL-free, long enough) can
        # agree: such a key never matches.
        return None
    if key.endswith(b"*"):
        prefix = key[:-1]
        for entry in entries:
            if entry.startswith(prefix):
                return entry
    else:
        for entry in entries:
            if entry == key:
                return entry
    return None


def compare_nub_name(get_property: Callable[[str], object], name: str) -> str | None:
    """The property entry that the IONameMatch string ``name`` matches on a
    device-tree or PCI nub, or None.

    Mirrors ``IODTCompareNubName`` and ``CompareKey`` (IODeviceTreeSupport.cpp
    l.916-994): tries the properties ``name``, ``compatible``, ``device_type`` and
    ``model`` in that order, each as a NUL-separated list, a ``*`` at the end of
    ``name`` making it a prefix; the first entry that matches, in the first property
    that has one, is returned (this is what becomes IONameMatched).

    ``get_property(key)`` returns a property's value: ``bytes`` (OSData), ``str``
    (OSString), or None when the nub lacks it.  Any other value matches nothing, as
    in C (neither OSData nor OSString).
    """
    key = c_bytes(name)
    for property_name in NUB_NAME_PROPERTIES:
        value = get_property(property_name)
        if value is None:
            continue
        entry = _compare_key(key, value)
        if entry is not None:
            return from_c_bytes(entry)
    return None


def compare_nub_names(get_property: Callable[[str], object], names: object) -> str | None:
    """The IONameMatched for an IONameMatch value on a device-tree or PCI nub, or None.

    Mirrors ``IORegistryEntry::compareNames(OSObject *names, ...)`` (IORegistryEntry.cpp
    l.1193) over ``compare_nub_name``.  ``names`` is the personality's IONameMatch
    value, whatever it holds: a string is one name; a collection (a list or tuple, as
    a plist array reads; a set; a dictionary, whose keys C's collection iterator walks
    too) is tried in its order and the first name that matches wins.  As in C, the walk
    ends at the first member that is not a string (``OSDynamicCast(OSString, ...)``
    fails), and a value that is neither (data, a number, a boolean) matches nothing.
    """
    if isinstance(names, str):
        return compare_nub_name(get_property, names)
    if isinstance(names, bytes | bytearray | memoryview) or not isinstance(names, Iterable):
        return None  # Neither an OSString nor an OSCollection.
    for name in names:
        if not isinstance(name, str):
            return None
        matched = compare_nub_name(get_property, name)
        if matched is not None:
            return matched
    return None


def name_matching_property(entry: IORegistryEntry, key: str) -> bytes | str | None:
    """A registry entry's property as ``IODTCompareNubName`` reads it: the bytes of
    an OSData, the text of an OSString, None otherwise."""
    value = entry.getProperty(key)
    if isinstance(value, OSData):
        return value.getBytesNoCopy()
    if isinstance(value, OSString):
        return value.getCStringNoCopy()
    return None
