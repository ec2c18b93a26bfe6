"""The kernel's own library kexts: identifiers, versions, and real plists resolving against them."""

from __future__ import annotations

import plistlib
import shutil
from pathlib import Path

import pytest

from kextlab.families.pci.kext import IOPCIFAMILY
from kextlab.kernel.kext.builtin import KERNEL_VERSION, builtin_libraries
from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.dependencies import KextIndex, resolve_dependencies
from kextlab.kernel.kext.errors import KextDependencyError
from kextlab.kernel.kext.version import parse_version
from tests.kernel.kext.conftest import system_libraries


def test_every_builtin_library_is_listed_once_as_a_kernel_component() -> None:
    """The KPIs, the old kernel libraries and IOPCIFamily, no executable to import."""
    libraries = system_libraries()
    identifiers = [library.bundle_id for library in libraries]
    assert identifiers == [
        "com.apple.kpi.bsd",
        "com.apple.kpi.dsep",
        "com.apple.kpi.iokit",
        "com.apple.kpi.libkern",
        "com.apple.kpi.mach",
        "com.apple.kpi.private",
        "com.apple.kpi.unsupported",
        "com.apple.kernel.iokit",
        "com.apple.kernel.libkern",
        "com.apple.iokit.IOPCIFamily",
    ]
    for library in libraries:
        assert library.is_kernel_component
        assert not library.declares_executable
        assert library.libraries == {}
        assert library.required == "Root"


@pytest.mark.parametrize(
    ("bundle_id", "version", "compatible"),
    [
        ("com.apple.kpi.iokit", KERNEL_VERSION, "7.0"),
        ("com.apple.kpi.libkern", KERNEL_VERSION, "8.0.0d0"),
        ("com.apple.kpi.mach", KERNEL_VERSION, "8.0.0d0"),
        ("com.apple.kpi.bsd", KERNEL_VERSION, "8.0.0b1"),
        ("com.apple.kpi.dsep", KERNEL_VERSION, "8.0.0b1"),
        ("com.apple.kpi.unsupported", KERNEL_VERSION, "8.0.0b1"),
        ("com.apple.kernel.iokit", "7.9.9", "1.0.0b1"),
        ("com.apple.kernel.libkern", "7.9.9", "1.0.0b1"),
        ("com.apple.iokit.IOPCIFamily", "2.9", "1.0.0b1"),
    ],
)
def test_versions_follow_apples_plists(bundle_id: str, version: str, compatible: str) -> None:
    """KPIs at the Darwin version 19.0.0 with System.kext's compatible versions; 7.9.9 for the
    old libraries; IOPCIFamily as its Info.plist says."""
    (library,) = [entry for entry in system_libraries() if entry.bundle_id == bundle_id]
    assert library.version == parse_version(version)
    assert library.compatible_version == parse_version(compatible)
    assert library.source.endswith(f"{bundle_id}>")


def test_each_call_builds_new_objects() -> None:
    """No state shared between two machines' kernels."""
    first, second = builtin_libraries(), builtin_libraries()
    assert all(a is not b for a, b in zip(first, second, strict=True))


def test_iopcifamily_personalities_are_those_of_apples_plist(real_plists: Path) -> None:
    """kextlab's IOPCIFamily Info.plist: Apple's three IOPCI2PCIBridge personalities (names,
    order, keys; the identifier is the kext's own) and the host bridge's, then versions."""
    with (real_plists / "Info-IOPCIFamily.plist").open("rb") as file:
        real = plistlib.load(file)
    family = IOPCIFAMILY
    assert list(family.personalities) == [*real["IOKitPersonalities"], "KextLabPCIHostBridge"]
    for name, personality in real["IOKitPersonalities"].items():
        ours = dict(family.personalities[name])
        assert ours == {
            key: value for key, value in personality.items() if key != "CFBundleIdentifier"
        }
    assert family.version == real["CFBundleVersion"]
    assert family.compatible_version == real["OSBundleCompatibleVersion"]


@pytest.mark.parametrize(
    ("plist", "name"),
    [
        ("Info-IOPCIFamily.plist", "IOPCIFamily"),
        ("Info-AppleSamplePCI.plist", "AppleSamplePCI"),
        ("IOFireWireFamily_Info.plist", "IOFireWireFamily"),
    ],
)
def test_real_kexts_resolve_against_the_builtin_libraries(
    real_plists: Path, tmp_path: Path, plist: str, name: str
) -> None:
    """Apple's plists ask for kpi 8.0 and 9.0.0d1: all satisfied by 19.0.0."""
    bundle = _install(real_plists / plist, tmp_path, name)
    resolution = resolve_dependencies(bundle, KextIndex(system_libraries()))
    assert resolution.order[-1] is bundle
    assert {kext.bundle_id for kext in resolution.order[:-1]} == set(bundle.libraries)
    assert resolution.link_dependencies[bundle.bundle_id] == resolution.order[:-1]


def test_a_real_kext_needing_an_absent_family_names_it(real_plists: Path, tmp_path: Path) -> None:
    """AppleUSBXHCI needs IOUSBFamily, which kextlab does not provide."""
    bundle = _install(real_plists / "IOUSBFamily_AppleUSBXHCI_Plists_Info.plist", tmp_path, "X")
    with pytest.raises(
        KextDependencyError, match=r"library com\.apple\.iokit\.IOUSBFamily not found"
    ):
        resolve_dependencies(bundle, KextIndex(system_libraries()))


def _install(plist: Path, parent: Path, name: str) -> KextBundle:
    contents = parent / f"{name}.kext" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    shutil.copyfile(plist, contents / "Info.plist")
    info = plistlib.loads((contents / "Info.plist").read_bytes())
    executable = str(info["CFBundleExecutable"]).replace("${EXECUTABLE_NAME}", name)
    (contents / "MacOS" / f"{executable}.py").write_text("")
    return KextBundle.read(contents.parent)
