"""Offline matching: which drivers a set of PCI functions would get, with no hardware
and no driver code run (``kextlab kextmatch``).

Design
------
The question "which drivers would attach to this Mac's PCI devices, given these
kexts?" is answered by the real matching engine, not by a model of it: a kernel is
built without a machine (a ``Scheduler``, a ``ClassRegistry``, an ``IORegistry`` and
``ServiceGlobals``, as ``Kernel`` builds them), IOPCIFamily's classes are
registered, the PCI functions are published as ``IOPCIDevice`` nubs, and each is
registered.  From there everything is xnu's and IOPCIFamily's own code path:
``doServiceMatch``, ``findDrivers``, ``probeCandidates`` with its three passes
(``shared/spec/iokit-matching.md`` §1.3), ``IOPCIBridge::matchNubWithPropertyTable``
with the +1000 bonus only on arm64 (§2.2), ``IODTCompareNubName`` (§1.6).

What is rebuilt, and how
~~~~~~~~~~~~~~~~~~~~~~~~
A *source* (``OfflineSource``) describes the functions as a tree of ``SourceEntry``
records, read from one of three places:

* an ``ioreg -l`` dump of a real Mac (``source_from_dump``): every ``IOPCIDevice``
  with its properties, and the chain of entries above it;
* a booted kextlab kernel's registry (``source_from_registry``; the caller boots it,
  as this layer cannot reach ``userland``);
* a Linux host's ``/sys/bus/pci/devices/*/config`` (``source_from_sysfs``; the root
  is injectable, so tests use a fake tree).

Each nub keeps its registry name, location and properties (as libkern objects), and
its ``saved_config`` (the config dwords 0x00, 0x08 and 0x2C matching reads) comes from
its ``vendor-id``, ``device-id``, ``subsystem-vendor-id``, ``subsystem-id``,
``class-code`` and ``revision-id`` properties (4-byte little-endian data, missing
ones 0) for a dump, the live ``saved_config`` for a kextlab kernel, the config bytes
for Linux.  The parent of a nub in the source becomes an ``IOPCIBridge`` stand-in
(one per distinct parent: ``AppleACPIPCI``, a nub's ``IOPP``...), whose
``matchNubWithPropertyTable`` and ``compareNubName`` are the family's; every other
entry on the way up that is not itself a nub becomes a plain ``IOService`` with the
same name and location, under an ``IOPlatformExpertDevice`` attached to the registry
root, as ``Kernel.start`` attaches its platform device.  The source's drivers are not
rebuilt as entries: matching attaches its own.  So a nub's path in the ``IOService``
plane is the real Mac's path
(``IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/RP01@1C/IOPP/ARPT@0``).
What the rebuilt tree cannot give back: the classes of the entries above the nubs
(plain ``IOService``, so an ``IOParentMatch`` naming ``IOACPIPlatformDevice`` cannot
match) and their properties (only names and locations are kept), nubs that drivers
publish (an ``NVDAgl`` nub, an ``AtiDeviceControl``: no driver code runs), and on
Linux the ACPI entries (the path runs ``IOService:/pci0000:00/RP01@1C/IOPP/ethernet@0``).

Drivers: the catalogue holds, with ``catalogue_from_source``, one personality per
driver attached to a PCI nub in the source, in registry order, rebuilt from the keys
matching reads (``DRIVER_PERSONALITY_KEYS``), exactly equal ones once; then the
personalities of the ``kexts`` given, in that order, each kext's in its Info.plist
order.  IOPCIFamily's own personalities are not added: the catalogue is exactly what
the caller gives.  ``globals.allocate`` gives each ``IOClass`` the
registered class of that name (IOPCIFamily's, whose code is the kernel's) or a
*stand-in*: a class of that name whose ``probe`` and ``start`` are ``IOService``'s
and succeed.  Resources named by ``IOResourceMatch`` are taken as published.

Scores
~~~~~~
A driver's ``IOProbeScore`` in a dump is its *final* score: the personality's, plus
the family's bonus (``matchPropertyTable``), plus what its ``probe`` did (§1.9).  A
personality rebuilt from it gets the personality's own score back: the bonus is
undone when the recording kernel had one (arm64) and IOPCIMatch matched the nub's
register 0x00, and a probe's change is undone for the classes whose code the offline
kernel runs (``FAMILY_PROBE_SCORE_CHANGES``: ``IOPCI2PCIBridge::probe`` does
``*score -= 100``, so every running bridge shows -100, spec §5.4).  A stand-in's probe
changes nothing, so each driver ends with the score the dump recorded.

Threading rules: ``match_offline`` runs on the host, outside any machine; it builds
its own kernel, enters it while it works (objects are counted there), runs its
scheduler until matching is quiet (config threads are kernel threads of that
scheduler) and shuts it down before returning plain dataclasses.  The source readers
read files or another kernel's registry without blocking it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeVar

from kextlab.errors import KextlabError
from kextlab.families.pci.bridge import IOPCIBridge
from kextlab.families.pci.device import IOPCIDevice
from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.families.pci.match_keys import (
    KNOWN_ARCHITECTURES,
    PCI_MATCH_KEYS,
    PCIConfigRegisters,
    pci_match_nub,
    vendor_device_bonus_for_arch,
)
from kextlab.families.pci.names import pci_compatible, pci_location, pci_nub_name
from kextlab.kernel.kext.personalities import PersonalitySource, copy_personalities
from kextlab.kernel.libkern.collections import (
    OSArray,
    OSCollection,
    OSDictionary,
    OSOrderedSet,
    OSSet,
)
from kextlab.kernel.libkern.convert import PrintedObject
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry, OSObject, OSSerializer
from kextlab.kernel.libkern.values import OSBoolean, OSData, OSNumber, OSString
from kextlab.kernel.platform.expert import IOPlatformExpertDevice, IOResources
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIOServicePlane
from kextlab.kernel.registry.snapshot import SnapshotNode, from_dump_value
from kextlab.kernel.service.globals import ServiceGlobals
from kextlab.kernel.service.service import IOService
from kextlab.sim.scheduler import Scheduler

__all__ = [
    "CPU_TYPE_ARCHITECTURES",
    "DRIVER_PERSONALITY_KEYS",
    "FAMILY_PROBE_SCORE_CHANGES",
    "DriverMatch",
    "MatchReport",
    "NubMatches",
    "OfflineMatchError",
    "OfflineSource",
    "SourceEntry",
    "arch_for_host_machine",
    "match_offline",
    "source_from_dump",
    "source_from_registry",
    "source_from_sysfs",
]

#: ``OSKernelCPUType`` on a dump's root (``mach/machine.h`` ``CPU_TYPE_*``) to our
#: architecture names; PowerPC64 kernels ran the same IOPCIFamily as 32-bit ones.
CPU_TYPE_ARCHITECTURES: Final = {
    7: "i386",
    0x0100_0007: "x86_64",
    18: "ppc",
    0x0100_0012: "ppc",
    0x0100_000C: "arm64",
}

#: The keys a running driver's table keeps of its personality that matching reads.
DRIVER_PERSONALITY_KEYS: Final = (
    "IOClass",
    "IOProviderClass",
    "IOPCIMatch",
    "IOPCIPrimaryMatch",
    "IOPCISecondaryMatch",
    "IOPCIClassMatch",
    "IONameMatch",
    "IOPropertyMatch",
    "IOMatchCategory",
    "IOProbeScore",
    "CFBundleIdentifier",
)

#: What ``probe`` does to the score, for the driver classes whose code the offline
#: kernel runs (IOPCIFamily's): ``IOPCI2PCIBridge::probe`` (IOPCIBridge.cpp l.4814,
#: ``kextlab.families.pci.bridge``) subtracts 100.
FAMILY_PROBE_SCORE_CHANGES: Final = {"IOPCI2PCIBridge": -100}

#: The bundle identifier stand-in classes are registered under.
STAND_IN_KEXT: Final = "com.kextlab.kextmatch.stand-in"
#: The class of a PCI nub in a dump.
_NUB_CLASS: Final = "IOPCIDevice"
#: The registry name IOPCIFamily gives a PCI-to-PCI bridge's driver (``IOPP``).
_BRIDGE_DRIVER_NAME: Final = "IOPP"
_ID_PROPERTIES: Final = (
    "vendor-id",
    "device-id",
    "subsystem-vendor-id",
    "subsystem-id",
    "class-code",
    "revision-id",
)
_SYSFS_ADDRESS = re.compile(
    r"^(?P<domain>[0-9a-f]{4,}):(?P<bus>[0-9a-f]{2}):(?P<device>[0-1][0-9a-f])\.(?P<function>[0-7])$"
)
_SYSFS_HOST_BRIDGE = re.compile(r"^pci[0-9a-f]{4,}:[0-9a-f]{2}$")
_HOST_MACHINES: Final = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "arm64": "arm64",
    "aarch64": "arm64",
    "ppc": "ppc",
    "ppc64": "ppc",
    "ppc64le": "ppc",
}

Kind = Literal["platform", "service", "bridge", "nub"]
_Item = TypeVar("_Item")


class OfflineMatchError(KextlabError, ValueError):
    """A source or request offline matching cannot work with (names what and why)."""


# -- sources ---------------------------------------------------------------------------------------


@dataclass
class SourceEntry:
    """One entry of the tree to rebuild: a nub, the bridge above nubs, or an entry
    above those.  Property values are what a dump reader produces (``str``,
    ``bytes``, ``int``...) or libkern objects of another kernel (copied)."""

    name: str
    location: str | None
    kind: Kind
    properties: Sequence[tuple[str, object]] = ()
    children: list[SourceEntry] = field(default_factory=list)
    #: Nubs only: the config dwords matching reads, and the function's address.
    registers: PCIConfigRegisters | None = None
    bus_device_function: tuple[int, int, int] = (0, 0, 0)
    #: Nubs only: the property tables of the drivers attached to it in the source.
    drivers: Sequence[Sequence[tuple[str, object]]] = ()

    def walk(self) -> Iterator[SourceEntry]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class OfflineSource:
    """PCI functions to match: the tree down to them, and what recorded it."""

    #: The top entry (the platform device), whose descendants include every nub.
    tree: SourceEntry
    #: The architecture of the kernel that recorded the source, if it says.
    arch: str | None
    #: For messages: ``dump FILE``, ``machine NAME``, ``host /sys``.
    description: str
    #: Whether the source records attached drivers (a Linux host does not).
    records_drivers: bool = True

    def nubs(self) -> list[SourceEntry]:
        return [entry for entry in self.tree.walk() if entry.kind == "nub"]


def source_from_dump(root: SnapshotNode, description: str = "dump") -> OfflineSource:
    """The PCI nubs an ``ioreg -l`` dump recorded (``read_ioreg_dump_file``'s tree)."""
    properties = dict(root.properties or ())
    cpu_type = properties.get("OSKernelCPUType")
    arch = CPU_TYPE_ARCHITECTURES.get(cpu_type) if isinstance(cpu_type, int) else None
    seen: set[int] = set()

    def as_nub(node: SnapshotNode) -> SourceEntry | None:
        if node.class_name != _NUB_CLASS or node.entry_id in seen:
            return None
        seen.add(node.entry_id)
        return _dump_nub(node)

    for top in root.children:
        tree = _prune(top, "platform", lambda node: node.children, as_nub, _dump_label)
        if tree is not None:
            return OfflineSource(tree, arch, description)
    raise OfflineMatchError(f"{description}: no {_NUB_CLASS} entries in the IOService plane")


def _dump_label(node: SnapshotNode) -> tuple[str, str | None]:
    return node.name, node.location


def _prune(
    item: _Item,
    kind: Kind,
    children: Callable[[_Item], Iterable[_Item]],
    as_nub: Callable[[_Item], SourceEntry | None],
    label: Callable[[_Item], tuple[str, str | None]],
) -> SourceEntry | None:
    """The tree below ``item`` cut down to the paths that lead to nubs (None: no nub
    below).  ``as_nub`` gives a nub's entry (None for anything else, and for a nub
    already seen under another parent); an entry with nubs among its children
    becomes their bridge; the others keep only their ``label`` (name, location)."""
    entry = as_nub(item)
    if entry is None:
        entry = SourceEntry(*label(item), kind)
    for child in children(item):
        kept = _prune(child, "service", children, as_nub, label)
        if kept is not None:
            entry.children.append(kept)
    if entry.kind == "nub":
        return entry
    if kind != "platform" and any(child.kind == "nub" for child in entry.children):
        entry.kind = "bridge"
    return entry if entry.children else None


def _dump_nub(node: SnapshotNode) -> SourceEntry:
    properties = list(node.properties or ())
    values = dict(properties)
    ids = [_little_endian(values.get(key)) for key in _ID_PROPERTIES]
    vendor, device, subsystem_vendor, subsystem, class_code, revision = ids
    registers = PCIConfigRegisters(
        (device & 0xFFFF) << 16 | (vendor & 0xFFFF),
        (subsystem & 0xFFFF) << 16 | (subsystem_vendor & 0xFFFF),
        (class_code & 0xFF_FFFF) << 8 | (revision & 0xFF),
    )
    drivers = [
        list(child.properties or ())
        for child in node.children
        if child.class_name != _NUB_CLASS and isinstance(_get(child, "IOClass"), str)
    ]
    return SourceEntry(
        node.name,
        node.location,
        "nub",
        properties,
        registers=registers,
        bus_device_function=_bus_device_function(values.get("reg")),
        drivers=drivers,
    )


def _get(node: SnapshotNode, key: str) -> object:
    return dict(node.properties or ()).get(key)


def _little_endian(value: object) -> int:
    """An ID property: 4-byte little-endian data (missing or another type: 0)."""
    if isinstance(value, bytes):
        return int.from_bytes(value[:4], "little")
    return 0


def _bus_device_function(reg: object) -> tuple[int, int, int]:
    """From the first cell of ``reg`` (IEEE 1275 phys.hi: bus<<16 | device<<11 |
    function<<8), little-endian as Intel Macs store it."""
    if not isinstance(reg, bytes) or len(reg) < 4:
        return (0, 0, 0)
    phys_hi = int.from_bytes(reg[:4], "little")
    return ((phys_hi >> 16) & 0xFF, (phys_hi >> 11) & 0x1F, (phys_hi >> 8) & 0x7)


def source_from_registry(
    registry: IORegistry, arch: str, description: str = "machine"
) -> OfflineSource:
    """The ``IOPCIDevice`` nubs of a booted kextlab kernel's registry (read only)."""
    plane = registry.plane(kIOServicePlane)
    seen: set[int] = set()

    def as_nub(entry: IORegistryEntry) -> SourceEntry | None:
        if not isinstance(entry, IOPCIDevice) or id(entry) in seen:
            return None
        seen.add(id(entry))
        return SourceEntry(
            entry.getName(plane),
            entry.getLocation(plane),
            "nub",
            entry.getPropertyTable().items(),
            registers=entry.saved_config,
            bus_device_function=(entry.bus_number, entry.device_number, entry.function_number),
            drivers=[
                client.getPropertyTable().items()
                for client in entry.getChildren(plane)
                if not isinstance(client, IOPCIDevice)
                and isinstance(client.getProperty("IOClass"), OSString)
            ],
        )

    top = registry.getRoot().getChildEntry(plane)
    tree = None
    if top is not None:
        tree = _prune(
            top,
            "platform",
            lambda entry: entry.getChildren(plane),
            as_nub,
            lambda entry: (entry.getName(plane), entry.getLocation(plane)),
        )
    if tree is None:
        raise OfflineMatchError(f"{description}: no {_NUB_CLASS} in its registry")
    return OfflineSource(tree, arch, description)


def source_from_sysfs(
    root: str | os.PathLike[str] = "/sys", arch: str | None = None
) -> OfflineSource:
    """The PCI functions of a Linux host, from ``<root>/bus/pci/devices/*/config``.

    Each function is named as IOPCIConfigurator names it (its ACPI name, from
    ``firmware_node/path``, when the firmware gives one; else ``pci_nub_name``), with
    ``compatible``, ``name``, ``IOName``, the ID properties and ``pcidebug``.  A
    function sits behind an ``IOPP`` stand-in under the function of the bridge it is
    behind (the directory above it in ``/sys/devices``), or under a host bridge named
    as sysfs names it (``pci0000:00``).
    """
    devices = Path(root) / "bus" / "pci" / "devices"
    description = f"host {devices}"
    if not devices.is_dir():
        raise OfflineMatchError(f"{description}: no such directory (not a Linux host?)")
    found: dict[str, tuple[SourceEntry, str, str]] = {}
    for directory in sorted(devices.iterdir(), key=lambda path: path.name):
        address = _SYSFS_ADDRESS.match(directory.name)
        if address is None:
            continue
        config_path = directory / "config"
        try:
            registers = PCIConfigRegisters.from_config_header(config_path.read_bytes())
        except (OSError, ValueError) as error:
            raise OfflineMatchError(
                f"{config_path}: cannot read a config header ({error})"
            ) from None
        bus, device, function = (int(address[part], 16) for part in ("bus", "device", "function"))
        entry = _host_nub(directory, registers, bus, device, function)
        above = directory.resolve().parent.name
        own_host_bridge = f"pci{address['domain']}:{address['bus']}"
        found[directory.name] = (entry, above, own_host_bridge)
    platform = SourceEntry("Linux", None, "platform")
    bridges: dict[str, SourceEntry] = {}
    for entry, above, own_host_bridge in found.values():
        bridge = bridges.get(above)
        if bridge is None and above in found:
            bridge = bridges[above] = SourceEntry(_BRIDGE_DRIVER_NAME, None, "bridge")
            found[above][0].children.append(bridge)
        elif bridge is None:
            if _SYSFS_HOST_BRIDGE.match(above) is None:
                above = own_host_bridge
            bridge = bridges.get(above)
            if bridge is None:
                bridge = bridges[above] = SourceEntry(above, None, "bridge")
                platform.children.append(bridge)
        bridge.children.append(entry)
    if not platform.children:
        raise OfflineMatchError(f"{description}: no PCI functions")
    return OfflineSource(platform, arch, description, records_drivers=False)


def _host_nub(
    directory: Path, registers: PCIConfigRegisters, bus: int, device: int, function: int
) -> SourceEntry:
    acpi_name = _acpi_name(directory)
    vendor, device_id, class_code = registers.vendor, registers.device, registers.class_code
    compatible = pci_compatible(
        vendor,
        device_id,
        registers.subsystem_vendor,
        registers.subsystem_id,
        class_code,
        acpi_name,
    )
    generic = pci_nub_name(vendor, device_id, class_code)
    properties: list[tuple[str, object]] = [
        ("IOName", generic),
        ("name", generic),
        (
            "compatible",
            b"".join(entry.encode("utf-8", "surrogateescape") + b"\0" for entry in compatible),
        ),
        ("vendor-id", vendor.to_bytes(4, "little")),
        ("device-id", device_id.to_bytes(4, "little")),
        ("class-code", class_code.to_bytes(4, "little")),
        ("revision-id", registers.revision.to_bytes(4, "little")),
        ("pcidebug", f"{bus}:{device}:{function}"),
    ]
    if registers.subsystem:  # IOPCIConfigurator sets them only when 0x2C is not 0
        properties += [
            ("subsystem-vendor-id", registers.subsystem_vendor.to_bytes(4, "little")),
            ("subsystem-id", registers.subsystem_id.to_bytes(4, "little")),
        ]
    return SourceEntry(
        acpi_name or generic,
        pci_location(device, function),
        "nub",
        properties,
        registers=registers,
        bus_device_function=(bus, device, function),
    )


def _acpi_name(directory: Path) -> str | None:
    """The last segment of the function's ACPI path (``\\_SB_.PCI0.XHC_`` -> ``XHC``,
    trailing ``_`` padding dropped as macOS shows ACPI names), if the firmware has one."""
    try:
        path = (directory / "firmware_node" / "path").read_text().strip()
    except OSError:
        return None
    name = path.rsplit(".", 1)[-1].rstrip("_")
    return name or None


def arch_for_host_machine(machine: str) -> str | None:
    """Our architecture name for ``platform.machine()`` (None when we know none)."""
    return _HOST_MACHINES.get(machine.lower())


# -- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverMatch:
    """A driver matching started on a nub: one per category."""

    category: str
    IOClass: str
    #: The final score, as a signed 32-bit number.
    IOProbeScore: int
    IONameMatched: str | None
    CFBundleIdentifier: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "IOClass": self.IOClass,
            "IOProbeScore": self.IOProbeScore,
            "IONameMatched": self.IONameMatched,
            "CFBundleIdentifier": self.CFBundleIdentifier,
        }


