"""Offline matching (``kextlab.families.pci.offline``) on small hand-built inputs.

Sources are built the way the real ones arrive: dump-like ``SnapshotNode`` trees
(``ioreg -l`` of an Intel Mac: Root, the platform device, AppleACPIPlatformExpert,
PCI0, AppleACPIPCI, the nubs), a fake sysfs tree under ``tmp_path``, and the registry
of a booted kextlab machine.  Kexts are in-memory personality sources (what
``copy_personalities`` reads of a bundle).  Each test checks one rule of the real
engine as the offline kernel runs it: categories, ties, the arm64 bonus, the
rebuilt catalogue, names, paths.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kextlab.families.pci.bridge import IOPCI2PCIBridge
from kextlab.families.pci.device import IOPCIDevice
from kextlab.families.pci.names import pci_compatible, pci_nub_name
from kextlab.families.pci.offline import (
    FAMILY_PROBE_SCORE_CHANGES,
    DriverMatch,
    MatchReport,
    OfflineMatchError,
    OfflineSource,
    arch_for_host_machine,
    match_offline,
    source_from_dump,
    source_from_registry,
    source_from_sysfs,
)
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.registry.snapshot import SnapshotNode
from kextlab.kernel.service.service import ScoreRef
from kextlab.machine.machine import Machine
from kextlab.userland.system import start_kernel

CPU_TYPE_X86_64 = 0x0100_0007
CPU_TYPE_ARM64 = 0x0100_000C
ACPI_PCI = "IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI"
_ids = itertools.count(0x100000110)


# -- building sources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kext:
    """A kext as ``copy_personalities`` reads it: identifier, file, personalities."""

    bundle_id: str
    personalities: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"<{self.bundle_id}>"


def le32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def node(
    name: str,
    class_name: str,
    location: str | None = None,
    properties: Sequence[tuple[str, object]] | None = None,
    children: Sequence[SnapshotNode] = (),
) -> SnapshotNode:
    return SnapshotNode(
        name,
        location,
        class_name,
        next(_ids),
        1,
        properties=list(properties) if properties is not None else None,
        children=list(children),
    )


def pci(
    name: str,
    location: str,
    vendor: int,
    device: int,
    class_code: int,
    *,
    subsystem: tuple[int, int] = (0, 0),
    drivers: Sequence[Mapping[str, object]] = (),
    children: Sequence[SnapshotNode] = (),
) -> SnapshotNode:
    """An IOPCIDevice as an Intel Mac's dump shows it (IDs as 4-byte little-endian data)."""
    compatible = pci_compatible(vendor, device, *subsystem, class_code)
    properties: list[tuple[str, object]] = [
        ("IOName", pci_nub_name(vendor, device, class_code)),
        ("name", pci_nub_name(vendor, device, class_code)),
        ("compatible", b"".join(entry.encode() + b"\0" for entry in compatible)),
        ("vendor-id", le32(vendor)),
        ("device-id", le32(device)),
        ("class-code", le32(class_code)),
        ("revision-id", le32(1)),
    ]
    if subsystem != (0, 0):
        properties += [
            ("subsystem-vendor-id", le32(subsystem[0])),
            ("subsystem-id", le32(subsystem[1])),
        ]
    driver_nodes = [
        node(str(table["IOClass"]), str(table["IOClass"]), None, table.items()) for table in drivers
    ]
    return node(name, "IOPCIDevice", location, properties, [*driver_nodes, *children])


def mac(*nubs: SnapshotNode, cpu_type: int | None = CPU_TYPE_X86_64) -> SnapshotNode:
    """Root -> Mac -> AppleACPIPlatformExpert -> PCI0@0 -> AppleACPIPCI -> nubs, plus an
    entry with no PCI device below it (which the source leaves out)."""
    root_properties = [("OSKernelCPUType", cpu_type)] if cpu_type is not None else []
    host = node("AppleACPIPCI", "AppleACPIPCI", None, [], nubs)
    expert = node(
        "AppleACPIPlatformExpert",
        "AppleACPIPlatformExpert",
        None,
        [],
        [
            node("IOPMrootDomain", "IOPMrootDomain", None, []),
            node("PCI0", "IOACPIPlatformDevice", "0", [], [host]),
        ],
    )
    platform = node("Mac-1,1", "IOPlatformExpertDevice", None, [], [expert])
    return node("Root", "IORegistryEntry", None, root_properties, [platform])


