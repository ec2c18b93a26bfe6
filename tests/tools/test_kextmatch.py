"""``kextlab kextmatch``: its output (table and JSON) and its bad-input contract.

The command object runs in-process through click's ``CliRunner``.  Most tests read a
small ``ioreg -l`` dump written here (a Mac with an audio function, a bridge and an
Ethernet function behind it); one reads a real Mac's, one boots the default kextlab
machine, one reads a fake sysfs tree.
"""

from __future__ import annotations

import json
import os
import plistlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kextlab.userland.kextmatch_command import kextmatch

MINI_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 12>
  | {
  |   "OSKernelCPUType" = 16777223
  | }
  |
  +-o Mac-1,1  <class IOPlatformExpertDevice, id 0x100000110, retain 42>
    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert, id 0x100000111, retain 46>
      +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000138, retain 44>
        +-o AppleACPIPCI  <class AppleACPIPCI, id 0x1000001cf, retain 36>
          +-o HDEF@1B  <class IOPCIDevice, id 0x100000193, retain 11>
          | | {
          | |   "name" = <"pci8086,1e20">
          | |   "compatible" = <"pci8086,7270","pci8086,1e20","pciclass,040300">
          | |   "vendor-id" = <86800000>
          | |   "device-id" = <201e0000>
          | |   "subsystem-vendor-id" = <86800000>
          | |   "subsystem-id" = <70720000>
          | |   "class-code" = <00030400>
          | |   "revision-id" = <04000000>
          | |   "IOName" = "pci8086,1e20"
          | | }
          | |
          | +-o AppleHDAController  <class AppleHDAController, id 0x1000002e6, retain 5>
          |     {
          |       "IOProbeScore" = 1
          |       "CFBundleIdentifier" = "com.apple.driver.AppleHDAController"
          |       "IOProviderClass" = "IOPCIDevice"
          |       "IOClass" = "AppleHDAController"
          |       "IOMatchCategory" = "IODefaultMatchCategory"
          |       "IOPCIClassMatch" = "0x04020000&0xFFFE0000"
          |     }
          |
          +-o RP01@1C  <class IOPCIDevice, id 0x100000194, retain 13>
            | {
            |   "name" = "pci-bridge"
            |   "compatible" = <"pci8086,1e10","pciclass,060400">
            |   "vendor-id" = <86800000>
            |   "device-id" = <101e0000>
            |   "class-code" = <00040600>
            |   "revision-id" = <c4000000>
            |   "IOName" = "pci-bridge"
            | }
            |
            +-o IOPP  <class IOPCI2PCIBridge, id 0x1000001f4, retain 9>
              | {
              |   "IOProbeScore" = 18446744073709551516
              |   "CFBundleIdentifier" = "com.apple.iokit.IOPCIFamily"
              |   "IOProviderClass" = "IOPCIDevice"
              |   "IOClass" = "IOPCI2PCIBridge"
              |   "IOMatchCategory" = "IODefaultMatchCategory"
              |   "IONameMatch" = "pci-bridge"
              |   "IONameMatched" = "pci-bridge"
              | }
              |
              +-o ETH0@0  <class IOPCIDevice, id 0x100000195, retain 17>
                  {
                    "name" = "ethernet"
                    "compatible" = <"pci1043,8677","pci10ec,8168","pciclass,020000">
                    "vendor-id" = <ec100000>
                    "device-id" = <68810000>
                    "subsystem-vendor-id" = <43100000>
                    "subsystem-id" = <77860000>
                    "class-code" = <00000200>
                    "revision-id" = <15000000>
                    "IOName" = "ethernet"
                  }

