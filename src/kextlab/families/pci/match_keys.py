"""IOPCIFamily's register matching: the IOPCI*Match keys against a nub's config dwords.

Mirrors ``IOPCIBridge::matchKeys`` and ``IOPCIBridge::pciMatchNub`` (IOPCIBridge.cpp
l.4490-4584 of IOPCIFamily-726.0.5) and the kernel's ``strtoul``
(xnu ``iokit/Kernel/IOStringFuncs.c``) they parse with; see
``shared/spec/iokit-matching.md`` §2.2.  Pure functions of their arguments: no kernel
objects, no state, safe from any kernel thread, never blocking.  The family's
``matchNubWithPropertyTable`` (and its Thunderbolt rule, §2.1) is built on top.

How a personality is matched
----------------------------
``pciMatchNub`` walks four keys in a fixed order.  A key the personality lacks is
skipped; every key present must match (AND); the walk stops at the first that fails:

===================== =========================================== ==============
key                   register (``savedConfig`` dword)            default mask
===================== =========================================== ==============
IOPCIMatch            0x00; only if no token matched there, 0x2C  0xffffffff
IOPCIPrimaryMatch     0x00                                        0xffffffff
IOPCISecondaryMatch   0x2C                                        0xffffffff
IOPCIClassMatch       0x08                                        0xffffff00
===================== =========================================== ==============

Each key holds a list of ``VALUE[&MASK]`` tokens, any one of which matching is enough
(OR).  ``matchKeys`` reads a token with ``strtoul(..., 16)``, skips *spaces* (not
tabs), reads ``&MASK`` if an ``&`` follows (an explicit mask replaces the default
entirely) and compares ``(value & mask) == (register & mask)``.

The +1000 bonus: when IOPCIMatch matched on register 0x00 (never 0x2C, never another
key) and the whole personality matched, ``pciMatchNub`` adds 1000 to the probe score,
but only in builds without ``ACPI_SUPPORT``: arm64.  Intel kernels (``ACPI_SUPPORT``
is 1 on i386 and x86_64, IOPCIPrivate.h l.29) get no bonus, and neither does
PowerPC, whose IOPCIFamily (103 ... 224) predates the bonus code (first in 284).

Quirks kept on purpose (each pinned by a test)
----------------------------------------------
* Tokens are separated by whatever ``strtoul`` skips before a number (space, tab,
  newline), but only spaces may stand between a value and its ``&``; ``"1234\\t&ffff"``
  reads the tab-separated ``&ffff`` as a failed token.
* The first token that does not parse ends the list: tokens after it are never read.
* ``0x`` is optional, digits are of either case, a sign is allowed (``-`` negates
  modulo 2**64), and an overflowing number reads as 2**64-1.
* ``0x`` is consumed whenever present: ``"0x"`` alone, or ``"0xg"``, parses nothing.
* A mask that does not parse (``&zz``, or the typo ``0x78009004&0x0xff00ffff`` in
  Apple's own IOPCIDevice.h, where ``strtoul`` reads ``0x0``) is 0, and
  ``(value & 0) == (register & 0)``: the personality matches every device.
* Width (IOPCIFamily-726): value and mask are 64-bit, the register 32-bit.  Under a
  32-bit mask (the defaults) value bits above 31 are ignored; under an explicit mask
  with bits above 31, a value with any of those bits set never matches.  (Older
  releases declared both ``UInt32`` and so truncated; we follow 726.)
* The kernel's ``isspace`` is its own (IOStringFuncs.c): space, tab and newline only
  (its fourth test, ``'\\12'``, is octal for newline again).  Carriage return, vertical
  tab and form feed are not skipped, unlike the C library's.
* A C string ends at its first NUL: a value with an embedded ``"\\0"`` is read up to it.
* Key values are read as C strings without a type check (``(OSString *)
  table->getObject(key)``); a personality that holds anything else there is undefined
  behaviour in C.  Here a present key whose value is not a ``str`` fails, like a key
  whose tokens all fail.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "BONUS_ARCHITECTURES",
    "KNOWN_ARCHITECTURES",
    "PCI_MATCH_KEYS",
    "VENDOR_DEVICE_SCORE_BONUS",
    "PCIConfigRegisters",
    "PCIMatchResult",
    "kIOPCIClassMatchKey",
    "kIOPCIConfigRevisionID",
    "kIOPCIConfigSubSystemVendorID",
    "kIOPCIConfigVendorID",
    "kIOPCIMatchKey",
    "kIOPCIPrimaryMatchKey",
    "kIOPCISecondaryMatchKey",
    "kernel_strtoul",
    "match_keys",
    "pci_match_nub",
    "vendor_device_bonus_for_arch",
]

# Property keys (IOPCIDevice.h).
kIOPCIMatchKey = "IOPCIMatch"
kIOPCIPrimaryMatchKey = "IOPCIPrimaryMatch"
kIOPCISecondaryMatchKey = "IOPCISecondaryMatch"
kIOPCIClassMatchKey = "IOPCIClassMatch"

# Configuration-space offsets of the three matched dwords (IOPCIFamilyDefinitions.h).
kIOPCIConfigVendorID = 0x00
kIOPCIConfigRevisionID = 0x08
kIOPCIConfigSubSystemVendorID = 0x2C

#: What ``pciMatchNub`` adds to the probe score for an IOPCIMatch hit on register 0x00.
VENDOR_DEVICE_SCORE_BONUS = 1000

_ULONG_MAX = (1 << 64) - 1
_DWORD_MASK = 0xFFFF_FFFF
_DWORD = struct.Struct("<I")
#: The kernel's own ``isspace`` (IOStringFuncs.c): ``' '``, ``'\t'``, ``'\n'``, ``'\12'``.
_KERNEL_SPACE = frozenset(" \t\n")


@dataclass(frozen=True, slots=True)
class _MatchingKey:
    """One row of ``pciMatchNub``'s ``matching[]`` table."""

    key: str
    registers: tuple[int, ...]
    default_mask: int