@dataclass(frozen=True)
class NubMatches:
    """One nub, by its path in the rebuilt ``IOService`` plane, and its drivers."""

    path: str
    name: str
    location: str | None
    #: Sorted by category.
    matches: tuple[DriverMatch, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "name": self.name,
            "location": self.location,
            "matches": [match.to_dict() for match in self.matches],
        }


@dataclass(frozen=True)
class MatchReport:
    """What offline matching started, nub by nub in registry order."""

    arch: str
    nubs: tuple[NubMatches, ...]
    #: How many personalities the catalogue held (not part of the JSON form).
    personalities: int = 0
    #: The offline kernel's log (``Couldn't alloc class``...; not part of the JSON form).
    log: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """``{"arch": ..., "nubs": [{"path", "name", "location", "matches": [...]}]}``."""
        return {"arch": self.arch, "nubs": [nub.to_dict() for nub in self.nubs]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)


# -- the offline kernel ----------------------------------------------------------------------------


class OfflineDriver(IOService):
    """The base of stand-in drivers: ``IOService``'s ``probe`` and ``start``, which
    accept.  ``stand_in_class`` derives one class per ``IOClass`` name from it."""


class OfflineKernel:
    """A kernel without a machine, with IOPCIFamily, for one offline matching run."""

    def __init__(self, arch: str) -> None:
        self.scheduler = Scheduler()
        self.classes = ClassRegistry()
        self.scheduler.extensions[KERNEL_EXTENSION] = self.classes
        self.log_lines: list[str] = []
        #: The IOPCIBridge stand-ins, which are not drivers of the nubs they sit on.
        self._bridges: list[IOService] = []
        with self.entered():
            self.registry = IORegistry(self.classes, f"kextlab offline kernel ({arch})")
            self.globals = ServiceGlobals(
                self.scheduler, self.classes, self.registry, arch=arch, log=self.log_lines.append
            )
            for cls in IOPCIFAMILY.classes():
                self.classes.register(cls, kext=IOPCIFAMILY.bundle_id)
            self.classes.register(OfflineDriver, kext=STAND_IN_KEXT)
            self.globals.allocate = self.allocate
            self.resources = IOResources()
            self.globals.resources = self.resources

    @contextmanager
    def entered(self) -> Iterator[OfflineKernel]:
        with self.scheduler.entered():
            yield self

    def allocate(self, class_name: str) -> OSObject | None:
        """``globals.allocate``: the registered class, else a stand-in of that name."""
        instance = self.classes.allocClassWithName(class_name)
        if instance is None:
            self.classes.register(stand_in_class(class_name), kext=STAND_IN_KEXT)
            instance = self.classes.allocClassWithName(class_name)
        return instance

    def add_personalities(self, tables: Sequence[OSDictionary]) -> None:
        """Add to the catalogue (no matching yet); takes over the callers' references."""
        self.globals.catalogue.addDrivers(tables, doNubMatching=False)
        for table in tables:
            table.release()

    def build(self, tree: SourceEntry) -> list[IOPCIDevice]:
        """Rebuild ``tree`` under the registry root; the nubs in registry order."""
        plane = self.registry.plane(kIOServicePlane)
        top = IOPlatformExpertDevice()
        top.setName(tree.name)
        top.attachToParent(self.registry.getRoot(), plane)
        top.release()
        nubs: list[IOPCIDevice] = []
        for child in tree.children:
            self._build(child, top, nubs)
        return nubs

    def _build(self, entry: SourceEntry, provider: IOService, nubs: list[IOPCIDevice]) -> None:
        service: IOService
        if entry.kind == "nub":
            nub = IOPCIDevice()
            table = nub.getPropertyTable()
            for key, value in entry.properties:
                copied = _to_os_object(value)
                table.setObject(key, copied)
                copied.release()
            if entry.registers is not None:
                nub.saved_config = entry.registers
            nub.bus_number, nub.device_number, nub.function_number = entry.bus_device_function
            nub.bridge = provider if isinstance(provider, IOPCIBridge) else None
            nubs.append(nub)
            service = nub
        elif entry.kind == "bridge":
            service = IOPCIBridge()
            self._bridges.append(service)
        else:
            service = IOService()
        service.setName(entry.name)
        if entry.location is not None:
            service.setLocation(entry.location)
        service.attach(provider)
        service.release()  # the plane holds it
        for child in entry.children:
            self._build(child, service, nubs)

    def publish_wanted_resources(self, nubs: Sequence[IOPCIDevice]) -> None:
        """Publish every resource a personality or nub waits for (start is assumed
        to succeed, so its resources are taken as there)."""
        tables = [
            *self.globals.catalogue.personalities(),
            *(nub.getPropertyTable() for nub in nubs),
        ]
        for table in tables:
            wanted = table.getObject("IOResourceMatch")
            if wanted is None:
                continue
            items = (
                list(wanted.members())
                if isinstance(wanted, OSCollection) and not isinstance(wanted, OSDictionary)
                else [wanted]
            )
            for item in items:
                if isinstance(item, OSString) and self.resources.getProperty(item) is None:
                    self.resources.publish_resource(item.getCStringNoCopy())

    def match(self, nubs: Sequence[IOPCIDevice]) -> None:
        """Register every nub, in registry order, and run until matching is quiet."""
        for nub in nubs:
            nub.registerService()
        self.scheduler.run()

    def matches_of(self, nub: IOPCIDevice) -> NubMatches:
        plane = self.registry.plane(kIOServicePlane)
        found = []
        bridges = {id(bridge) for bridge in self._bridges}
        for client in nub.getClients():
            if id(client) in bridges or client.isInactive():
                continue
            category = client.getProperty("IOMatchCategory")
            if category is None:
                continue
            found.append(
                DriverMatch(
                    category=str(category),
                    IOClass=_text(client.getProperty("IOClass")) or client.getClassName(),
                    IOProbeScore=_signed32(client.getProperty("IOProbeScore")),
                    IONameMatched=_text(client.getProperty("IONameMatched")),
                    CFBundleIdentifier=_text(client.getProperty("CFBundleIdentifier")),
                )
            )
        found.sort(key=lambda match: match.category)
        return NubMatches(
            path=nub.getPath(plane) or "",
            name=nub.getName(plane),
            location=nub.getLocation(plane),
            matches=tuple(found),
        )

    def shutdown(self) -> None:
        self.scheduler.shutdown()