"""

ACPI_PCI = "IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI"
HDEF = {
    "category": "IODefaultMatchCategory",
    "IOClass": "AppleHDAController",
    "IOProbeScore": 1,
    "IONameMatched": None,
    "CFBundleIdentifier": "com.apple.driver.AppleHDAController",
}
BRIDGE = {
    "category": "IODefaultMatchCategory",
    "IOClass": "IOPCI2PCIBridge",
    "IOProbeScore": -100,
    "IONameMatched": "pci-bridge",
    "CFBundleIdentifier": "com.apple.iokit.IOPCIFamily",
}
REALTEK = {
    "CFBundleIdentifier": "com.insanelymac.RealtekRTL8111",
    "IOClass": "RTL8111",
    "IOPCIMatch": "0x816810ec 0x81681186 0x250210ec 0x260010ec",
    "IOProbeScore": 1000,
    "IOProviderClass": "IOPCIDevice",
}


def run(*arguments: str | Path) -> Result:
    return CliRunner().invoke(kextmatch, [str(argument) for argument in arguments])


def assert_bad_input(result: Result, *fragments: str) -> str:
    """Status 2, nothing on stdout, one ``kextlab: error:`` line naming ``fragments``."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kextlab: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "Mac-1,1.txt"
    path.write_text(MINI_DUMP)
    return path


def write_kext(directory: Path, name: str, personalities: dict[str, dict[str, object]]) -> Path:
    bundle = directory / f"{name}.kext"
    (bundle / "Contents").mkdir(parents=True)
    info = {
        "CFBundleIdentifier": f"com.example.{name}",
        "CFBundleVersion": "1.0",
        "IOKitPersonalities": personalities,
    }
    with (bundle / "Contents" / "Info.plist").open("wb") as file:
        plistlib.dump(info, file)
    return bundle


def test_json_output_has_exactly_the_report_shape(dump: Path) -> None:
    """--json: arch, then every nub in registry order with its path, name, location and
    one entry per started driver (the dump's own, rebuilt)."""
    result = run("--ioreg", dump, "--catalogue-from-dump", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "arch": "x86_64",
        "nubs": [
            {"path": f"{ACPI_PCI}/HDEF@1B", "name": "HDEF", "location": "1B", "matches": [HDEF]},
            {"path": f"{ACPI_PCI}/RP01@1C", "name": "RP01", "location": "1C", "matches": [BRIDGE]},
            {
                "path": f"{ACPI_PCI}/RP01@1C/IOPP/ETH0@0",
                "name": "ETH0",
                "location": "0",
                "matches": [],
            },
        ],
    }


def test_table_shows_each_nub_path_and_its_drivers(dump: Path) -> None:
    """The table: a summary, a column header, each nub's path, then its drivers."""
    result = run("--ioreg", dump, "--catalogue-from-dump")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"dump {dump}: arch x86_64, 2 personalities, 3 PCI devices, 2 drivers started",
        "",
        "    CATEGORY                CLASS               SCORE  IONameMatched  CFBundleIdentifier",
        f"{ACPI_PCI}/HDEF@1B",
        "    IODefaultMatchCategory  AppleHDAController      1  -              "
        "com.apple.driver.AppleHDAController",
        f"{ACPI_PCI}/RP01@1C",
        "    IODefaultMatchCategory  IOPCI2PCIBridge      -100  pci-bridge     "
        "com.apple.iokit.IOPCIFamily",
        f"{ACPI_PCI}/RP01@1C/IOPP/ETH0@0",
        "    (no driver)",
    ]


def test_kexts_join_the_catalogue_in_the_order_given(dump: Path, tmp_path: Path) -> None:
    """--kexts adds a bundle's personalities (after the dump's); of two tying kexts the
    first given wins."""
    first = write_kext(
        tmp_path, "First", {"r": {**REALTEK, "CFBundleIdentifier": "com.example.First"}}
    )
    second = write_kext(
        tmp_path,
        "Second",
        {"r": {**REALTEK, "IOClass": "Other", "CFBundleIdentifier": "com.example.Second"}},
    )
    for kexts, winner in (((first, second), "RTL8111"), ((second, first), "Other")):
        arguments = [arg for kext in kexts for arg in ("--kexts", kext)]
        result = run("--ioreg", dump, *arguments, "--json")
        assert result.exit_code == 0, result.output
        ethernet = json.loads(result.stdout)["nubs"][2]
        assert [(m["IOClass"], m["IOProbeScore"]) for m in ethernet["matches"]] == [(winner, 1000)]