#: ``pciMatchNub``'s walk, in order (IOPCIBridge.cpp l.4540-4553).
_MATCHING_KEYS = (
    _MatchingKey(kIOPCIMatchKey, (kIOPCIConfigVendorID, kIOPCIConfigSubSystemVendorID), 0xFFFFFFFF),
    _MatchingKey(kIOPCIPrimaryMatchKey, (kIOPCIConfigVendorID,), 0xFFFFFFFF),
    _MatchingKey(kIOPCISecondaryMatchKey, (kIOPCIConfigSubSystemVendorID,), 0xFFFFFFFF),
    _MatchingKey(kIOPCIClassMatchKey, (kIOPCIConfigRevisionID,), 0xFFFFFF00),
)

#: The four register-matching keys, in the order ``pciMatchNub`` walks them.
PCI_MATCH_KEYS: tuple[str, ...] = tuple(row.key for row in _MATCHING_KEYS)

#: Kernel architectures we know, by our machines' names (``x86`` is Intel).
KNOWN_ARCHITECTURES = frozenset({"ppc", "i386", "x86", "x86_64", "arm64"})
#: Those whose IOPCIFamily adds the vendor/device bonus (``!ACPI_SUPPORT``).
BONUS_ARCHITECTURES = frozenset({"arm64"})


def _digit_value(character: str) -> int | None:
    """The value of an ASCII digit or letter as ``strtoul`` reads it (``'a'`` = 10 ...
    ``'z'`` = 35, either case), or None for anything else (the kernel's ``isdigit`` and
    ``isalpha`` are ASCII only)."""
    if "0" <= character <= "9":
        return ord(character) - ord("0")
    if "a" <= character <= "z":
        return ord(character) - ord("a") + 10
    if "A" <= character <= "Z":
        return ord(character) - ord("A") + 10
    return None


