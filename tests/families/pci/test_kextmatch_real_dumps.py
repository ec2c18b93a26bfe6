"""``kextmatch`` against 22 real machines: spec ``shared/spec/iokit-matching.md`` §5.4.

For every dump in ``shared/data/ioreg/`` (21 genuine Macs' DarwinDumper ``ioreg -l``
and a Ventura hackintosh), the offline kernel publishes the dump's IOPCIDevices, its
catalogue is rebuilt from the drivers the dump shows attached to them
(``--catalogue-from-dump``), and the real matching engine runs with every probe and
start succeeding.  Per nub and IOMatchCategory, the driver it starts must be the one
the Mac had: same IOClass, IONameMatched, final IOProbeScore and CFBundleIdentifier.

Result: 541 (nub, category) pairs, 520 agree, and the 21 others are the documented
exceptions below, each with its reason; every pair outside them agrees.  Cases the
spec and the naming tests (``test_real_dumps.py``) flag that turn out to agree, and
why:

* the five GPUs whose ``subsystem-id`` property was rewritten after enumeration
  (MacBookAir3,1 IGPU, MacBookPro10,1 GFX0, MacBookPro9,1 GFX0, Macmini3,1 IGPU,
  iMac13,2 GFX0): no personality attached to them reads register 0x2C, so the wrong
  subsystem rebuilt from the property changes no match (three of them have an
  exception of their own, NVKernel, for another reason);
* MacPro4,1 LPCB and SAT1, whose ``device-id`` property was patched (3a18, 2681) after
  IOName was set from the real IDs: their drivers (AppleLPC by ``compatible``
  ``pci8086,3a18``, AppleAHCI by ``IOPCIPrimaryMatch 0x26818086``) matched the patched
  IDs on that Mac too, which the rebuilt registers hold.

The -100 on every IOPCI2PCIBridge is post-probe (§5.4 item 1): the rebuilt
personality gets 0 back and IOPCIFamily's own ``IOPCI2PCIBridge::probe`` takes the
100 off again (``FAMILY_PROBE_SCORE_CHANGES``).  Each dump is read and matched once
per test process.
"""

from __future__ import annotations

import functools
import plistlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from kextlab.families.pci.offline import (
    DriverMatch,
    MatchReport,
    OfflineSource,
    match_offline,
    source_from_dump,
)
from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.registry.snapshot import SnapshotNode
from kextlab.userland.tools.ioreg_dump import read_ioreg_dump_file

TOTAL_NUBS = 619
TOTAL_PAIRS = 541
AGREEING_PAIRS = 520
#: Machines with no exception at all (the 22 minus the 8 that appear below).
FULLY_AGREEING_MACHINES = 14
I386_KERNELS = {"MacPro4.1__IOReg.txt.gz", "iMac11.2__IOReg.txt.gz"}

LPSS_UART = (
    "AppleIntel16X50LPSS has IOPCIMatch 0x9c008086&0xff08ffff and score 1600: it passively "
    "matches most Broadwell PCH functions, and its probe (not run offline) rejects all but "
    "the UART, so the real winners (AppleHDAController, AppleLPC, IOPCI2PCIBridge...) lose"
)
LPSS_GSPI = (
    "AppleIntelLpssGspi's IOPCIMatch mask is as wide; its probe (not run offline) rejects "
    "every function but the GSPI controller"
)
PROBE_OR_START_FAILED = (
    "AppleHDAController's class match fits, but the Mac shows no driver here: its probe "
    "or start failed, which offline matching cannot know"
)
TIE = (
    "Intel82574L and AppleIntel8256X tie at score 0; the Mac's catalogue order (kextd's "
    "dictionary order) put Intel82574L first, the rebuilt catalogue follows registry order"
)
NVKERNEL = (
    "NVKernel matched on another provider, the NVDAgl nub the NVDA driver publishes "
    "(IOPropertyMatch nubType=NVDAgl, unmatched=yes), then attached itself to the PCI device"
)
AGDP = (
    "AppleGraphicsDevicePolicy's IOProviderClass is AppleGraphicsDeviceControl: it matched "
    "on the AMD driver's AtiDeviceControl and attached itself to the PCI device"
)

