"""PCI matching and naming against 22 real machines (``shared/spec/iokit-matching.md``
§5.3): 21 genuine Macs' DarwinDumper ``ioreg -l`` dumps and a Ventura hackintosh.

Every IOPCIDevice's config dwords are rebuilt from its ``vendor-id`` ... ``revision-id``
properties (4-byte little-endian data).  Then every driver attached to it that carries
IOPCI*Match keys must be accepted by ``pci_match_nub``, every driver that carries
IONameMatch must get exactly its recorded IONameMatched from ``compare_nub_names``, and
the nub's own name, ``compatible`` and location must come out of the naming functions
(with the few exceptions listed, each explained).  The dumps are read once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from kextlab.families.pci.match_keys import PCI_MATCH_KEYS, PCIConfigRegisters, pci_match_nub
from kextlab.families.pci.names import (
    compare_nub_names,
    pci_compatible,
    pci_location,
    pci_nub_name,
)
from kextlab.userland.tools.ioreg_dump import read_ioreg_dump_file

#: IOPCIDevices per dump: spec §5.1's table, and CheckAudio's 20.
NUB_COUNTS = {
    "CheckAudio_ioreg.txt.gz": 20,
    "MacBook8_1__IOReg.txt.gz": 20,
    "MacBookAir3.1__IOReg.txt.gz": 24,
    "MacBookAir4.1__IOReg.txt.gz": 20,
    "MacBookPro10.1__IOReg.txt.gz": 27,
    "MacBookPro12_1__IOReg.txt.gz": 26,
    "MacBookPro8.1__IOReg.txt.gz": 27,
    "MacBookPro8.2__IOReg.txt.gz": 29,
    "MacBookPro9.1__IOReg.txt.gz": 28,
    "MacBookPro9.2__IOReg.txt.gz": 25,
    "MacMini3.1__IOReg.txt.gz": 22,
    "MacMini5.2__IOReg.txt.gz": 30,
    "MacPro3.1__IOReg.txt.gz": 42,
    "MacPro4.1__IOReg.txt.gz": 30,
    "MacPro51__IOReg.txt.gz": 65,
    "iMac11.2__IOReg.txt.gz": 27,
    "iMac12.2__IOReg.txt.gz": 28,
    "iMac13.2__IOReg.txt.gz": 28,
    "iMac14.1__IOReg.txt.gz": 23,
    "iMac151__IOReg.txt.gz": 26,
    "iMac16.1__IOReg.txt.gz": 24,
    "imac12.1__IOReg.txt.gz": 28,
}
TOTAL_NUBS = 619


@dataclass(frozen=True)
class Nub:
    """One IOPCIDevice of a dump: its properties and its attached drivers' tables."""

    dump: str
    name: str
    location: str | None
    properties: dict[str, object]
    drivers: tuple[dict[str, object], ...]

    def id_property(self, key: str) -> int:
        """A 4-byte little-endian ID property; the subsystem IDs are absent when config
        dword 0x2C is 0 (IOPCIConfigurator sets them only otherwise), so 0 then."""
        value = self.properties.get(key)
        if value is None and key.startswith("subsystem-"):
            return 0
        assert isinstance(value, bytes), f"{self.dump} {self.name}: {key} = {value!r}"
        assert len(value) == 4, f"{self.dump} {self.name}: {key} = {value!r}"
        return int.from_bytes(value, "little")

    @property
    def ids(self) -> tuple[int, int, int, int, int]:
        """(vendor, device, subsystem vendor, subsystem, class code)."""
        return (
            self.id_property("vendor-id"),
            self.id_property("device-id"),
            self.id_property("subsystem-vendor-id"),
            self.id_property("subsystem-id"),
            self.id_property("class-code"),
        )

    @property
    def registers(self) -> PCIConfigRegisters:
        return PCIConfigRegisters.from_ids(*self.ids, self.id_property("revision-id"))


@functools.cache
def read_nubs(directory: Path) -> tuple[Nub, ...]:
    """Every IOPCIDevice of every dump in ``directory``, in file and registry order."""
    nubs: list[Nub] = []
    for path in sorted(directory.glob("*.txt.gz")):
        root = read_ioreg_dump_file(path)
        for node in root.walk():
            if node.class_name != "IOPCIDevice":
                continue
            nubs.append(
                Nub(
                    dump=path.name,
                    name=node.name,
                    location=node.location,
                    properties=dict(node.properties or ()),
                    drivers=tuple(dict(child.properties or ()) for child in node.children),
                )
            )
    return tuple(nubs)


@pytest.fixture
def nubs(shared_data: Path) -> tuple[Nub, ...]:
    """The IOPCIDevices of the 22 dumps (skips when the real data is absent)."""
    return read_nubs(shared_data / "ioreg")


def test_every_dump_has_the_pci_nubs_the_spec_lists(nubs: tuple[Nub, ...]) -> None:
    """The 22 dumps are all read, with spec §5.1's IOPCIDevice count each."""
    counts: dict[str, int] = {}
    for nub in nubs:
        counts[nub.dump] = counts.get(nub.dump, 0) + 1
    assert counts == NUB_COUNTS
    assert len(nubs) == TOTAL_NUBS