def kernel_strtoul(text: str, start: int = 0, base: int = 16) -> tuple[int, int]:
    """Read an unsigned number from ``text[start:]`` exactly as xnu's kernel ``strtoul``
    does; return ``(value, end)``, ``end`` being the index of the first character not
    read, or ``start`` itself when no digit was read (then the value is 0).

    Mirrors ``strtoul`` in ``iokit/Kernel/IOStringFuncs.c`` (64-bit ``unsigned long``):

    * skip the kernel's spaces (space, tab, newline: see the module docstring);
    * an optional ``+`` or ``-``; ``-`` negates the result modulo 2**64;
    * base 16 (or 0): a ``0x``/``0X`` is consumed whenever present, and if no hex
      digit follows it nothing is read (the C library would read the ``0``);
      base 2 (or 0): likewise ``0b``/``0B``; base 0 then picks 8 after a leading
      ``0``, else 10;
    * digits until the first character that is not one in ``base``;
    * on overflow the digits are still consumed and the value is 2**64-1, not negated.

    ``text`` is read as a C string: its end, or a NUL, ends it.  ``base`` is 0 or
    2 to 36, as C allows; anything else is a programming error (``ValueError``).
    """
    if base != 0 and not 2 <= base <= 36:
        raise ValueError(f"strtoul base must be 0 or 2 to 36, not {base}")
    if not 0 <= start <= len(text):
        raise ValueError(f"strtoul start {start} is outside the text (length {len(text)})")
    length = len(text)

    def char(index: int) -> str:
        # Past the end of the Python string is the C string's terminating NUL.
        return text[index] if index < length else "\0"

    position = start
    while char(position) in _KERNEL_SPACE:
        position += 1
    negative = False
    if char(position) in "+-":
        negative = char(position) == "-"
        position += 1
    if base in (0, 16) and char(position) == "0" and char(position + 1) in "xX":
        position += 2
        base = 16
    elif base in (0, 2) and char(position) == "0" and char(position + 1) in "bB":
        position += 2
        base = 2
    if base == 0:
        base = 8 if char(position) == "0" else 10

    value = 0
    overflow = False
    any_digit = False
    while True:
        digit = _digit_value(char(position))
        if digit is None or digit >= base:
            break
        any_digit = True
        if not overflow:
            value = value * base + digit
            overflow = value > _ULONG_MAX
        position += 1

    if not any_digit:
        return 0, start
    if overflow:
        return _ULONG_MAX, position
    if negative:
        value = -value & _ULONG_MAX
    return value, position


def match_keys(keys: str, default_mask: int, register: int) -> bool:
    """Whether any ``VALUE[&MASK]`` token of ``keys`` matches ``register``.

    Mirrors ``IOPCIBridge::matchKeys`` (IOPCIBridge.cpp l.4490): read a value with
    ``strtoul(..., 16)`` (none: stop, no match); skip spaces only; after an ``&`` read
    the mask with ``strtoul`` (none: mask 0, which matches everything), else use
    ``default_mask``; match when ``(value & mask) == (register & mask)``, the value and
    mask 64-bit, the register a 32-bit dword; otherwise go on with the next token.

    ``default_mask`` and ``register`` are truncated to 32 bits, as the C parameter
    and ``savedConfig`` types do.
    """
    register &= _DWORD_MASK
    return any((value & mask) == (register & mask) for value, mask in _tokens(keys, default_mask))