#: (dump, nub, category) -> (why, the IOClass offline matching starts there or None).
EXCEPTIONS: dict[tuple[str, str, str], tuple[str, str | None]] = {
    **{
        ("MacBook8_1__IOReg.txt.gz", nub, "IODefaultMatchCategory"): (
            LPSS_UART,
            "AppleIntel16X50LPSS",
        )
        for nub in (
            "XHC1@14",
            "SDMA@15",
            "I2C1@15,2",
            "SPI1@15,4",
            "HDEF@1B",
            "RP01@1C",
            "RP03@1C,2",
            "RP04@1C,3",
            "LPCB@1F",
            "SBUS@1F,3",
            "pci8086,9ca4@1F,6",
        )
    },
    **{
        ("MacBookPro12_1__IOReg.txt.gz", nub, "IODefaultMatchCategory"): (
            LPSS_GSPI,
            "AppleIntelLpssGspi",
        )
        for nub in ("HDEF@1B", "SBUS@1F,3", "pci8086,9ca4@1F,6")
    },
    ("MacPro3.1__IOReg.txt.gz", "PXS1@0,1", "IODefaultMatchCategory"): (
        PROBE_OR_START_FAILED,
        "AppleHDAController",
    ),
    ("MacPro4.1__IOReg.txt.gz", "HDEF@0,1", "IODefaultMatchCategory"): (
        PROBE_OR_START_FAILED,
        "AppleHDAController",
    ),
    ("MacPro4.1__IOReg.txt.gz", "GIGE@0", "IODefaultMatchCategory"): (TIE, "AppleIntel8256X"),
    ("MacBookAir3.1__IOReg.txt.gz", "IGPU@0", "IOAccelerator"): (NVKERNEL, None),
    ("MacBookPro9.1__IOReg.txt.gz", "GFX0@0", "IOAccelerator"): (NVKERNEL, None),
    ("iMac13.2__IOReg.txt.gz", "GFX0@0", "IOAccelerator"): (NVKERNEL, None),
    ("iMac151__IOReg.txt.gz", "GFX0@0", "AppleGraphicsDevicePolicy"): (AGDP, None),
}

#: RealtekRTL8111's personality (Mieze/RTL8111_driver_for_OS_X, spec §5.2).
RTL8111_PERSONALITY = {
    "CFBundleIdentifier": "com.insanelymac.RealtekRTL8111",
    "IOClass": "RTL8111",
    "IOPCIMatch": "0x816810ec 0x81681186 0x250210ec 0x260010ec",
    "IOProbeScore": 1000,
    "IOProviderClass": "IOPCIDevice",
}


@dataclass(frozen=True)
class Machine:
    """One dump: the tree, the source rebuilt from it, and the offline report."""

    dump: str
    root: SnapshotNode
    source: OfflineSource
    report: MatchReport

    def recorded(self) -> dict[str, dict[str, DriverMatch]]:
        """The drivers the Mac had, by nub path and category."""
        found: dict[str, dict[str, DriverMatch]] = {}

        def walk(node: SnapshotNode, path: str) -> None:
            for child in node.children:
                here = f"{path}/{child.name}" + (f"@{child.location}" if child.location else "")
                if child.class_name == "IOPCIDevice":
                    found[f"IOService:{here}"] = {
                        match.category: match
                        for match in map(attached_driver, child.children)
                        if match is not None
                    }
                walk(child, here)

        walk(self.root.children[0], "")
        return found

    def predicted(self) -> dict[str, dict[str, DriverMatch]]:
        return {
            nub.path: {match.category: match for match in nub.matches} for nub in self.report.nubs
        }


