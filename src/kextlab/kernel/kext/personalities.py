"""A kext's IOKitPersonalities as the personality dictionaries the catalogue receives.

Mirrors ``OSKext::copyPersonalitiesArray`` and ``OSKext::uniquePersonalityProperties``
(xnu ``libkern/c++/OSKext.cpp``), as ``IOCatalogue::addDrivers`` applies them
(``iokit/Kernel/IOCatalogue.cpp``); see ``shared/spec/iokit-matching.md`` §1.1.

For each personality, in the order of the IOKitPersonalities dictionary:

1. Its values become libkern objects (``libkern.from_python``): string -> OSString,
   integer -> OSNumber (32 bits when it fits, else 64), boolean -> OSBoolean, data ->
   OSData, array -> OSArray, dictionary -> OSDictionary (key order kept).  A plist
   ``<real>`` (float) or ``<date>`` (datetime) has no libkern counterpart — the
   kernel's ``OSUnserializeXML`` knows neither tag — and neither has an integer
   outside -2⁶³…2⁶⁴-1; such a value is refused with a ``KextBundleError`` naming the
   file and the key path.
2. The personality's *name* (its key in IOKitPersonalities) is dropped.
3. Without a string ``CFBundleIdentifier``, the kext's identifier is set; with one
   that differs from the kext's, ``IOPersonalityPublisher`` = the kext's identifier
   is added (a codeless kext publishing personalities for another kext's classes).
4. ``uniquePersonalityProperties``: the string values of ``CFBundleIdentifier``,
   ``IOProviderClass``, ``IOClass``, ``IOMatchCategory``, ``IOResourceMatch``,
   ``IOUserClientClass``, ``IOPersonalityPublisher`` and a few HID/USB keys become
   ``OSSymbol``s, and ``CFBundleIdentifierKernel`` = ``CFBundleIdentifier`` is added
   when absent (uniqued when present).

Keys keep their file order; added keys follow, in the order above.  (In xnu,
``setInfoDictionaryAndPath`` also calls ``uniquePersonalityProperties`` on the
IOKitPersonalities dictionary *itself*, which does nothing useful; the per-personality
call in ``addDrivers`` is the one that counts, and it runs after step 3, so a
personality that had no CFBundleIdentifier gets ``CFBundleIdentifierKernel`` = the
kext's identifier.)

Threading rules: builds objects; run it as kernel code (inside the machine's
scheduler) so that they are counted and symbols are the kernel's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from kextlab.kernel.kext.errors import KextBundleError
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.values import OSString, OSSymbol

kCFBundleIdentifierKey: Final = "CFBundleIdentifier"
kCFBundleIdentifierKernelKey: Final = "CFBundleIdentifierKernel"
kIOPersonalityPublisherKey: Final = "IOPersonalityPublisher"

#: The keys whose string values ``uniquePersonalityProperties`` turns into symbols,
#: in its order (``CFBundleIdentifierKernel`` is handled on its own).
UNIQUED_KEYS: Final = (
    kCFBundleIdentifierKey,
    "IOProviderClass",
    "IOClass",
    "IOMatchCategory",
    "IOResourceMatch",
    "IOUserClientClass",
    "HIDDefaultBehavior",
    "HIDPointerAccelerationType",
    "HIDRemoteControlType",
    "HIDScrollAccelerationType",
    kIOPersonalityPublisherKey,
    "Physical Interconnect",
    "Physical Interconnect Location",
    "Vendor",
    "Vendor Identification",
    "Vendor Name",
    "bConfigurationValue",
    "bInterfaceNumber",
    "idProduct",
)

#: Plist tags of the Python types plistlib produces that libkern cannot hold.
_UNSUPPORTED_TAGS: Final = {"float": "<real>", "datetime": "<date>"}
_INTEGER_RANGE: Final = range(-(1 << 63), 1 << 64)


class PersonalitySource(Protocol):
    """What personalities are read from: a bundle or a built-in library kext."""

    @property
    def bundle_id(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def personalities(self) -> Mapping[str, Mapping[str, object]]: ...


def copy_personalities(kext: PersonalitySource) -> list[OSDictionary]:
    """The personality dictionaries ``kext`` sends to the catalogue, in file order.

    The caller owns one reference to each dictionary.
    """
    result: list[OSDictionary] = []
    for name, personality in kext.personalities.items():
        check_personality_values(personality, kext.source, ("IOKitPersonalities", name))
        dictionary = from_python(personality)
        assert isinstance(dictionary, OSDictionary)
        identifier = dictionary.getObject(kCFBundleIdentifierKey)
        if not isinstance(identifier, OSString):
            _set_symbol(dictionary, kCFBundleIdentifierKey, kext.bundle_id)
        elif identifier.getCStringNoCopy() != kext.bundle_id:
            _set_symbol(dictionary, kIOPersonalityPublisherKey, kext.bundle_id)
        unique_personality_properties(dictionary)
        result.append(dictionary)
    return result


def unique_personality_properties(
    personality: OSDictionary, add_kernel_identifier: bool = True
) -> None:
    """Turn the common string values of ``personality`` into symbols and add
    ``CFBundleIdentifierKernel`` (``OSKext::uniquePersonalityProperties``)."""
    for key in UNIQUED_KEYS[:3]:
        _unique(personality, key)
    if personality.getObject(kCFBundleIdentifierKernelKey) is not None:
        _unique(personality, kCFBundleIdentifierKernelKey)
    elif add_kernel_identifier:
        identifier = personality.getObject(kCFBundleIdentifierKey)
        if identifier is not None:
            personality.setObject(kCFBundleIdentifierKernelKey, identifier)
    for key in UNIQUED_KEYS[3:]:
        _unique(personality, key)


def check_personality_values(value: object, source: str, path: Sequence[str | int]) -> None:
    """Refuse any value below ``value`` that has no libkern type (see the module
    docstring), naming ``source`` and the key path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_personality_values(item, source, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_personality_values(item, source, (*path, index))
    elif isinstance(value, bool | str | bytes):
        return
    elif isinstance(value, int):
        if value not in _INTEGER_RANGE:
            raise KextBundleError(
                source,
                _key_path(path),
                f"the integer {value} does not fit in 64 bits (an OSNumber holds -2**63 to "
                "2**64-1)",
            )
    else:
        kind = type(value).__name__
        tag = _UNSUPPORTED_TAGS.get(kind, kind)
        raise KextBundleError(
            source,
            _key_path(path),
            f"a {tag} value ({value!r}) has no libkern type; expected a string, integer, "
            "boolean, data, array or dictionary",
        )


def _key_path(path: Sequence[str | int]) -> str:
    first, *rest = path
    return str(first) + "".join(f"[{part!r}]" for part in rest)


def _set_symbol(dictionary: OSDictionary, key: str, text: str) -> None:
    symbol = OSSymbol.withCString(text)
    dictionary.setObject(key, symbol)
    symbol.release()


def _unique(dictionary: OSDictionary, key: str) -> None:
    value = dictionary.getObject(key)
    if isinstance(value, OSString) and not isinstance(value, OSSymbol):
        _set_symbol(dictionary, key, value.getCStringNoCopy())
