"""Real-time cost of driver matching against catalogues of 100 to 10,000 personalities.

Run it with ``python3 dev.py python benchmarks/matching.py`` (``--quick`` for a smoke
run).  As in ``machine_core.py``, each figure is timed together with a *baseline*,
the least plain Python that takes the same decision, in the same run; compare the
ratios.

The rig
-------
The real matching engine on a kernel without hardware, built as the service layer's
tests build it (``tests/kernel/service/conftest.py``): a scheduler, a class registry,
an I/O Registry, ``ServiceGlobals``, a root service with ``IOResources``, and an
``IOPCIBridge`` attached under the root.  Its catalogue holds N personalities:

* 90% on provider classes a PCI nub does not inherit from (``IOACPIPlatformDevice``,
  ``IOMedia``, ``IOUSBDevice``...), spread in the proportions of the running
  drivers' ``IOProviderClass`` in the MacPro5,1, iMac15,1 and MacBookPro12,1 dumps
  of ``shared/data/ioreg``;
* 10% on the nub's own class and superclass: on ``IOPCIDevice`` with
  ``IOPCIMatch`` lists of other devices' IDs, ``IOPCIClassMatch`` of other classes
  or ``IONameMatch`` of other names, and on ``IOService`` with ``IONameMatch`` or
  ``IOPropertyMatch``; all fail but one, an ``IOPCIMatch`` on the nubs' vendor and
  device range, so exactly one driver starts on each nub.

The nubs are ``IOPCIDevice`` nubs of a Marvell SATA controller family (vendor
0x1b4b, devices 0x9100-0x913f, class 0x010601) under the bridge, each with its
``saved_config`` (``PCIConfigRegisters``) and the ``name``, ``compatible`` and
``IOName`` IOPCIConfigurator gives such a function, so register matching
(``IOPCIMatch``... through ``matchNubWithPropertyTable``) and name matching
(``compareNubName``) run as on a Mac.

The figures
-----------
match, N personalities
    Nubs per second registered and matched: M nubs attached to the bridge and
    ``registerService``-d, then the scheduler run until quiet (config threads,
    ``findDrivers``, passive matching of every candidate, probe and start of the
    winner).  Creating the nubs before the clock starts and terminating them after
    it stops are not timed.  Each round checks that every nub got exactly the one
    expected driver and, after termination, that every class's instance count is
    back where it was, so memory stays flat from round to round.  M differs by
    catalogue (``FULL_COUNTS``): a nub costs far more against the largest one.
match, 10,000 (10 on IOPCIDevice/IOService)
    The same against 10,000 personalities of which only 10 are on the nub's
    classes, as in the catalogue of 100: what the 9,990 on other provider classes
    cost a nub.  Indexing by provider class should make that nothing.

Baseline: for each nub, the candidates gathered from a dict of lists keyed by
provider class name (the nub's class, then its superclass), sorted by probe score,
each tested with its keys already parsed into ints and strings (``(value & mask) ==
(register & mask)`` per ``IOPCIMatch`` token, set membership or ``startswith`` for
names, dict lookups for ``IOPropertyMatch``), and the best of those that pass taken
as the driver.  That is the decision the engine takes, without its objects,
threads, string parsing (xnu reads ``IOPCIMatch`` with ``strtoul`` at every match,
and so does kextlab) or probe and start.

Below the table, how the cost of one nub grows from the smallest catalogue to the
largest, for kextlab and the baseline: first with the 10% share (so the candidates
on the nub's classes grow a hundredfold too), then for the control.  ``--quick``
divides the catalogue sizes by 10 as well as the counts by 20 (building a catalogue
of 10,000 takes seconds), so its figures are for 10 to 1,000 personalities.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness import Row, best_of, check, parse_arguments, print_header, report, scaled_counts

from kextlab.families.pci.bridge import IOPCIBridge
from kextlab.families.pci.device import IOPCIDevice
from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.families.pci.match_keys import PCIConfigRegisters
from kextlab.families.pci.names import pci_compatible, pci_nub_name
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry
from kextlab.kernel.platform.expert import IOPlatformExpertDevice, IOResources
from kextlab.kernel.registry.registry import IORegistry, kIOServicePlane
from kextlab.kernel.service.globals import ServiceGlobals
from kextlab.kernel.service.service import IOService
from kextlab.sim.scheduler import Scheduler

CATALOGUE_SIZES = (100, 1_000, 10_000)
#: Percent of a catalogue on the nub's class and superclass.
OWN_SHARE = 10
#: Nubs per timing, by catalogue (the control is the largest catalogue with the
#: smallest one's share on the nub's classes).  A nub costs ~1,000 times more
#: against the largest catalogue than against the smallest, hence the spread.
FULL_COUNTS = {"small": 1_000, "medium": 100, "large": 3, "control": 1_000}
QUICK_DIVISOR = 20
#: ``--quick`` also divides the catalogue sizes by this: building a catalogue of
#: 10,000 personalities alone takes seconds.
QUICK_SIZE_DIVISOR = 10
BENCH_KEXT = "org.kextlab.bench.matching"

#: Provider classes a PCI nub does not inherit from, weighted by how many running
#: drivers name them as IOProviderClass in three real Macs' ioreg dumps.
OTHER_PROVIDERS = (
    ("IOResources", 91),
    ("IOACPIPlatformDevice", 59),
    ("IOMedia", 31),
    ("IOFramebuffer", 20),
    ("IOUSBDevice", 19),
    ("IOThunderboltPort", 13),
    ("AppleMCCSControlFamily", 11),
    ("IOHIDInterface", 10),
    ("IOBlockStorageDevice", 8),
    ("IOPlatformDevice", 6),
    ("IOSerialStreamSync", 5),
    ("IOPlatformPluginDevice", 5),
    ("IOHDACodecFunction", 5),
    ("IOHDACodecDevice", 5),
    ("IOAudioEngine", 5),
    ("IOAHCIDevice", 5),
    ("AppleHSSPIInterface", 5),
    ("IOUSBInterface", 4),
    ("IOThunderboltLocalNode", 3),
    ("IODisplayConnect", 3),
    ("CoreStorageLogical", 3),
    ("AppleACPICPU", 3),
    ("IOWatchDogTimer", 2),
    ("IOSCSIProtocolServices", 2),
    ("IOSCSIPeripheralDeviceNub", 2),
    ("IOFireWireLocalNode", 2),
    ("IOBluetoothL2CAPChannel", 2),
    ("AppleSMBusDevice", 2),
    ("IOUSBHostDevice", 1),
    ("IOSCSILogicalUnitNub", 1),
    ("IOFireWireNub", 1),
    ("IOBDBlockStorageDevice", 1),
)

# The nubs: a Marvell SATA controller family (class 0x010601, AHCI).
NUB_VENDOR = 0x1B4B
NUB_FIRST_DEVICE = 0x9100
NUB_DEVICES = 64
NUB_CLASS = 0x010601
NUB_REVISION = 0x11
#: The one personality that matches every nub: vendor 0x1b4b, devices 0x9100-0x913f.
WINNER_MATCH = "0x91001b4b&0xffc0ffff"
WINNER_CLASS = "BenchSATADriver"

#: Vendors of the failing IOPCIMatch personalities (Intel, NVIDIA, AMD, Broadcom,
#: Atheros, Ricoh, TI, NEC, Apple, Realtek, VIA, JMicron).
OTHER_VENDORS = (
    0x8086, 0x10DE, 0x1002, 0x14E4, 0x168C, 0x1180, 0x104C, 0x1033, 0x106B, 0x10EC,
    0x1106, 0x197B,
)  # fmt: skip
#: Base classes of the failing IOPCIClassMatch personalities (network, display,
#: multimedia, bridge, serial bus), never the nubs' mass storage.
OTHER_CLASSES = (0x02, 0x03, 0x04, 0x06, 0x0C)

#: The nub's class and superclass, most derived first, as ``findDrivers`` walks them.
NUB_CLASSES = ("IOPCIDevice", "IOService")
PCI_OFFSETS = {"IOPCIMatch": (0x00, 0x2C), "IOPCIClassMatch": (0x08,)}
CLASS_MATCH_MASK = 0xFFFFFF00


#: A baseline test: ``("pci", (offsets, ((value, mask), ...)))``, ``("name", (exact
#: names, prefixes))``, ``("property", {key: value})`` or ``("never", None)``.
Test = tuple[str, Any]


class BenchSATADriver(IOService):
    """The driver that wins every nub: probe accepts, start succeeds."""


# -- the catalogue, as Python values and as the baseline's parsed tests ---------------------------


@dataclass
class Personality:
    """One personality: its keys for the engine, its tests for the baseline."""

    provider: str
    keys: dict[str, object]
    score: int
    driver: str
    #: The baseline's form of the keys: tests that must all pass.
    tests: tuple[Test, ...]


def _pci_tokens(text: str, default_mask: int) -> tuple[tuple[int, int], ...]:
    tokens = []
    for token in text.split():
        value, _, mask = token.partition("&")
        tokens.append((int(value, 16), int(mask, 16) if mask else default_mask))
    return tuple(tokens)


def _pci_personality(
    provider: str, key: str, text: str, driver: str, bundle: str, score: int
) -> Personality:
    default_mask = CLASS_MATCH_MASK if key == "IOPCIClassMatch" else 0xFFFF_FFFF
    keys: dict[str, object] = {
        "CFBundleIdentifier": bundle,
        "IOClass": driver,
        "IOProviderClass": provider,
        key: text,
    }
    if score:
        keys["IOProbeScore"] = score
    tokens = _pci_tokens(text, default_mask)
    return Personality(provider, keys, score, driver, (("pci", (PCI_OFFSETS[key], tokens)),))


def _other_pci_id(rng: random.Random) -> str:
    return f"0x{rng.randrange(0x1000, 0xFFFF):04x}{rng.choice(OTHER_VENDORS):04x}"


def _own_personality(index: int, rng: random.Random, bundle: str) -> Personality:
    """A personality on IOPCIDevice or IOService whose keys fail for every nub."""
    driver = f"ExamplePCIDriver{index}"
    score = rng.choice((0, 0, 0, 1000, 2000, 5000))
    kind = rng.choices(
        ("pci", "class", "pci-name", "service-name", "property"), (55, 10, 15, 10, 10)
    )[0]
    if kind == "pci":
        text = " ".join(_other_pci_id(rng) for _ in range(rng.randint(1, 4)))
        return _pci_personality("IOPCIDevice", "IOPCIMatch", text, driver, bundle, score)
    if kind == "class":
        base = rng.choice(OTHER_CLASSES)
        text = f"0x{base:02x}{rng.randrange(0x100):02x}0000&0xffff0000"
        return _pci_personality("IOPCIDevice", "IOPCIClassMatch", text, driver, bundle, score)
    keys: dict[str, object] = {"CFBundleIdentifier": bundle, "IOClass": driver}
    if score:
        keys["IOProbeScore"] = score
    if kind in ("pci-name", "service-name"):
        names = [
            f"pci{rng.choice(OTHER_VENDORS):x},{rng.randrange(0x1000, 0xFFFF):x}"
            for _ in range(rng.randint(1, 3))
        ]
        if rng.random() < 0.2:
            names[0] = f"pci{rng.choice(OTHER_VENDORS):x},*"
        provider = "IOPCIDevice" if kind == "pci-name" else "IOService"
        keys["IOProviderClass"] = provider
        keys["IONameMatch"] = names if len(names) > 1 else names[0]
        exact = frozenset(name for name in names if not name.endswith("*"))
        prefixes = tuple(name[:-1] for name in names if name.endswith("*"))
        return Personality(provider, keys, score, driver, (("name", (exact, prefixes)),))
    wanted = rng.choice(
        (
            {"IOName": f"pci{rng.choice(OTHER_VENDORS):x},{rng.randrange(0x1000, 0xFFFF):x}"},
            {"IOName": "display"},
            {"model": "ATY,RadeonX1900"},
            {"device_type": "pci-ide"},
        )
    )
    keys["IOProviderClass"] = "IOService"
    keys["IOPropertyMatch"] = wanted
    return Personality("IOService", keys, score, driver, (("property", wanted),))


def _other_personality(index: int, rng: random.Random, bundle: str) -> Personality:
    """A personality on a provider class PCI nubs do not inherit from."""
    providers, weights = zip(*OTHER_PROVIDERS, strict=True)
    provider = rng.choices(providers, weights)[0]
    driver = f"ExampleDriver{index}"
    keys: dict[str, object] = {
        "CFBundleIdentifier": bundle,
        "IOClass": driver,
        "IOProviderClass": provider,
    }
    if rng.random() < 0.5:
        keys["IONameMatch"] = f"ACPI{index:04X}"
    else:
        keys["IOPropertyMatch"] = {"IOUnit": index % 16}
    return Personality(provider, keys, 0, driver, (("never", None),))


def catalogue(size: int, own: int) -> list[Personality]:
    """``size`` personalities, ``own`` of them on IOPCIDevice/IOService (one wins)."""
    rng = random.Random(size * 7919 + own)
    personalities = [
        _pci_personality("IOPCIDevice", "IOPCIMatch", WINNER_MATCH, WINNER_CLASS, BENCH_KEXT, 0)
    ]
    for index in range(1, size):
        bundle = f"com.example.driver{index // 3}"
        if index < own:
            personalities.append(_own_personality(index, rng, bundle))
        else:
            personalities.append(_other_personality(index, rng, bundle))
    rng.shuffle(personalities)
    return personalities


# -- the nubs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NubSpec:
    """What the bridge would give one nub, as plain values."""

    device_number: int
    registers: PCIConfigRegisters
    properties: dict[str, object]
    names: tuple[str, ...]  # the name and compatible entries name matching reads


def nub_specs(count: int) -> list[NubSpec]:
    specs = []
    for index in range(count):
        device = NUB_FIRST_DEVICE + index % NUB_DEVICES
        registers = PCIConfigRegisters.from_ids(
            NUB_VENDOR, device, NUB_VENDOR, device, NUB_CLASS, NUB_REVISION
        )
        compatible = pci_compatible(NUB_VENDOR, device, NUB_VENDOR, device, NUB_CLASS)
        name = pci_nub_name(NUB_VENDOR, device, NUB_CLASS)
        properties: dict[str, object] = {
            "name": name.encode() + b"\0",
            "compatible": b"".join(entry.encode() + b"\0" for entry in compatible),
            "IOName": name,
        }
        specs.append(NubSpec(index % 32, registers, properties, (name, *compatible)))
    return specs


# -- the kernel -----------------------------------------------------------------------------------


class Rig:
    """A kernel without hardware, a catalogue, and a bridge to publish nubs under."""

    def __init__(self, personalities: list[Personality]) -> None:
        #: The kernel log: any line fails the run.
        self.errors: list[str] = []
        self.scheduler = Scheduler()
        self.classes = ClassRegistry()
        self.scheduler.extensions[KERNEL_EXTENSION] = self.classes
        with self.entered():
            self.registry = IORegistry(self.classes, "matching benchmark kernel")
            self.globals = ServiceGlobals(
                self.scheduler, self.classes, self.registry, arch="x86", log=self._log
            )
            for cls in IOPCIFAMILY.classes():
                self.classes.register(cls, kext=IOPCIFAMILY.bundle_id)
            self.classes.register(BenchSATADriver, kext=BENCH_KEXT)
            self.board = IOPlatformExpertDevice()
            self.board.attachToParent(self.registry.getRoot(), self.registry.plane(kIOServicePlane))
            resources = IOResources()
            self.globals.resources = resources
            resources.attach(self.board)
            self.board.registerService()
            resources.registerService()
            self.scheduler.run()
            self.bridge = IOPCIBridge()
            self.bridge.attach(self.board)
            tables = []
            for personality in personalities:
                table = from_python(personality.keys)
                assert isinstance(table, OSDictionary)
                tables.append(table)
            self.globals.catalogue.addDrivers(tables, doNubMatching=False)
            for table in tables:
                table.release()
            check(
                self.globals.catalogue.count() == len(personalities),
                "the catalogue refused personalities",
            )

    def _log(self, line: str) -> None:
        self.errors.append(line)

    @contextmanager
    def entered(self) -> Iterator[Rig]:
        with self.scheduler.entered():
            yield self

    def make_nubs(self, specs: list[NubSpec]) -> list[IOPCIDevice]:
        nubs = []
        for spec in specs:
            nub = IOPCIDevice()
            nub.bridge = self.bridge
            nub.bus_number = 1
            nub.device_number = spec.device_number
            nub.saved_config = spec.registers
            for key, value in spec.properties.items():
                nub.setProperty(key, value)
            nubs.append(nub)
        return nubs

    def rounds(self, specs: list[NubSpec]) -> Callable[[], float]:
        def run() -> float:
            with self.entered():
                before = self.classes.instance_counts()
                nubs = self.make_nubs(specs)
                bridge = self.bridge
                start = time.perf_counter()
                for nub in nubs:
                    nub.attach(bridge)
                    nub.registerService()
                    nub.release()
                self.scheduler.run()
                elapsed = time.perf_counter() - start
                for nub in nubs:
                    clients = nub.getClients()
                    check(
                        len(clients) == 1 and isinstance(clients[0], BenchSATADriver),
                        f"{nub.getName()} got {clients} instead of one {WINNER_CLASS}",
                    )
                for nub in nubs:
                    nub.terminate()
                self.scheduler.run()
                after = self.classes.instance_counts()
                leaked = {
                    name: count - before.get(name, 0)
                    for name, count in after.items()
                    if count != before.get(name, 0)
                }
                check(not leaked, f"objects outlived termination: {leaked}")
                check(not self.errors, f"the kernel logged {self.errors[:3]}")
            return elapsed

        return run

    def shutdown(self) -> None:
        with self.entered():
            self.globals.catalogue.free_all()
            self.scheduler.shutdown()


# -- the baseline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineNub:
    """A nub as the baseline sees it: registers by config offset, names, properties."""

    registers: dict[int, int]
    names: tuple[str, ...]
    properties: dict[str, object]


def _passes(tests: tuple[Test, ...], nub: BaselineNub) -> bool:
    for kind, payload in tests:
        if kind == "pci":
            offsets, tokens = payload
            for offset in offsets:
                register = nub.registers[offset]
                if any(value & mask == register & mask for value, mask in tokens):
                    break
            else:
                return False
        elif kind == "name":
            exact, prefixes = payload
            if not any(
                name in exact or any(name.startswith(prefix) for prefix in prefixes)
                for name in nub.names
            ):
                return False
        elif kind == "property":
            if any(nub.properties.get(key) != value for key, value in payload.items()):
                return False
        else:
            return False
    return True


def baseline(personalities: list[Personality], specs: list[NubSpec]) -> Callable[[], float]:
    index: dict[str, list[Personality]] = {}
    for personality in personalities:
        index.setdefault(personality.provider, []).append(personality)
    chain = NUB_CLASSES
    nubs = [
        BaselineNub(
            {
                0x00: spec.registers.vendor_device,
                0x08: spec.registers.class_revision,
                0x2C: spec.registers.subsystem,
            },
            spec.names,
            spec.properties,
        )
        for spec in specs
    ]

    def run() -> float:
        drivers: list[str] = []
        start = time.perf_counter()
        for nub in nubs:
            candidates = [personality for name in chain for personality in index.get(name, ())]
            candidates.sort(key=lambda personality: -personality.score)
            passed = [personality for personality in candidates if _passes(personality.tests, nub)]
            drivers.append(passed[0].driver if passed else "")
        elapsed = time.perf_counter() - start
        check(drivers == [WINNER_CLASS] * len(nubs), "the baseline chose other drivers")
        return elapsed

    return run


# -- the figures ----------------------------------------------------------------------------------


def bench_size(size: int, own: int, nubs: int, repeat: int, name: str) -> Row:
    """Nubs per second against ``size`` personalities, ``own`` on the nub's classes."""
    personalities = catalogue(size, own)
    check(
        sum(personality.provider in NUB_CLASSES for personality in personalities) == own,
        f"the catalogue of {size} has not {own} personalities on the nub's classes",
    )
    specs = nub_specs(nubs)
    rig = Rig(personalities)
    try:
        raw, engine = best_of(repeat, baseline(personalities, specs), rig.rounds(specs))
    finally:
        rig.shutdown()
    return Row(name, "nubs", nubs, engine, raw, "dict of lists by class, int tests")


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        argv,
        "Time driver matching against catalogues of 100 to 10,000 personalities.",
        QUICK_DIVISOR,
    )
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR)
    repeat = arguments.repeat
    sizes = [size // (QUICK_SIZE_DIVISOR if arguments.quick else 1) for size in CATALOGUE_SIZES]
    print_header("matching", arguments)
    started = time.perf_counter()
    rows: list[Row] = []
    candidates: list[int] = []
    for size, key in zip(sizes, ("small", "medium", "large"), strict=True):
        own = max(1, size * OWN_SHARE // 100)
        row = bench_size(size, own, counts[key], repeat, f"match, {size:,} personalities")
        rows.append(row)
        candidates.append(own)
    smallest, largest = sizes[0], sizes[-1]
    control = bench_size(
        largest,
        candidates[0],
        counts["control"],
        repeat,
        f"match, {largest:,} ({candidates[0]} on IOPCIDevice/IOService)",
    )
    rows.append(control)
    first, last = rows[0], rows[len(sizes) - 1]
    notes = [
        f"cost of a nub, {smallest:,} -> {largest:,} personalities "
        f"({candidates[0]:,} -> {candidates[-1]:,} of them on the nub's classes): "
        f"kextlab x{first.rate / last.rate:,.1f}, baseline "
        f"x{first.baseline_rate / last.baseline_rate:,.1f}",
        f"cost of a nub, {smallest:,} -> {largest:,} personalities "
        f"({candidates[0]:,} of them on the nub's classes in both): "
        f"kextlab x{first.rate / control.rate:,.2f}, "
        f"baseline x{first.baseline_rate / control.baseline_rate:,.2f}",
    ]
    report(rows, started, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