def personality(ioclass: str, **keys: object) -> dict[str, object]:
    return {"IOClass": ioclass, "IOProviderClass": "IOPCIDevice", **keys}


def matches(report: MatchReport, name: str) -> list[DriverMatch]:
    (found,) = [nub for nub in report.nubs if nub.name == name]
    return list(found.matches)


def classes(report: MatchReport, name: str) -> dict[str, tuple[str, int]]:
    return {match.category: (match.IOClass, match.IOProbeScore) for match in matches(report, name)}


HDEF = pci("HDEF", "1B", 0x8086, 0x1E20, 0x040300, subsystem=(0x8086, 0x7270))
IGPU = pci("IGPU", "2", 0x8086, 0x0166, 0x030000, subsystem=(0x106B, 0x00FA))


# -- matching rules --------------------------------------------------------------------------


def test_each_category_gets_its_own_winner_sorted_by_category() -> None:
    """Two categories on one nub give two drivers (framebuffer and accelerator)."""
    kext = Kext(
        "com.example.gfx",
        {
            "fb": personality(
                "Framebuffer",
                IOPCIMatch="0x01668086",
                IOMatchCategory="IOFramebuffer",
                IOProbeScore=80000,
            ),
            "accel": personality(
                "Accelerator",
                IOPCIMatch="0x01668086",
                IOMatchCategory="IOAccelerator",
                IOProbeScore=1000,
            ),
        },
    )
    report = match_offline(source_from_dump(mac(IGPU)), kexts=[kext])
    assert matches(report, "IGPU") == [
        DriverMatch("IOAccelerator", "Accelerator", 1000, None, "com.example.gfx"),
        DriverMatch("IOFramebuffer", "Framebuffer", 80000, None, "com.example.gfx"),
    ]


def test_the_highest_score_wins_a_category_and_the_loser_never_attaches() -> None:
    """One driver per category: the higher score wins; a personality whose keys do
    not match is not even a candidate."""
    kext = Kext(
        "com.example.audio",
        {
            "low": personality("LowAudio", IOPCIClassMatch="0x04030000", IOProbeScore=1),
            "high": personality("HighAudio", IOPCIMatch="0x1e208086", IOProbeScore=2),
            "other": personality("OtherAudio", IOPCIMatch="0x12348086", IOProbeScore=9),
        },
    )
    report = match_offline(source_from_dump(mac(HDEF)), kexts=[kext])
    assert classes(report, "HDEF") == {"IODefaultMatchCategory": ("HighAudio", 2)}


def test_equal_scores_go_to_the_personality_first_in_the_catalogue() -> None:
    """Ties keep catalogue order: within a kext its Info.plist order, across kexts the
    order given."""
    first = Kext(
        "com.example.first",
        {
            "b": personality("B", IOPCIMatch="0x1e208086"),
            "a": personality("A", IOPCIMatch="0x1e208086"),
        },
    )
    second = Kext("com.example.second", {"c": personality("C", IOPCIMatch="0x1e208086")})
    source = source_from_dump(mac(HDEF))
    assert classes(match_offline(source, kexts=[first, second]), "HDEF") == {
        "IODefaultMatchCategory": ("B", 0)
    }
    assert classes(match_offline(source, kexts=[second, first]), "HDEF") == {
        "IODefaultMatchCategory": ("C", 0)
    }


@pytest.mark.parametrize(
    ("arch", "winner"),
    [
        ("arm64", ("ByID", 1500)),
        ("x86_64", ("ByClass", 1000)),
        ("i386", ("ByClass", 1000)),
        ("ppc", ("ByClass", 1000)),
    ],
)
def test_the_vendor_device_bonus_is_added_on_arm64_only(arch: str, winner: tuple[str, int]) -> None:
    """IOPCIMatch on register 0x00 gets +1000 on arm64, which turns the match around."""
    kext = Kext(
        "com.example.bonus",
        {
            "id": personality("ByID", IOPCIMatch="0x1e208086", IOProbeScore=500),
            "class": personality("ByClass", IOPCIClassMatch="0x04030000", IOProbeScore=1000),
        },
    )
    report = match_offline(source_from_dump(mac(HDEF)), kexts=[kext], arch=arch)
    assert report.arch == arch
    assert classes(report, "HDEF") == {"IODefaultMatchCategory": winner}