def stand_in_class(class_name: str) -> type[OfflineDriver]:
    """A stand-in driver class called ``class_name`` (probe and start accept)."""
    return type(class_name, (OfflineDriver,), {"class_name": class_name, "__module__": __name__})


def match_offline(
    source: OfflineSource,
    *,
    kexts: Sequence[PersonalitySource] = (),
    catalogue_from_source: bool = False,
    arch: str | None = None,
) -> MatchReport:
    """Match ``source``'s nubs against the catalogue: with ``catalogue_from_source``
    the personalities of the drivers the source recorded (in registry order), then
    each of ``kexts``' (in the order given, each in its Info.plist order).

    ``arch`` (default: the source's) decides IOPCIFamily's vendor/device bonus.
    Raises ``OfflineMatchError`` for a request that cannot be run, ``KextBundleError``
    for a personality libkern cannot hold, ``KernelPanic`` if matching code fails.
    """
    chosen = arch or source.arch
    if chosen is None:
        raise OfflineMatchError(
            f"{source.description} does not say which architecture its kernel was; give one"
        )
    if chosen not in KNOWN_ARCHITECTURES:
        known = ", ".join(sorted(KNOWN_ARCHITECTURES))
        raise OfflineMatchError(f"unknown architecture {chosen!r}; expected one of {known}")
    if catalogue_from_source and not source.records_drivers:
        raise OfflineMatchError(
            f"{source.description} records no drivers to rebuild a catalogue from"
        )
    kernel = OfflineKernel(chosen)
    try:
        with kernel.entered():
            tables: list[OSDictionary] = []
            if catalogue_from_source:
                tables.extend(_personalities_from_source(source))
            for kext in kexts:
                tables.extend(copy_personalities(kext))
            kernel.add_personalities(tables)
            nubs = kernel.build(source.tree)
            kernel.publish_wanted_resources(nubs)
            kernel.match(nubs)
            report = tuple(kernel.matches_of(nub) for nub in nubs)
            count = kernel.globals.catalogue.count()
        return MatchReport(chosen, report, count, tuple(kernel.log_lines))
    finally:
        kernel.shutdown()