def attached_driver(node: SnapshotNode) -> DriverMatch | None:
    """What a driver's table in a dump says of its match (None: not a driver)."""
    table = dict(node.properties or ())
    driver = table.get("IOClass")
    if not isinstance(driver, str):
        return None
    score = table.get("IOProbeScore", 0)
    assert isinstance(score, int)
    score &= 0xFFFF_FFFF
    matched, bundle = table.get("IONameMatched"), table.get("CFBundleIdentifier")
    return DriverMatch(
        str(table.get("IOMatchCategory", "IODefaultMatchCategory")),
        driver,
        score - (1 << 32) if score & 0x8000_0000 else score,
        matched if isinstance(matched, str) else None,
        bundle if isinstance(bundle, str) else None,
    )


@functools.cache
def read_machine(path: Path) -> Machine:
    root = read_ioreg_dump_file(path)
    source = source_from_dump(root, f"dump {path.name}")
    return Machine(path.name, root, source, match_offline(source, catalogue_from_source=True))


@pytest.fixture
def machines(shared_data: Path) -> list[Machine]:
    """Every dump, read and matched once per process (skips without the real data)."""
    return [read_machine(path) for path in sorted((shared_data / "ioreg").glob("*.txt.gz"))]


@pytest.fixture
def checkaudio(shared_data: Path) -> Machine:
    return read_machine(shared_data / "ioreg" / "CheckAudio_ioreg.txt.gz")


def write_codeless_kext(directory: Path, name: str, info: dict[str, object]) -> Path:
    """A codeless ``<name>.kext`` holding ``info`` as its Info.plist."""
    bundle = directory / f"{name}.kext"
    (bundle / "Contents").mkdir(parents=True)
    with (bundle / "Contents" / "Info.plist").open("wb") as file:
        plistlib.dump(info, file, sort_keys=False)
    return bundle


def test_every_pci_nub_is_rebuilt_at_its_real_path(machines: list[Machine]) -> None:
    """619 nubs, in registry order, each at the path it has on its Mac, on the kernel
    architecture the dump records (two Macs ran i386 kernels)."""
    assert len(machines) == 22
    for machine in machines:
        assert [nub.path for nub in machine.report.nubs] == list(machine.recorded())
        assert machine.report.arch == ("i386" if machine.dump in I386_KERNELS else "x86_64")
        assert machine.report.log == ()
    assert sum(len(machine.report.nubs) for machine in machines) == TOTAL_NUBS


def test_catalogue_from_dump_reproduces_the_attached_drivers(machines: list[Machine]) -> None:
    """541 (nub, category) pairs: 520 agree exactly, the 21 others are EXCEPTIONS."""
    pairs = 0
    agreeing = 0
    disagreeing: dict[tuple[str, str, str], str | None] = {}
    for machine in machines:
        predicted = machine.predicted()
        for path, real in machine.recorded().items():
            for category in sorted(real.keys() | predicted[path].keys()):
                pairs += 1
                got = predicted[path].get(category)
                if real.get(category) == got:
                    agreeing += 1
                else:
                    key = (machine.dump, path.rsplit("/", 1)[1], category)
                    assert key not in disagreeing, key
                    disagreeing[key] = got.IOClass if got is not None else None
    assert disagreeing == {key: predicted for key, (_, predicted) in EXCEPTIONS.items()}
    assert (pairs, agreeing, len(EXCEPTIONS)) == (TOTAL_PAIRS, AGREEING_PAIRS, 21)
    assert pairs == agreeing + len(EXCEPTIONS)
    with_exceptions = {dump for dump, _, _ in EXCEPTIONS}
    assert len(machines) - len(with_exceptions) == FULLY_AGREEING_MACHINES