def test_pci_key_matching_accepts_every_attached_driver(nubs: tuple[Nub, ...]) -> None:
    """428/428: every driver carrying IOPCI*Match keys matches its nub's registers
    (Intel kernels: no bonus)."""
    checked = 0
    refused: list[tuple[str, str, dict[str, object]]] = []
    for nub in nubs:
        registers = nub.registers
        for driver in nub.drivers:
            if not any(key in driver for key in PCI_MATCH_KEYS):
                continue
            checked += 1
            result = pci_match_nub(driver, registers, vendor_device_bonus=False)
            if result is None or result.score_delta != 0:
                keys = {key: driver[key] for key in PCI_MATCH_KEYS if key in driver}
                refused.append((nub.dump, nub.name, keys))
    assert refused == []
    assert checked == 428


def test_name_matching_reproduces_every_ionamematched(nubs: tuple[Nub, ...]) -> None:
    """103/103: for every driver carrying IONameMatch, name -> compatible ->
    device_type -> model with wildcards gives exactly its IONameMatched."""
    checked = 0
    wrong: list[tuple[str, str, object, object, str | None]] = []
    for nub in nubs:
        for driver in nub.drivers:
            if "IONameMatch" not in driver:
                continue
            checked += 1
            matched = compare_nub_names(nub.properties.get, driver["IONameMatch"])
            if matched != driver.get("IONameMatched"):
                wrong.append(
                    (
                        nub.dump,
                        nub.name,
                        driver["IONameMatch"],
                        driver.get("IONameMatched"),
                        matched,
                    )
                )
    assert wrong == []
    assert checked == 103


#: MacPro4,1 is the suspect dump (a Clover boot log): these two functions' device-id
#: properties were patched (3a18, 2681) after IOName was set from the real IDs.
PATCHED_DEVICE_IDS = {
    ("MacPro4.1__IOReg.txt.gz", "LPCB"),
    ("MacPro4.1__IOReg.txt.gz", "SAT1"),
}


def test_nub_names_follow_from_the_ids(nubs: tuple[Nub, ...]) -> None:
    """617/619 IONames are the generic name or pci<vendor>,<device>; the two others
    are the MacPro4,1 functions whose device-id was patched."""
    wrong = {
        (nub.dump, nub.name)
        for nub in nubs
        if pci_nub_name(*nub.ids[:2], nub.ids[4]) != nub.properties["IOName"]
    }
    assert wrong == PATCHED_DEVICE_IDS


def test_nub_names_are_the_vendor_device_entry_not_the_first_compatible_one(
    nubs: tuple[Nub, ...],
) -> None:
    """Where a subsystem entry leads ``compatible`` and the class has no generic name,
    the IOName is still pci<vendor>,<device> (MCHC: "pci8086,154", not "pci106b,fa")."""
    after_subsystem = 0
    for nub in nubs:
        if (nub.dump, nub.name) in PATCHED_DEVICE_IDS:
            continue
        compatible = nub.properties["compatible"]
        assert isinstance(compatible, bytes)
        first = compatible.split(b"\0")[0].decode()
        name = nub.properties["IOName"]
        vendor, device = nub.ids[:2]
        if name != first and name not in ("display", "scsi", "ethernet", "pci-bridge"):
            assert name == f"pci{vendor:x},{device:x}"
            after_subsystem += 1
    assert after_subsystem == 298


#: Graphics functions whose subsystem-id property was rewritten after enumeration
#: (compatible keeps the subsystem read from config space; the property says 0x10).
REWRITTEN_SUBSYSTEM_IDS = {
    ("MacBookAir3.1__IOReg.txt.gz", "IGPU"),
    ("MacBookPro10.1__IOReg.txt.gz", "GFX0"),
    ("MacBookPro9.1__IOReg.txt.gz", "GFX0"),
    ("MacMini3.1__IOReg.txt.gz", "IGPU"),
    ("iMac13.2__IOReg.txt.gz", "GFX0"),
}


def test_compatible_pci_entries_follow_from_the_ids(nubs: tuple[Nub, ...]) -> None:
    """614/619 ``compatible`` lists begin with exactly pci_compatible's entries (what
    follows them is the ACPI name, on later OS releases); the five others are GPUs
    whose subsystem-id property no longer says what config space did."""
    wrong = set()
    with_acpi_names = 0
    for nub in nubs:
        compatible = nub.properties["compatible"]
        assert isinstance(compatible, bytes)
        assert compatible.endswith(b"\0")
        entries = compatible[:-1].decode().split("\0")
        expected = pci_compatible(*nub.ids)
        if entries[: len(expected)] != expected:
            wrong.add((nub.dump, nub.name))
        elif len(entries) > len(expected):
            assert not entries[len(expected)].startswith("pci"), (nub.dump, nub.name, entries)
            with_acpi_names += 1
    assert wrong == REWRITTEN_SUBSYSTEM_IDS
    assert with_acpi_names == 128


def test_every_location_follows_from_the_device_and_function_in_reg(
    nubs: tuple[Nub, ...],
) -> None:
    """619/619: the location is "%X[,%X]" of the device and function numbers in the
    first cell of ``reg`` (IEEE 1275 phys.hi: bus<<16 | device<<11 | function<<8)."""
    for nub in nubs:
        reg = nub.properties["reg"]
        assert isinstance(reg, bytes)
        phys_hi = int.from_bytes(reg[:4], "little")
        device, function = (phys_hi >> 11) & 0x1F, (phys_hi >> 8) & 0x7
        assert pci_location(device, function) == nub.location, (nub.dump, nub.name)