def _personalities_from_source(source: OfflineSource) -> list[OSDictionary]:
    """One personality per driver the source recorded on a nub, exactly equal ones once."""
    recorded_bonus = source.arch is not None and vendor_device_bonus_for_arch(source.arch)
    kept: list[OSDictionary] = []
    for nub in source.nubs():
        for driver in nub.drivers:
            table = _personality_from_driver(driver, nub.registers, recorded_bonus)
            if table is None:
                continue
            if any(existing.isEqualTo(table) for existing in kept):
                table.release()
            else:
                kept.append(table)
    return kept


def _personality_from_driver(
    properties: Sequence[tuple[str, object]],
    registers: PCIConfigRegisters | None,
    recorded_bonus: bool,
) -> OSDictionary | None:
    recorded = dict(properties)
    table = OSDictionary()
    for key in DRIVER_PERSONALITY_KEYS:
        if key in recorded:
            value = _to_os_object(recorded[key])
            table.setObject(key, value)
            value.release()
    if not isinstance(table.getObject("IOClass"), OSString) or not isinstance(
        table.getObject("IOProviderClass"), OSString
    ):
        table.release()
        return None
    recorded_score = table.getObject("IOProbeScore")
    if isinstance(recorded_score, OSNumber):
        score = _signed32(recorded_score)
        score -= FAMILY_PROBE_SCORE_CHANGES.get(_text(table.getObject("IOClass")) or "", 0)
        if recorded_bonus and registers is not None:
            keys = {key: _text(table.getObject(key)) for key in PCI_MATCH_KEYS}
            result = pci_match_nub(keys, registers, vendor_device_bonus=True)
            score -= result.score_delta if result is not None else 0
        number = OSNumber(score, 32)
        table.setObject("IOProbeScore", number)
        number.release()
    return table


