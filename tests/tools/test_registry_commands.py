"""``kextlab ioreg``, ``kextlab ioclasscount`` and the registry ``kextlab boot`` prints.

The commands run Apple's tools against a booted machine's kernel or a real Mac's
dump (``--from-dump``); what they print is the tools' business (``test_ioreg.py``,
``test_ioclasscount.py``), so these tests check the wiring: flags as ioreg reads
them, bytes written as they are, and bad input refused with exit status 2.
"""

from __future__ import annotations

import gzip
import plistlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kextlab.firmware.devicetree import DeviceTreeNode
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.machine import Machine
from kextlab.userland.cli import main

DUMP = "MacBookPro12_1__IOReg.txt.gz"


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def assert_refused(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kextlab: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


#: The storage stack of one disk LUN below its IOSCSILogicalUnitNub, as on a Mac.
DISK_STACK = [
    "IOSCSIPeripheralDeviceType00",
    "IOBlockStorageServices",
    "IOBlockStorageDriver",
]
#: Drivers that, as Apple's, never register themselves (a real dump shows them so).
UNREGISTERED = {
    "IOSCSIPeripheralDeviceType00",
    "IOSCSIPeripheralDeviceType05",
    "SCSITaskUserClientIniter",
}


def test_boot_ends_with_the_service_plane() -> None:
    result = run("boot")
    assert result.exit_code == 0, result.output
    section = result.stdout.split("\nI/O Registry (ioreg):\n")[1].splitlines()
    assert section[0] == "+-o Root  <class IORegistryEntry, id 0x100000100, retain 3>"
    assert section[1].startswith("  +-o KextLab1,1  <class IOPlatformExpertDevice, id 0x100000101")
    names = [line.split("+-o ")[1].split("  <")[0] for line in section]
    # matching ran: the platform expert, its nubs, the interrupt controller's driver,
    # the host bridge driver, the PCI nubs, the HBA's driver (MarvellUMI.kext, loaded
    # at boot) with a target nub per SCSI ID and the storage stack of each LUN (two
    # disks, the CD-ROM, the tape left to user space), the PCI-to-PCI bridge driver and
    # the nub behind it
    assert names == [
        "Root",
        "KextLab1,1",
        "KextLabPlatformExpert",
        "interrupt-controller@0",
        "KextLabInterruptController",
        "pci@0",
        "KextLabPCIHostBridge",
        "pci1234,2@2",
        "pci1b4b,9143@4",
        "MarvellUMI",
        "IOSCSIParallelInterfaceDevice@0",
        "IOSCSITargetDevice",
        "IOSCSILogicalUnitNub@0",
        *DISK_STACK,
        "KEXTLAB DISK 0 Media",
        "IOMediaBSDClient",
        "IOSCSIParallelInterfaceDevice@1",
        "IOSCSITargetDevice",
        "IOSCSILogicalUnitNub@0",
        *DISK_STACK,
        "KEXTLAB DISK 1 Media",
        "IOMediaBSDClient",
        "IOSCSIParallelInterfaceDevice@2",
        "IOSCSITargetDevice",
        "IOSCSILogicalUnitNub@0",
        "IOSCSIPeripheralDeviceType05",
        "IOCompactDiscServices",
        "IOCDBlockStorageDriver",
        "KEXTLAB CD-ROM Media",
        "IOCDMediaBSDClient",
        "IOSCSIParallelInterfaceDevice@3",
        "IOSCSITargetDevice",
        "IOSCSILogicalUnitNub@0",
        "SCSITaskUserClientIniter",
        "pci-bridge@D",
        "IOPCI2PCIBridge",
        "pci1234,1@1",
        "IOResources",
    ]
    # the boot is over: nothing is busy, and every service registered but the drivers
    # that never do
    for name, line in zip(names[1:], section[1:], strict=True):
        state = "!registered, !matched" if name in UNREGISTERED else "registered, matched"
        assert f", {state}, active, busy 0" in line, line


def test_ioreg_takes_combined_flags_and_prints_the_device_tree_plane() -> None:
    result = run("ioreg", "-lw0", "-p", "IODeviceTree")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("+-o Root  <class IORegistryEntry")
    # the host bridge's node is the platform's nub for it: one entry, both planes
    assert any(line.startswith("    +-o pci@0  <class IOPlatformDevice") for line in lines)
    assert any(line.startswith("    | +-o pci-bridge@D  <class IOPCIDevice") for line in lines)
    assert '    |   "model" = <"KextLab1,1">' in lines


def test_the_archive_of_the_device_tree_plane_holds_the_firmware_tree() -> None:
    """``-a -l -p IODeviceTree`` parses with plistlib; node for node, its names and
    properties are the firmware's (the root, ``device-tree``, keeps its own name)."""
    result = run("ioreg", "-a", "-l", "-p", "IODeviceTree")
    assert result.exit_code == 0, result.output
    archive = plistlib.loads(result.stdout_bytes)
    assert archive["IORegistryEntryName"] == "Root"
    (top,) = archive["IORegistryEntryChildren"]
    assert top["IOObjectClass"] == "IOPlatformExpertDevice"
    wired: dict[str, list[tuple[str, str, str]]] = {}
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()

        def compare(node: DeviceTreeNode, entry: dict[str, object]) -> int:
            for key, value in node.properties.items():
                assert entry[key] == value, (node.path, key)
            entries = entry.get("IORegistryEntryChildren", [])
            assert isinstance(entries, list)
            # IOBlockStorageDriver wires each medium it publishes into the plane, below
            # the nearest provider there (IOBlockStorageDriver.cpp): no firmware nodes.
            media = [child for child in entries if str(child["IOObjectClass"]).endswith("Media")]
            if media:
                wired[node.path] = [
                    (
                        child["IORegistryEntryName"],
                        child["IOObjectClass"],
                        child["IORegistryEntryLocation"],
                    )
                    for child in media
                ]
            children = [child for child in entries if child not in media]
            assert [child["IORegistryEntryName"] for child in children] == [
                child.name for child in node.children
            ], node.path
            return 1 + sum(
                compare(child, item) for child, item in zip(node.children, children, strict=True)
            )

        assert top["IORegistryEntryName"] == "device-tree"
        assert compare(tree.root, top) == len(list(tree.nodes()))
    # the HBA's nub holds its disks' and its CD's media, unnamed, at "<target>:0"
    # (target "IOUnit", LUN 0), as Apple's driver wires them
    assert wired == {
        "/pci@0,f2000000/pci1b4b,9143@4": [
            ("", "IOMedia", "0:0"),
            ("", "IOMedia", "1:0"),
            ("", "IOCDMedia", "2:0"),
        ]
    }


def test_ioreg_is_deterministic_for_a_machine_and_seed() -> None:
    first = run("ioreg", "-l", "--seed", "4")
    assert first.exit_code == 0, first.output
    assert run("ioreg", "-l", "--seed", "4").stdout == first.stdout


def test_ioreg_from_a_dump_writes_the_dump_back(shared_data: Path) -> None:
    dump = shared_data / "ioreg" / DUMP
    result = run("ioreg", "--from-dump", str(dump), "-lw0")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == gzip.decompress(dump.read_bytes())


def test_ioreg_from_a_dump_searches_it(shared_data: Path) -> None:
    result = run("ioreg", "--from-dump", str(shared_data / "ioreg" / DUMP), "-rc", "IOPCIDevice")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    roots = [line for line in lines if line.startswith("+-o ")]
    assert roots
    assert all("<class IOPCIDevice," in line for line in roots)
    # A match inside a matched subtree is shown there, not as a root of its own; all
    # 26 IOPCIDevices of the MacBookPro12,1 (iokit-matching.md §5.1) are printed once.
    assert sum("<class IOPCIDevice," in line for line in lines) == 26
    assert len(roots) < 26


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["-z"], ["ioreg: unknown flag -z", "usage: ioreg [-abfilrtxy]"]),
        (["-w", "wide"], ["-w expects a width", "'wide'"]),
        (["-l", "IOService"], ["unexpected argument 'IOService'"]),
        (["-p", "IOUSB"], ["ioreg -p IOUSB", "no such plane", "IODeviceTree, IOPower, IOService"]),
    ],
)
def test_ioreg_refuses_bad_flags_and_planes(arguments: list[str], fragments: list[str]) -> None:
    assert_refused(run("ioreg", *arguments), *fragments)