def test_no_bonus_for_iopcimatch_on_the_subsystem_register_even_on_arm64() -> None:
    """An IOPCIMatch token that hits register 0x2C (subsystem) gets no bonus."""
    kext = Kext(
        "com.example.sub",
        {"sub": personality("BySubsystem", IOPCIMatch="0x72708086", IOProbeScore=5)},
    )
    report = match_offline(source_from_dump(mac(HDEF)), kexts=[kext], arch="arm64")
    assert classes(report, "HDEF") == {"IODefaultMatchCategory": ("BySubsystem", 5)}


def test_ionamematched_is_the_compatible_entry_that_matched() -> None:
    """IONameMatch wildcards go through name, compatible ...: the entry is recorded."""
    kext = Kext(
        "com.example.name", {"n": personality("Named", IONameMatch=["nothing", "pci8086,1e*"])}
    )
    report = match_offline(source_from_dump(mac(HDEF)), kexts=[kext])
    assert matches(report, "HDEF") == [
        DriverMatch("IODefaultMatchCategory", "Named", 0, "pci8086,1e20", "com.example.name")
    ]


def test_resources_a_personality_waits_for_are_taken_as_published() -> None:
    """start is assumed to succeed, so is its IOResourceMatch wait."""
    kext = Kext(
        "com.example.res",
        {"r": personality("Waiter", IOPCIMatch="0x1e208086", IOResourceMatch="IOBSD")},
    )
    report = match_offline(source_from_dump(mac(HDEF)), kexts=[kext])
    assert classes(report, "HDEF") == {"IODefaultMatchCategory": ("Waiter", 0)}


def test_a_personality_naming_iopci2pcibridge_runs_the_familys_probe() -> None:
    """IOPCIFamily's classes are registered: IOPCI2PCIBridge's probe takes 100 off."""
    bridge = pci("RP01", "1C", 0x8086, 0x1E10, 0x060400)
    kext = Kext(
        "com.apple.iokit.IOPCIFamily",
        {"i386": personality("IOPCI2PCIBridge", IOPCIClassMatch="0x06040000&0xffff0000")},
    )
    report = match_offline(source_from_dump(mac(bridge)), kexts=[kext])
    assert classes(report, "RP01") == {"IODefaultMatchCategory": ("IOPCI2PCIBridge", -100)}


def test_the_probe_change_undone_is_what_iopci2pcibridge_probe_does() -> None:
    """FAMILY_PROBE_SCORE_CHANGES agrees with the family's code."""
    score = ScoreRef(0)
    assert IOPCI2PCIBridge().probe(IOPCIDevice(), score) is not None
    assert {"IOPCI2PCIBridge": score.value} == FAMILY_PROBE_SCORE_CHANGES


# -- the catalogue rebuilt from the source -------------------------------------------------------

RECORDED_BRIDGE = {
    "IOProbeScore": (1 << 64) - 100,
    "CFBundleIdentifier": "com.apple.iokit.IOPCIFamily",
    "IOProviderClass": "IOPCIDevice",
    "IOClass": "IOPCI2PCIBridge",
    "IOMatchCategory": "IODefaultMatchCategory",
    "IOPCIClassMatch": "0x06040000&0xffff0000",
    "IOPowerManagement": {"CurrentPowerState": 2},
}


def test_catalogue_from_source_reproduces_the_recorded_drivers() -> None:
    """Every recorded driver comes back, with its recorded (post-probe) score:
    IOPCI2PCIBridge's -100 is undone before its probe takes it off again."""
    audio = {
        "IOClass": "AppleHDAController",
        "IOProviderClass": "IOPCIDevice",
        "IOPCIClassMatch": "0x04020000&0xFFFE0000",
        "IOProbeScore": 1,
        "CFBundleIdentifier": "com.apple.driver.AppleHDAController",
    }
    hdef = pci("HDEF", "1B", 0x8086, 0x1E20, 0x040300, drivers=[audio])
    rp01 = pci("RP01", "1C", 0x8086, 0x1E10, 0x060400, drivers=[RECORDED_BRIDGE], children=[])
    report = match_offline(source_from_dump(mac(hdef, rp01)), catalogue_from_source=True)
    assert report.personalities == 2
    assert matches(report, "HDEF") == [
        DriverMatch(
            "IODefaultMatchCategory",
            "AppleHDAController",
            1,
            None,
            "com.apple.driver.AppleHDAController",
        )
    ]
    assert matches(report, "RP01") == [
        DriverMatch(
            "IODefaultMatchCategory", "IOPCI2PCIBridge", -100, None, "com.apple.iokit.IOPCIFamily"
        )
    ]


