"""The names a PCI nub is published and name-matched under.

Two halves, both pure functions of their arguments (no kernel objects, no state; safe
from any kernel thread, never blocking); see ``shared/spec/iokit-matching.md`` §1.6:

* **Name matching** (xnu's own code, so it lives in the kernel layer,
  ``kextlab.kernel.platform.names``, and is re-exported here).
  ``IOPCIDevice::compareName`` asks its bridge, which calls
  ``IODTCompareNubName`` (xnu ``iokit/Kernel/IODeviceTreeSupport.cpp`` l.981): the
  device-tree rule ``CompareKey`` (l.916) tried on the properties ``name``,
  ``compatible``, ``device_type`` and ``model`` in that order.  Each property is a
  NUL-separated list of names (an OSData; an OSString is one NUL-terminated entry).
  A key ending in ``*`` matches an entry that starts with the rest of the key;
  any other key matches an equal entry.  What matched is the *entry*, not the key:
  ``IONameMatch "pci8086,*"`` on a nub whose ``compatible`` holds ``pci8086,1c3a``
  gives ``IONameMatched = "pci8086,1c3a"``.  ``IORegistryEntry::compareNames``
  (IORegistryEntry.cpp l.1193) tries an IONameMatch list in order; the first hit wins.
  ``IOPlatformDevice`` and ``IODTPlatformExpert`` use the same rule.
* **Naming.**  ``IOPCIConfigurator::constructProperties`` (IOPCIConfigurator.cpp
  l.850-990 of IOPCIFamily-726.0.5) gives each function its ``compatible`` list,
  its ``name``/``IOName`` and ``IOPCIBridge::publishNub`` (IOPCIBridge.cpp
  l.3209-3212) its location.

Bytes and text: C compares bytes (``strncmp``).  Property data (``bytes``) is compared
as it is; ``str`` values and keys, which are OSStrings, are compared as their UTF-8
bytes, with ``surrogateescape`` (how kextlab's dump reader keeps bytes that are not
UTF-8) so that every byte a C string may hold survives.  A matched entry that came
from data is returned decoded the same way, UTF-8 with ``surrogateescape``: that is
the OSString ``OSString::withCString`` makes from those bytes as kextlab holds
OSStrings (``OSString.isEqualTo`` and the dump reader use the same encoding), it never
fails, and ``entry.encode("utf-8", "surrogateescape")`` gives the bytes back.
(Latin-1 would be as total, but would turn UTF-8 names into mojibake and disagree
with the rest of kextlab.)  Device-tree and PCI names are ASCII in practice, where all
of this coincides.
"""

from __future__ import annotations

from kextlab.kernel.platform.names import (
    NUB_NAME_PROPERTIES,
    c_bytes,
    compare_nub_name,
    compare_nub_names,
    from_c_bytes,
)

__all__ = [
    "NUB_NAME_PROPERTIES",
    "compare_nub_name",
    "compare_nub_names",
    "pci_compatible",
    "pci_generic_name",
    "pci_location",
    "pci_nub_name",
]


#: ``genericNames[]`` in IOPCIConfigurator.cpp: (name, mask, class code), first hit wins.
_GENERIC_NAMES: tuple[tuple[str, int, int], ...] = (
    ("display", 0xFFFFFF, 0x000100),  # pre-2.0 VGA-compatible device
    ("scsi", 0xFFFF00, 0x010000),  # SCSI bus controller
    ("ethernet", 0xFFFF00, 0x020000),  # Ethernet controller
    ("display", 0xFF0000, 0x030000),  # any display controller
    ("pci-bridge", 0xFFFF00, 0x060400),  # PCI-to-PCI bridge
)

#: ``strlcpy(out, name, 31)``: the device-tree name in ``compatible`` keeps 30 bytes.
_DT_NAME_LIMIT = 30