@functools.lru_cache(maxsize=4096)
def _tokens(keys: str, default_mask: int) -> tuple[tuple[int, int], ...]:
    """The ``(value, mask)`` tokens ``matchKeys`` reads from ``keys``, up to the first
    that does not parse.  Parsing never depends on the register, so the C loop's
    "read a token, test it, go on" is the same as testing these in order; a
    personality's strings are parsed once, not at every match."""
    default_mask &= _DWORD_MASK
    tokens: list[tuple[int, int]] = []
    position = 0
    while True:
        value, following = kernel_strtoul(keys, position)
        if following == position:
            return tuple(tokens)
        while following < len(keys) and keys[following] == " ":
            following += 1
        if following < len(keys) and keys[following] == "&":
            # A mask that does not parse leaves ``following`` just after the ``&``.
            mask, following = kernel_strtoul(keys, following + 1)
        else:
            mask = default_mask
        tokens.append((value, mask))
        position = following


@dataclass(frozen=True, slots=True)
class PCIConfigRegisters:
    """The three configuration dwords register matching reads, as the nub's
    ``savedConfig`` holds them (the shadow copy taken at enumeration, not a live
    read): each a 32-bit little-endian dword read as an integer.

    * ``vendor_device``, offset 0x00: ``device << 16 | vendor``;
    * ``subsystem``, offset 0x2C: ``subsystem << 16 | subsystem_vendor``;
    * ``class_revision``, offset 0x08: ``class_code << 8 | revision``, the class code
      being ``base << 16 | sub << 8 | programming_interface``.
    """

    vendor_device: int
    subsystem: int
    class_revision: int

    def __post_init__(self) -> None:
        for name in ("vendor_device", "subsystem", "class_revision"):
            value = getattr(self, name)
            if not 0 <= value <= _DWORD_MASK:
                raise ValueError(
                    f"PCI config register {name} must be a 32-bit dword, not {value:#x}"
                )

    @classmethod
    def from_config_header(cls, header: bytes | bytearray | memoryview) -> PCIConfigRegisters:
        """The registers of a configuration header (the first 64 of its 256 bytes are
        enough; config space is little-endian)."""
        if len(header) < kIOPCIConfigSubSystemVendorID + 4:
            raise ValueError(
                f"a PCI config header holds at least {kIOPCIConfigSubSystemVendorID + 4} bytes "
                f"to match on, not {len(header)}"
            )
        (vendor_device,) = _DWORD.unpack_from(header, kIOPCIConfigVendorID)
        (class_revision,) = _DWORD.unpack_from(header, kIOPCIConfigRevisionID)
        (subsystem,) = _DWORD.unpack_from(header, kIOPCIConfigSubSystemVendorID)
        return cls(vendor_device, subsystem, class_revision)

    @classmethod
    def from_ids(
        cls,
        vendor: int,
        device: int,
        subsystem_vendor: int = 0,
        subsystem: int = 0,
        class_code: int = 0,
        revision: int = 0,
    ) -> PCIConfigRegisters:
        """The registers of a function with these IDs (16-bit vendor, device and
        subsystem IDs, 24-bit class code, 8-bit revision)."""
        for name, value, bits in (
            ("vendor", vendor, 16),
            ("device", device, 16),
            ("subsystem_vendor", subsystem_vendor, 16),
            ("subsystem", subsystem, 16),
            ("class_code", class_code, 24),
            ("revision", revision, 8),
        ):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"PCI {name} ID must fit in {bits} bits, not {value:#x}")
        return cls(
            vendor_device=device << 16 | vendor,
            subsystem=subsystem << 16 | subsystem_vendor,
            class_revision=class_code << 8 | revision,
        )

    @property
    def vendor(self) -> int:
        return self.vendor_device & 0xFFFF

    @property
    def device(self) -> int:
        return self.vendor_device >> 16

    @property
    def subsystem_vendor(self) -> int:
        return self.subsystem & 0xFFFF

    @property
    def subsystem_id(self) -> int:
        return self.subsystem >> 16

    @property
    def class_code(self) -> int:
        return self.class_revision >> 8

    @property
    def revision(self) -> int:
        return self.class_revision & 0xFF

    def saved_config(self, offset: int) -> int:
        """The dword at config ``offset`` (0x00, 0x08 or 0x2C), as
        ``nub->savedConfig[offset >> 2]`` reads it."""
        if offset == kIOPCIConfigVendorID:
            return self.vendor_device
        if offset == kIOPCIConfigRevisionID:
            return self.class_revision
        if offset == kIOPCIConfigSubSystemVendorID:
            return self.subsystem
        raise ValueError(f"register matching reads config 0x00, 0x08 or 0x2C, not {offset:#x}")