def test_catalogue_from_source_keeps_exactly_equal_personalities_once() -> None:
    """Three bridges record the same driver table: one personality; a fourth whose
    table is a superset (it also name-matched) is a second one."""
    named = {**RECORDED_BRIDGE, "IONameMatch": "pci-bridge", "IONameMatched": "pci-bridge"}
    del named["IOPCIClassMatch"]
    bridges = [
        pci(f"RP0{n}", f"1C,{n}", 0x8086, 0x1E10 + n, 0x060400, drivers=[RECORDED_BRIDGE])
        for n in range(1, 4)
    ]
    bridges.append(pci("RP05", "1C,5", 0x8086, 0x1E18, 0x060400, drivers=[named]))
    report = match_offline(source_from_dump(mac(*bridges)), catalogue_from_source=True)
    assert report.personalities == 2
    assert all(
        classes(report, nub.name) == {"IODefaultMatchCategory": ("IOPCI2PCIBridge", -100)}
        for nub in report.nubs
    )


def test_a_recorded_arm64_bonus_is_taken_off_the_rebuilt_personality() -> None:
    """A dump from an arm64 kernel records IOPCIMatch winners with +1000 in their score;
    matched again on arm64 they get it once, on Intel not at all."""
    recorded = {
        "IOClass": "Audio",
        "IOProviderClass": "IOPCIDevice",
        "IOPCIMatch": "0x1e208086",
        "IOProbeScore": 1500,
    }
    hdef = pci("HDEF", "1B", 0x8086, 0x1E20, 0x040300, drivers=[recorded])
    source = source_from_dump(mac(hdef, cpu_type=CPU_TYPE_ARM64))
    assert source.arch == "arm64"
    assert classes(match_offline(source, catalogue_from_source=True), "HDEF") == {
        "IODefaultMatchCategory": ("Audio", 1500)
    }
    assert classes(match_offline(source, catalogue_from_source=True, arch="x86_64"), "HDEF") == {
        "IODefaultMatchCategory": ("Audio", 500)
    }


# -- what the source gives the nubs ----------------------------------------------------------


def test_nubs_keep_their_dump_path_name_location_and_registers() -> None:
    """The path is the Mac's; entries without PCI devices below are left out; missing
    subsystem IDs read as 0 (IOPCISecondaryMatch 0 matches)."""
    arpt = pci("ARPT", "0", 0x14E4, 0x4331, 0x028000)
    bridge_driver = node("IOPP", "IOPCI2PCIBridge", None, list(RECORDED_BRIDGE.items()), [arpt])
    rp01 = pci("RP01", "1C", 0x8086, 0x1E10, 0x060400, children=[bridge_driver])
    source = source_from_dump(mac(HDEF, rp01))
    assert [nub.name for nub in source.nubs()] == ["HDEF", "RP01", "ARPT"]
    kext = Kext(
        "com.example.wifi",
        {
            "w": personality(
                "WiFi", IOPCIPrimaryMatch="0x433114e4", IOPCISecondaryMatch="0x00000000"
            )
        },
    )
    report = match_offline(source, kexts=[kext])
    assert [(nub.path, nub.name, nub.location) for nub in report.nubs] == [
        (f"{ACPI_PCI}/HDEF@1B", "HDEF", "1B"),
        (f"{ACPI_PCI}/RP01@1C", "RP01", "1C"),
        (f"{ACPI_PCI}/RP01@1C/IOPP/ARPT@0", "ARPT", "0"),
    ]
    assert classes(report, "ARPT") == {"IODefaultMatchCategory": ("WiFi", 0)}
    assert classes(report, "RP01") == {}