def pci_generic_name(class_code: int) -> str | None:
    """The generic name IOPCIConfigurator gives a function of this 24-bit class code
    (``display``, ``scsi``, ``ethernet``, ``pci-bridge``), or None.

    Mirrors ``genericNames[]`` in ``IOPCIConfigurator::constructProperties``: the
    first row whose ``class_code & mask`` equals its class wins.
    """
    _check_bits("class code", class_code, 24)
    for name, mask, code in _GENERIC_NAMES:
        if class_code & mask == code:
            return name
    return None


def pci_compatible(
    vendor: int,
    device: int,
    subsystem_vendor: int,
    subsystem: int,
    class_code: int,
    acpi_name: str | None = None,
) -> list[str]:
    """The entries of a function's ``compatible`` property, in order.

    Mirrors ``IOPCIConfigurator::constructProperties``:

    * ``pci<subsystem_vendor>,<subsystem>`` when the subsystem IDs are not both zero
      and differ, as a pair, from the vendor and device IDs;
    * ``pci<vendor>,<device>``;
    * ``pciclass,<class code>`` (six digits);
    * the name of the function's device-tree entry (``dtEntry->copyName()``: the ACPI
      name, such as ``IGPU``, on Intel Macs), when it has one; C copies at most 30
      bytes of it (``strlcpy(out, name, 31)``).  (For a longer name C then advances
      by the full length, leaving stack bytes in the property; we keep the 30.)

    Hex digits are lower case and unpadded (``%x``), the class six digits
    (``%06x``).  The property itself is these entries, each NUL-terminated.
    """
    _check_bits("vendor ID", vendor, 16)
    _check_bits("device ID", device, 16)
    _check_bits("subsystem vendor ID", subsystem_vendor, 16)
    _check_bits("subsystem ID", subsystem, 16)
    _check_bits("class code", class_code, 24)
    entries: list[str] = []
    if (subsystem_vendor or subsystem) and (subsystem_vendor, subsystem) != (vendor, device):
        entries.append(f"pci{subsystem_vendor:x},{subsystem:x}")
    entries.append(f"pci{vendor:x},{device:x}")
    entries.append(f"pciclass,{class_code:06x}")
    if acpi_name is not None:
        entries.append(from_c_bytes(c_bytes(acpi_name)[:_DT_NAME_LIMIT]))
    return entries


def pci_nub_name(vendor: int, device: int, class_code: int) -> str:
    """A function's ``name`` and ``IOName``: its generic name if its class has one,
    else ``pci<vendor>,<device>``.

    Mirrors ``IOPCIConfigurator::constructProperties``, where the fallback is taken
    (``name = out``) *after* the subsystem entry was written: it is the
    ``pci<vendor>,<device>`` entry of ``compatible``, which is the first entry only
    when there is no subsystem entry.  (Spec §1.6 says "the first compatible entry";
    the real dumps agree with the code: MacBookPro9,2's MCHC is named
    ``pci8086,154`` with ``compatible`` ``pci106b,fa``, ``pci8086,154``, ...)
    The subsystem IDs therefore play no part.  The registry name ioreg shows is the
    ACPI/device-tree name when there is one.
    """
    _check_bits("vendor ID", vendor, 16)
    _check_bits("device ID", device, 16)
    generic = pci_generic_name(class_code)
    if generic is not None:
        return generic
    return f"pci{vendor:x},{device:x}"


def pci_location(device: int, function: int) -> str:
    """A nub's location in its bridge: ``"%X"`` of the device number, or ``"%X,%X"``
    with the function number when it is not 0 (upper-case hex).

    Mirrors ``IOPCIBridge::publishNub`` (IOPCIBridge.cpp l.3209-3212).
    """
    _check_bits("device number", device, 5)
    _check_bits("function number", function, 3)
    return f"{device:X},{function:X}" if function else f"{device:X}"


def _check_bits(what: str, value: int, bits: int) -> None:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"PCI {what} must fit in {bits} bits, not {value:#x}")
