"""Boot-set kexts: an extensions folder's Local-Root drivers load when their hardware is there."""

from __future__ import annotations

import plistlib
from pathlib import Path

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.machine import Machine
from kextlab.userland.system import start_kernel

DRIVER = """
from kextlab.kernel.service.service import IOService


class {name}(IOService):
    def start(self, provider):
        return super().start(provider)
"""


def write_kext(folder: Path, name: str, pci_match: str, required: str | None) -> None:
    contents = folder / f"{name}.kext" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    info: dict[str, object] = {
        "CFBundleIdentifier": f"com.example.{name}",
        "CFBundleExecutable": name,
        "CFBundleVersion": "1.0.0",
        "CFBundlePackageType": "KEXT",
        "OSBundleLibraries": {
            "com.apple.iokit.IOPCIFamily": "1.0.0b1",
            "com.apple.kpi.iokit": "8.0",
        },
        "IOKitPersonalities": {
            name: {
                "IOClass": name,
                "IOProviderClass": "IOPCIDevice",
                "IOPCIMatch": pci_match,
            }
        },
    }
    if required is not None:
        info["OSBundleRequired"] = required
    (contents / "Info.plist").write_bytes(plistlib.dumps(info))
    (contents / "MacOS" / f"{name}.py").write_text(DRIVER.format(name=name), encoding="utf-8")


def loaded_ids(kernel: Kernel) -> list[str]:
    return [
        kext.bundle_id
        for kext in kernel.kexts.loaded()
        if kext.bundle_id.startswith("com.example.")
    ]


def test_a_boot_set_kext_loads_only_when_a_personality_matches_hardware(tmp_path: Path) -> None:
    """Of three kexts, only the Local-Root one whose personality matches the test cards
    loads at boot, and its driver is attached to both cards; one for absent hardware
    and one outside the boot set stay on disk."""
    write_kext(tmp_path, "BootDriver", "0x4b4c1234", "Local-Root")
    write_kext(tmp_path, "AbsentHardware", "0xdeadbeef", "Local-Root")
    write_kext(tmp_path, "NotForBoot", "0x4b4c1234", None)
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = start_kernel(machine, tree, extensions=[tmp_path])
        assert loaded_ids(kernel) == ["com.example.BootDriver"]
        drivers = [
            entry
            for entry in kernel.registry.getRoot().iterate(
                kernel.registry.getPlane("IOService"),
                recursive=True,  # type: ignore[arg-type]
            )
            if type(entry).__name__ == "BootDriver"
        ]
        assert len(drivers) == 2


def test_without_extensions_folders_only_the_families_load(tmp_path: Path) -> None:
    """An empty extensions list boots with the built-in families alone."""
    write_kext(tmp_path, "BootDriver", "0x4b4c1234", "Local-Root")
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = start_kernel(machine, tree, extensions=[])
        assert loaded_ids(kernel) == []


def test_a_damaged_kext_in_the_folder_is_skipped_with_a_log_line(tmp_path: Path) -> None:
    """A bundle without an Info.plist does not stop the boot: the others load, and the
    kernel's log names the damaged one."""
    (tmp_path / "Broken.kext" / "Contents").mkdir(parents=True)
    write_kext(tmp_path, "BootDriver", "0x4b4c1234", "Local-Root")
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = start_kernel(machine, tree, extensions=[tmp_path])
        assert loaded_ids(kernel) == ["com.example.BootDriver"]
        lines = [record.message for record in kernel.message_buffer.records()]
        assert any("kextd: skipping Broken.kext" in line and "Info.plist" in line for line in lines)


def test_a_boot_kext_that_cannot_load_is_logged_and_the_boot_goes_on(tmp_path: Path) -> None:
    """A kext asking for a library version nobody has is left out with a log line
    naming it; the machine boots."""
    write_kext(tmp_path, "BootDriver", "0x4b4c1234", "Local-Root")
    info_plist = tmp_path / "BootDriver.kext" / "Contents" / "Info.plist"
    info = plistlib.loads(info_plist.read_bytes())
    info["OSBundleLibraries"]["com.apple.iokit.IOPCIFamily"] = "99.0"
    info_plist.write_bytes(plistlib.dumps(info))
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = start_kernel(machine, tree, extensions=[tmp_path])
        assert loaded_ids(kernel) == []
        lines = [record.message for record in kernel.message_buffer.records()]
        assert any("kextd: cannot load BootDriver.kext" in line for line in lines)