def test_the_report_has_exactly_the_json_shape() -> None:
    """to_dict / to_json: arch, then nubs with path, name, location and matches."""
    kext = Kext("com.example.audio", {"a": personality("Audio", IOPCIMatch="0x1e208086")})
    report = match_offline(source_from_dump(mac(HDEF, IGPU)), kexts=[kext])
    assert report.to_dict() == {
        "arch": "x86_64",
        "nubs": [
            {
                "path": f"{ACPI_PCI}/HDEF@1B",
                "name": "HDEF",
                "location": "1B",
                "matches": [
                    {
                        "category": "IODefaultMatchCategory",
                        "IOClass": "Audio",
                        "IOProbeScore": 0,
                        "IONameMatched": None,
                        "CFBundleIdentifier": "com.example.audio",
                    }
                ],
            },
            {"path": f"{ACPI_PCI}/IGPU@2", "name": "IGPU", "location": "2", "matches": []},
        ],
    }
    assert report.to_json().startswith('{"arch": "x86_64", "nubs": [{"path": ')


def test_a_dump_that_does_not_record_its_cpu_type_needs_an_arch() -> None:
    """No OSKernelCPUType: the caller must say; an unknown architecture is refused."""
    source = source_from_dump(mac(HDEF, cpu_type=None), "dump nowhere.txt")
    with pytest.raises(OfflineMatchError, match=r"nowhere\.txt does not say which architecture"):
        match_offline(source)
    assert match_offline(source, arch="i386").arch == "i386"
    with pytest.raises(OfflineMatchError, match="unknown architecture 'sparc'"):
        match_offline(source, arch="sparc")


def test_a_dump_without_pci_devices_is_refused() -> None:
    root = node("Root", "IORegistryEntry", None, [], [node("Mac-1,1", "IOPlatformExpertDevice")])
    with pytest.raises(OfflineMatchError, match="no IOPCIDevice"):
        source_from_dump(root, "dump empty")


# -- a Linux host ------------------------------------------------------------------------------


def config_header(
    vendor: int, device: int, class_code: int, subsystem: tuple[int, int] = (0, 0)
) -> bytes:
    header = bytearray(64)
    header[0:4] = le32(device << 16 | vendor)
    header[8:12] = le32(class_code << 8 | 0x02)
    header[0x2C:0x30] = le32(subsystem[1] << 16 | subsystem[0])
    return bytes(header)


def fake_sysfs(
    root: Path, devices: Mapping[str, tuple[str, bytes, str | None]], *, links: bool = True
) -> Path:
    """``devices``: address -> (path below /sys/devices, config header, ACPI path)."""
    listing = root / "bus" / "pci" / "devices"
    listing.mkdir(parents=True)
    for address, (below, config, acpi) in devices.items():
        real = root / "devices" / below if links else listing / address
        real.mkdir(parents=True)
        (real / "config").write_bytes(config)
        if acpi is not None:
            (real / "firmware_node").mkdir()
            (real / "firmware_node" / "path").write_text(acpi + "\n")
        if links:
            os.symlink(os.path.relpath(real, listing), listing / address)
    return root


HOST_DEVICES = {
    "0000:00:00.0": ("pci0000:00/0000:00:00.0", config_header(0x8086, 0x1237, 0x060000), None),
    "0000:00:1c.0": (
        "pci0000:00/0000:00:1c.0",
        config_header(0x8086, 0xA110, 0x060400),
        "\\_SB_.PCI0.RP01",
    ),
    "0000:02:00.0": (
        "pci0000:00/0000:00:1c.0/0000:02:00.0",
        config_header(0x10EC, 0x8168, 0x020000, (0x1043, 0x8677)),
        None,
    ),
    "0000:00:14.3": (
        "pci0000:00/0000:00:14.3",
        config_header(0x8086, 0xA370, 0x028000),
        "\\_SB_.PCI0.CNVW",
    ),
}