@dataclass(frozen=True, slots=True)
class PCIMatchResult:
    """A personality ``pciMatchNub`` accepted.

    ``score_delta`` is what it adds to the personality's IOProbeScore before probe:
    ``VENDOR_DEVICE_SCORE_BONUS`` or 0.  ``keys`` are the register-matching keys the
    personality carried, in walk order (all matched; empty when it had none, which
    matches too).  ``pci_match_register`` is the register IOPCIMatch matched on
    (0x00 or 0x2C), None without IOPCIMatch.
    """

    score_delta: int
    keys: tuple[str, ...]
    pci_match_register: int | None


def pci_match_nub(
    table: Mapping[str, object],
    registers: PCIConfigRegisters,
    *,
    vendor_device_bonus: bool,
) -> PCIMatchResult | None:
    """Match a personality's IOPCI*Match keys against a nub's registers: the result,
    or None when a key fails.

    Mirrors ``IOPCIBridge::pciMatchNub`` (IOPCIBridge.cpp l.4524): walks IOPCIMatch
    (register 0x00, then 0x2C only if no token matched 0x00), IOPCIPrimaryMatch (0x00),
    IOPCISecondaryMatch (0x2C) and IOPCIClassMatch (0x08, default mask 0xffffff00),
    skipping absent keys and stopping at the first that fails.  ``vendor_device_bonus``
    says whether this kernel's family adds 1000 for an IOPCIMatch hit on 0x00 (see
    ``vendor_device_bonus_for_arch``).

    A key mapped to None counts as absent (an OSDictionary cannot hold NULL).  A key
    holding anything but a ``str`` fails: C reads it as a C string without a type
    check, which for any other object is undefined behaviour; refusing the
    personality is the safe reading.
    """
    present: list[str] = []
    pci_match_register: int | None = None
    for row in _MATCHING_KEYS:
        keys = table.get(row.key)
        if keys is None:
            continue
        if not isinstance(keys, str):
            return None
        for offset in row.registers:
            if match_keys(keys, row.default_mask, registers.saved_config(offset)):
                if row.key == kIOPCIMatchKey:
                    pci_match_register = offset
                break
        else:
            return None
        present.append(row.key)
    bonus = vendor_device_bonus and pci_match_register == kIOPCIConfigVendorID
    return PCIMatchResult(
        score_delta=VENDOR_DEVICE_SCORE_BONUS if bonus else 0,
        keys=tuple(present),
        pci_match_register=pci_match_register,
    )


def vendor_device_bonus_for_arch(arch: str) -> bool:
    """Whether IOPCIFamily on a kernel of this architecture adds the +1000 bonus for an
    IOPCIMatch hit on the vendor/device register (spec §2.2 rule 3).

    Only arm64: the bonus is compiled under ``#if !ACPI_SUPPORT`` and ``ACPI_SUPPORT``
    is 1 on i386 and x86_64 (IOPCIPrivate.h l.29; ``x86`` is our machines' name for
    Intel); PowerPC kernels ran IOPCIFamily 103 ... 224, which has no bonus code at all
    (it first appears in IOPCIFamily-284).  ``arch`` is one of
    ``KNOWN_ARCHITECTURES``; anything else is a ``ValueError``.
    """
    if arch not in KNOWN_ARCHITECTURES:
        known = ", ".join(sorted(KNOWN_ARCHITECTURES))
        raise ValueError(f"unknown kernel architecture {arch!r}; expected one of {known}")
    return arch in BONUS_ARCHITECTURES