def test_ioreg_from_a_dump_refuses_planes_the_dump_did_not_record(shared_data: Path) -> None:
    result = run("ioreg", "--from-dump", str(shared_data / "ioreg" / DUMP), "-p", "IODeviceTree")
    assert_refused(result, "no such plane", "(it has: ")


def test_ioreg_refuses_a_damaged_or_missing_dump(tmp_path: Path) -> None:
    damaged = tmp_path / "mac.txt"
    damaged.write_text("+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n  | {\n")
    assert_refused(run("ioreg", "--from-dump", str(damaged)), f"{damaged}:2: ", "truncated")
    missing = tmp_path / "none.txt"
    assert_refused(run("ioreg", "--from-dump", str(missing)), f"{missing}: dump file not found")


def test_a_dump_and_a_machine_cannot_both_be_given(tmp_path: Path) -> None:
    result = run("ioreg", "--from-dump", str(tmp_path / "x"), "--machine", "default")
    assert_refused(result, "--from-dump and --machine")


def test_ioclasscount_lists_every_class_of_the_booted_kernel() -> None:
    result = run("ioclasscount")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    names = [line.split(" = ")[0] for line in lines]
    assert names == sorted(names, key=str.lower)
    counts = dict(line.split(" = ") for line in lines)
    assert counts["KextLabPlatformExpert"] == "1"
    assert counts["IOResources"] == "1"


def test_ioclasscount_with_names_prints_one_line_in_their_order() -> None:
    result = run("ioclasscount", "IOResources", "NoSuchClass", "KextLabPlatformExpert")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "IOResources = 1, NoSuchClass = <no such class>, KextLabPlatformExpert = 1\n"
    )


def test_ioclasscount_reads_a_dumps_diagnostics(shared_data: Path) -> None:
    dump = str(shared_data / "ioreg" / "MacPro51__IOReg.txt.gz")
    result = run("ioclasscount", "--from-dump", dump, "IOPCIDevice", "AppleAHCIPort")
    assert result.exit_code == 0, result.output
    assert result.stdout == "IOPCIDevice = 65, AppleAHCIPort = 6\n"


def test_ioclasscount_refuses_a_dump_without_diagnostics(tmp_path: Path) -> None:
    bare = tmp_path / "bare.txt"
    bare.write_text("+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n")
    result = run("ioclasscount", "--from-dump", str(bare))
    assert_refused(result, f"the dump {bare}", "Error: Allocation information missing.")