def test_sysfs_functions_are_named_and_nested_as_the_configurator_does(tmp_path: Path) -> None:
    """Names (ACPI name, else the generic or pci<vendor>,<device> name), locations,
    compatible, and nesting behind the bridge each function is behind."""
    source = source_from_sysfs(fake_sysfs(tmp_path, HOST_DEVICES), "x86_64")
    assert source.description == f"host {tmp_path / 'bus' / 'pci' / 'devices'}"
    nubs = {nub.name: nub for nub in source.nubs()}
    assert list(nubs) == ["pci8086,1237", "CNVW", "RP01", "ethernet"]
    ethernet = dict(nubs["ethernet"].properties)
    assert ethernet["compatible"] == b"pci1043,8677\0pci10ec,8168\0pciclass,020000\0"
    assert ethernet["IOName"] == ethernet["name"] == "ethernet"
    assert ethernet["subsystem-id"] == le32(0x8677)
    assert dict(nubs["CNVW"].properties)["compatible"] == b"pci8086,a370\0pciclass,028000\0CNVW\0"
    assert "subsystem-id" not in dict(nubs["CNVW"].properties)
    kext = Kext(
        "com.example.rtl", {"r": personality("RTL8111", IOPCIMatch="0x816810ec", IOProbeScore=1000)}
    )
    report = match_offline(source, kexts=[kext])
    assert [nub.path for nub in report.nubs] == [
        "IOService:/pci0000:00/pci8086,1237@0",
        "IOService:/pci0000:00/CNVW@14,3",
        "IOService:/pci0000:00/RP01@1C",
        "IOService:/pci0000:00/RP01@1C/IOPP/ethernet@0",
    ]
    assert classes(report, "ethernet") == {"IODefaultMatchCategory": ("RTL8111", 1000)}


def test_sysfs_without_links_puts_each_bus_under_a_host_bridge(tmp_path: Path) -> None:
    """A copied sysfs (plain directories) has no nesting to read: one host bridge per bus."""
    source = source_from_sysfs(fake_sysfs(tmp_path, HOST_DEVICES, links=False), "x86_64")
    report = match_offline(source)
    assert [nub.path for nub in report.nubs] == [
        "IOService:/pci0000:00/pci8086,1237@0",
        "IOService:/pci0000:00/CNVW@14,3",
        "IOService:/pci0000:00/RP01@1C",
        "IOService:/pci0000:02/ethernet@0",
    ]


def test_sysfs_problems_are_named(tmp_path: Path) -> None:
    """No sysfs tree, a short config file, no drivers to rebuild a catalogue from."""
    with pytest.raises(OfflineMatchError, match="no such directory"):
        source_from_sysfs(tmp_path)
    fake_sysfs(tmp_path, {"0000:00:00.0": ("pci0000:00/0000:00:00.0", b"\x86\x80", None)})
    with pytest.raises(
        OfflineMatchError, match=r"0000:00:00\.0/config: cannot read a config header"
    ):
        source_from_sysfs(tmp_path)


def test_catalogue_from_source_is_refused_for_a_host(tmp_path: Path) -> None:
    source = source_from_sysfs(fake_sysfs(tmp_path, HOST_DEVICES), "x86_64")
    with pytest.raises(OfflineMatchError, match="records no drivers"):
        match_offline(source, catalogue_from_source=True)


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "x86_64"),
        ("AMD64", "x86_64"),
        ("i686", "i386"),
        ("aarch64", "arm64"),
        ("ppc64le", "ppc"),
        ("riscv64", None),
    ],
)
def test_host_machine_names_map_to_architectures(machine: str, arch: str | None) -> None:
    assert arch_for_host_machine(machine) == arch


# -- a booted kextlab machine ------------------------------------------------------------------


def test_a_booted_machines_nubs_keep_their_paths_and_drivers() -> None:
    """The default machine's nubs (read from its live registry) get the paths they have
    there, and the catalogue rebuilt from its drivers gives the bridge its bridge driver
    and the HBA its kext's driver."""
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = start_kernel(machine, tree)
        plane = kernel.registry.plane(kIOServicePlane)
        live = [
            entry.getPath(plane)
            for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
            if isinstance(entry, IOPCIDevice)
        ]
        source: OfflineSource = source_from_registry(
            kernel.registry, kernel.services.arch, "machine default"
        )
        report = match_offline(source, catalogue_from_source=True)
    assert report.arch == "x86"
    assert [nub.path for nub in report.nubs] == live
    assert len(live) == 4
    assert report.personalities == 2  # the bridge's and MarvellUMI's, the drivers started
    bridge = [nub for nub in report.nubs if nub.name == "pci-bridge"]
    assert [match.IOClass for nub in bridge for match in nub.matches] == ["IOPCI2PCIBridge"]
    hba = [nub for nub in report.nubs if nub.name == "pci1b4b,9143"]
    assert [(match.IOClass, match.CFBundleIdentifier) for nub in hba for match in nub.matches] == [
        ("MarvellUMI", "com.kextlab.driver.MarvellUMI")
    ]
    cards = [nub for nub in report.nubs if nub.name.startswith("pci1234,")]
    assert [nub.matches for nub in cards] == [(), ()]