def _to_os_object(value: object) -> OSObject:
    """A new libkern object of this kernel for a dump value or another kernel's object."""
    if not isinstance(value, OSObject):
        return from_dump_value(value)
    if isinstance(value, OSBoolean):
        return value
    if isinstance(value, OSString):
        return OSString(value.getCStringNoCopy())
    if isinstance(value, OSNumber):
        return OSNumber(value.unsigned64BitValue(), value.numberOfBits())
    if isinstance(value, OSData):
        return OSData(value.getBytesNoCopy())
    if isinstance(value, PrintedObject):
        return PrintedObject(value.text)
    if isinstance(value, OSSerializer):
        produced = value.produce()
        try:
            return _to_os_object(produced)
        finally:
            produced.release()
    if isinstance(value, OSDictionary):
        dictionary = OSDictionary()
        for key, member in value.items():
            copied = _to_os_object(member)
            dictionary.setObject(key, copied)
            copied.release()
        return dictionary
    if isinstance(value, OSSet | OSArray | OSOrderedSet):
        collection: OSSet | OSArray = OSSet() if isinstance(value, OSSet) else OSArray()
        for member in value.members():
            copied = _to_os_object(member)
            collection.setObject(copied)
            copied.release()
        return collection
    return OSString(f"{value.getClassName()} is not serializable")


def _text(value: OSObject | None) -> str | None:
    return value.getCStringNoCopy() if isinstance(value, OSString) else None


def _signed32(value: OSObject | None) -> int:
    if not isinstance(value, OSNumber):
        return 0
    number = value.unsigned32BitValue()
    return number - (1 << 32) if number & 0x8000_0000 else number