def test_a_folder_of_kexts_is_read_in_name_order(dump: Path, tmp_path: Path) -> None:
    """--kexts FOLDER: every .kext directly inside it."""
    folder = tmp_path / "Extensions"
    folder.mkdir()
    write_kext(folder, "Realtek", {"r": REALTEK})
    result = run("--ioreg", dump, "--kexts", folder, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nubs"][2]["matches"][0]["IOClass"] == "RTL8111"


def test_arch_arm64_adds_the_vendor_device_bonus(dump: Path, tmp_path: Path) -> None:
    """--arch replaces the dump's architecture: on arm64 RTL8111 scores 2000."""
    kext = write_kext(tmp_path, "Realtek", {"r": REALTEK})
    result = run("--ioreg", dump, "--kexts", kext, "--arch", "arm64", "--json")
    report = json.loads(result.stdout)
    assert report["arch"] == "arm64"
    assert report["nubs"][2]["matches"][0]["IOProbeScore"] == 2000


def test_kext_warnings_and_the_kernel_log_go_to_stderr(dump: Path, tmp_path: Path) -> None:
    """An unexpanded Xcode setting is a warning; a class that is no driver is logged."""
    kext = write_kext(
        tmp_path,
        "Odd",
        {
            "r": {**REALTEK, "IOClass": "OSString"},
            "x": {**REALTEK, "IOMatchCategory": "$(MY_CATEGORY)"},
        },
    )
    result = run("--ioreg", dump, "--kexts", kext, "--json")
    assert result.exit_code == 0, result.output
    assert [line.split(":")[:2] for line in result.stderr.splitlines()] == [
        ["kextlab", " warning"],
        ["kextlab", " kernel"],
    ]
    assert "MY_CATEGORY" in result.stderr
    assert 'Couldn\'t alloc class "OSString"' in result.stderr
    ethernet = json.loads(result.stdout)["nubs"][2]
    assert [m["category"] for m in ethernet["matches"]] == ["$(MY_CATEGORY)"]


def test_a_real_macs_dump(shared_data: Path) -> None:
    """MacBookPro9,2: its IGPU gets a framebuffer and an accelerator."""
    dump = shared_data / "ioreg" / "MacBookPro9.2__IOReg.txt.gz"
    result = run("--ioreg", dump, "--catalogue-from-dump", "--json")
    assert result.exit_code == 0, result.output
    (igpu,) = [nub for nub in json.loads(result.stdout)["nubs"] if nub["name"] == "IGPU"]
    assert igpu["path"] == f"{ACPI_PCI}/IGPU@2"
    assert [m["IOClass"] for m in igpu["matches"]] == [
        "Gen7Accelerator",
        "AppleIntelCapriController",
    ]


def test_the_default_source_is_the_default_machine() -> None:
    """No source: the default machine, booted; its bridge gets its bridge driver back and
    its HBA the driver its boot loaded, MarvellUMI."""
    result = run("--catalogue-from-dump")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "machine default: arch x86, 2 personalities, 4 PCI devices, 2 drivers started"
    )
    bridge = lines.index("IOService:/KextLabPlatformExpert/pci@0/KextLabPCIHostBridge/pci-bridge@D")
    assert lines[bridge + 1].split()[:3] == ["IODefaultMatchCategory", "IOPCI2PCIBridge", "-100"]
    hba = lines.index("IOService:/KextLabPlatformExpert/pci@0/KextLabPCIHostBridge/pci1b4b,9143@4")
    assert lines[hba + 1].split() == [
        "IODefaultMatchCategory",
        "MarvellUMI",
        "1000",  # the personality's IOProbeScore
        "-",
        "com.kextlab.driver.MarvellUMI",
    ]