def test_every_running_bridge_shows_its_post_probe_score(machines: list[Machine]) -> None:
    """The 200 IOPCI2PCIBridges of the dumps all show -100, and so do the 197 offline
    matching starts (the other 3 lose to AppleIntel16X50LPSS on MacBook8,1)."""
    recorded = [
        match
        for machine in machines
        for drivers in machine.recorded().values()
        for match in drivers.values()
        if match.IOClass == "IOPCI2PCIBridge"
    ]
    predicted = [
        match
        for machine in machines
        for nub in machine.report.nubs
        for match in nub.matches
        if match.IOClass == "IOPCI2PCIBridge"
    ]
    assert (len(recorded), len(predicted)) == (200, 197)
    assert {match.IOProbeScore for match in [*recorded, *predicted]} == {-100}


def test_igpu_on_macbookpro9_2_gets_a_framebuffer_and_an_accelerator(shared_data: Path) -> None:
    """§5.4 item 2: two categories, two drivers on one nub."""
    machine = read_machine(shared_data / "ioreg" / "MacBookPro9.2__IOReg.txt.gz")
    (igpu,) = [nub for nub in machine.report.nubs if nub.name == "IGPU"]
    assert [(m.category, m.IOClass, m.IOProbeScore) for m in igpu.matches] == [
        ("IOAccelerator", "Gen7Accelerator", 1000),
        ("IOFramebuffer", "AppleIntelCapriController", 80000),
    ]


def test_iondrv_personality_1_beats_3_on_checkaudios_igpu(
    checkaudio: Machine, shared_data: Path, tmp_path: Path
) -> None:
    """§5.4 item 2: with Apple's IONDRVSupport plist alone, IGPU gets IONDRVFramebuffer by
    name ("display", 20000), not by class (personality "3", score 0)."""
    info = plistlib.loads((shared_data / "plists" / "Info-IONDRVSupport.plist").read_bytes())
    del info["CFBundleExecutable"]  # codeless here: no driver code runs offline
    bundle = KextBundle.read(
        write_codeless_kext(tmp_path, "IONDRVSupport", info),
        variables={"CURRENT_PROJECT_VERSION": "600"},
    )
    report = match_offline(checkaudio.source, kexts=[bundle])
    started = {nub.name: nub.matches for nub in report.nubs if nub.matches}
    assert started == {
        "IGPU": (
            DriverMatch(
                "IOFramebuffer",
                "IONDRVFramebuffer",
                20000,
                "display",
                "com.apple.iokit.IONDRVSupport",
            ),
        )
    }


def test_realtek_8111_attaches_to_checkaudios_pxsx_only_with_its_kext(
    checkaudio: Machine, tmp_path: Path
) -> None:
    """§5.4 item 4: PXSX@0 (10ec:8168) has no driver with the dump's catalogue; adding a
    codeless kext with RealtekRTL8111's personality makes RTL8111 attach (score 1000, no
    bonus on x86_64)."""
    (pxsx,) = [nub for nub in checkaudio.report.nubs if nub.name == "PXSX"]
    assert pxsx.location == "0"
    assert pxsx.matches == ()
    bundle = KextBundle.read(
        write_codeless_kext(
            tmp_path,
            "RealtekRTL8111",
            {
                "CFBundleIdentifier": "com.insanelymac.RealtekRTL8111",
                "CFBundleVersion": "2.4.2",
                "CFBundlePackageType": "KEXT",
                "IOKitPersonalities": {"RTL8111 PCIe Adapter": RTL8111_PERSONALITY},
            },
        )
    )
    report = match_offline(checkaudio.source, kexts=[bundle], catalogue_from_source=True)
    assert report.personalities == checkaudio.report.personalities + 1
    by_path = {nub.path: nub.matches for nub in report.nubs}
    assert by_path[pxsx.path] == (
        DriverMatch(
            "IODefaultMatchCategory", "RTL8111", 1000, None, "com.insanelymac.RealtekRTL8111"
        ),
    )
    del by_path[pxsx.path]
    assert by_path == {nub.path: nub.matches for nub in checkaudio.report.nubs if nub is not pxsx}