def test_host_reads_sysfs(tmp_path: Path) -> None:
    """--host: the functions of /sys/bus/pci/devices (here a fake tree)."""
    listing = tmp_path / "bus" / "pci" / "devices"
    listing.mkdir(parents=True)
    real = tmp_path / "devices" / "pci0000:00" / "0000:00:1f.3"
    real.mkdir(parents=True)
    header = bytearray(64)
    header[0:4] = (0x1E20 << 16 | 0x8086).to_bytes(4, "little")
    header[8:12] = (0x040300 << 8 | 4).to_bytes(4, "little")
    (real / "config").write_bytes(bytes(header))
    os.symlink(os.path.relpath(real, listing), listing / "0000:00:1f.3")
    kext = write_kext(
        tmp_path,
        "Audio",
        {
            "a": {
                "IOClass": "Audio",
                "IOProviderClass": "IOPCIDevice",
                "IOPCIClassMatch": "0x04030000",
            }
        },
    )
    result = run("--host", "--sysfs-root", tmp_path, "--kexts", kext, "--arch", "x86_64", "--json")
    assert result.exit_code == 0, result.output
    (nub,) = json.loads(result.stdout)["nubs"]
    assert (nub["path"], [m["IOClass"] for m in nub["matches"]]) == (
        "IOService:/pci0000:00/pci8086,1e20@1F,3",
        ["Audio"],
    )


# -- bad input -----------------------------------------------------------------------------------


def test_a_missing_dump_is_bad_input(tmp_path: Path) -> None:
    assert_bad_input(run("--ioreg", tmp_path / "none.txt"), "--ioreg", "none.txt", "not found")


def test_a_damaged_dump_is_bad_input(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.txt"
    cut = MINI_DUMP.index('"device-id" = <68810000>')
    damaged.write_text(MINI_DUMP[: MINI_DUMP.rindex("\n", 0, cut) + 1])
    assert_bad_input(run("--ioreg", damaged), "--ioreg", "damaged.txt", "truncated")


def test_a_dump_without_pci_devices_is_bad_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(MINI_DUMP.split("    +-o AppleACPIPlatformExpert")[0])
    assert_bad_input(run("--ioreg", empty), "empty.txt", "no IOPCIDevice")


def test_a_bad_kext_is_bad_input(dump: Path, tmp_path: Path) -> None:
    """A bundle without Info.plist, and a personality libkern cannot hold (a <real>)."""
    broken = tmp_path / "Broken.kext"
    (broken / "Contents").mkdir(parents=True)
    assert_bad_input(
        run("--ioreg", dump, "--kexts", broken), "--kexts", "Broken.kext", "Info.plist"
    )
    real = write_kext(tmp_path, "Real", {"r": {**REALTEK, "IOProbeScore": 1.5}})
    assert_bad_input(run("--ioreg", dump, "--kexts", real), "--kexts", "Real.kext", "<real>")


def test_an_unknown_arch_is_bad_input(dump: Path) -> None:
    assert_bad_input(
        run("--ioreg", dump, "--arch", "sparc"), "--arch sparc", "ppc, i386, x86_64, arm64"
    )


def test_two_sources_are_bad_input(dump: Path) -> None:
    assert_bad_input(run("--ioreg", dump, "--machine", "default"), "--ioreg and --machine")
    assert_bad_input(run("--host", "--ioreg", dump), "--ioreg and --host")


def test_a_catalogue_from_a_host_is_bad_input() -> None:
    assert_bad_input(run("--host", "--catalogue-from-dump"), "--catalogue-from-dump")


def test_a_host_without_sysfs_is_bad_input(tmp_path: Path) -> None:
    assert_bad_input(
        run("--host", "--sysfs-root", tmp_path), "bus/pci/devices", "no such directory"
    )


def test_an_unknown_machine_is_bad_input() -> None:
    assert_bad_input(run("--machine", "no-such-machine"), "no-such-machine")
