"""Reading a .kext directory: layout, required keys, every error, real plists."""

from __future__ import annotations

import plistlib
import shutil
from pathlib import Path

import pytest

from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.errors import KextBundleError, KextVersionError
from kextlab.kernel.kext.version import parse_version
from tests.kernel.kext.conftest import MakeKext, make_kext


def install(plist: Path, parent: Path, name: str, *, executable: str | None = None) -> Path:
    """A bundle ``<name>.kext`` around a copy of the real ``plist``."""
    contents = parent / f"{name}.kext" / "Contents"
    contents.mkdir(parents=True)
    shutil.copyfile(plist, contents / "Info.plist")
    if executable is not None:
        (contents / "MacOS").mkdir()
        (contents / "MacOS" / f"{executable}.py").write_text("")
    return contents.parent


def test_a_codeless_kext_reads_with_its_identifier_and_version(kext: MakeKext) -> None:
    """The smallest kext: identifier, version, nothing to import."""
    bundle = KextBundle.read(kext("Minimal"))
    assert bundle.bundle_id == "com.example.Minimal"
    assert bundle.version == parse_version("1.0.0")
    assert bundle.compatible_version is None
    assert bundle.executable is None
    assert not bundle.declares_executable
    assert bundle.libraries == {}
    assert bundle.personalities == {}
    assert bundle.plugins == ()
    assert bundle.warnings == ()
    assert not bundle.flat
    assert bundle.info_plist == bundle.path / "Contents" / "Info.plist"
    assert bundle.source == str(bundle.info_plist)


def test_optional_keys_are_read_and_keep_their_file_order(kext: MakeKext) -> None:
    """Libraries and personalities come back in the order the plist lists them."""
    bundle = KextBundle.read(
        kext(
            "Full",
            {
                "OSBundleCompatibleVersion": "1.0.0b1",
                "OSBundleLibraries": {"com.apple.kpi.mach": "8.0", "com.apple.kpi.iokit": "9.0"},
                "OSBundleRequired": "Safe Boot",
                "OSKernelResource": False,
                "IOKitPersonalities": {
                    "Zeta": {"IOClass": "Z"},
                    "Alpha": {"IOClass": "A", "IOKitDebug": 65535},
                },
            },
        )
    )
    assert bundle.compatible_version == parse_version("1.0.0b1")
    assert list(bundle.libraries) == ["com.apple.kpi.mach", "com.apple.kpi.iokit"]
    assert bundle.libraries["com.apple.kpi.iokit"] == parse_version("9.0")
    assert bundle.required == "Safe Boot"
    assert list(bundle.personalities) == ["Zeta", "Alpha"]
    assert not bundle.is_kernel_component
    assert bundle.is_compatible_with(parse_version("1.0"))
    assert not bundle.is_compatible_with(parse_version("1.0.1"))


def test_a_module_executable_is_found_in_contents_macos(kext: MakeKext) -> None:
    """CFBundleExecutable names Contents/MacOS/<name>.py."""
    bundle = KextBundle.read(kext("Driver", module="X = 1\n"))
    assert bundle.executable_name == "Driver"
    assert bundle.executable == bundle.path / "Contents" / "MacOS" / "Driver.py"
    assert bundle.declares_executable
    assert not bundle.executable_is_package


def test_a_package_executable_is_found_in_contents_macos(kext: MakeKext) -> None:
    """Or the package Contents/MacOS/<name>/__init__.py."""
    bundle = KextBundle.read(kext("Driver", package={"__init__.py": ""}))
    assert bundle.executable == bundle.path / "Contents" / "MacOS" / "Driver"
    assert bundle.executable_is_package


def test_a_missing_executable_is_an_error(kext: MakeKext) -> None:
    """Naming an executable that is not there refuses the bundle, saying where it looked."""
    path = kext("Driver", {"CFBundleExecutable": "Driver"})
    with pytest.raises(KextBundleError, match=r"executable 'Driver' is missing") as caught:
        KextBundle.read(path)
    assert caught.value.key == "CFBundleExecutable"
    assert caught.value.source == str(path / "Contents" / "Info.plist")
    assert "Driver.py" in str(caught.value)


def test_a_module_and_a_package_of_the_same_name_are_ambiguous(kext: MakeKext) -> None:
    """Python would pick the package; a kext must say which it means."""
    path = kext("Driver", module="", package={"__init__.py": ""})
    with pytest.raises(KextBundleError, match="both"):
        KextBundle.read(path)


def test_a_flat_bundle_keeps_everything_at_its_root(kext: MakeKext) -> None:
    """Without Contents/, Info.plist and the executable sit at the root (CFBundle's flat layout)."""
    bundle = KextBundle.read(kext("Flat", module="", flat=True))
    assert bundle.flat
    assert bundle.info_plist == bundle.path / "Info.plist"
    assert bundle.executable == bundle.path / "Flat.py"


def test_contents_wins_over_a_root_info_plist(kext: MakeKext) -> None:
    """A bundle with Contents/ is read from there even if a root Info.plist exists."""
    path = kext("Both")
    (path / "Info.plist").write_bytes(
        plistlib.dumps({"CFBundleIdentifier": "com.example.root", "CFBundleVersion": "9.0"})
    )
    bundle = KextBundle.read(path)
    assert bundle.bundle_id == "com.example.Both"
    assert not bundle.flat


def test_a_binary_info_plist_is_read(kext: MakeKext) -> None:
    """plistlib reads both formats, as CFBundle does."""
    path = kext("Binary")
    info = path / "Contents" / "Info.plist"
    info.write_bytes(plistlib.dumps(plistlib.loads(info.read_bytes()), fmt=plistlib.FMT_BINARY))
    assert KextBundle.read(path).bundle_id == "com.example.Binary"


def test_plugins_are_read_as_bundles_of_their_own_in_name_order(kext: MakeKext) -> None:
    """Contents/PlugIns/*.kext become the parent's plugins, sorted, each knowing its container."""
    parent = kext("Parent")
    plugins = parent / "Contents" / "PlugIns"
    plugins.mkdir()
    make_kext(plugins, "Zeta")
    make_kext(plugins, "Alpha", module="")
    (plugins / "README.txt").write_text("not a kext")
    bundle = KextBundle.read(parent)
    assert [plugin.bundle_id for plugin in bundle.plugins] == [
        "com.example.Alpha",
        "com.example.Zeta",
    ]
    assert all(plugin.container_id == "com.example.Parent" for plugin in bundle.plugins)
    assert [entry.bundle_id for entry in bundle.with_plugins()] == [
        "com.example.Parent",
        "com.example.Alpha",
        "com.example.Zeta",
    ]
    assert bundle.plugins[0].declares_executable


def test_plugins_of_a_plugin_are_not_read(kext: MakeKext) -> None:
    """One level only, like OSKextCopyPlugins; the skipped ones are noted."""
    parent = kext("Parent")
    (parent / "Contents" / "PlugIns").mkdir()
    child = make_kext(parent / "Contents" / "PlugIns", "Child")
    (child / "Contents" / "PlugIns").mkdir()
    make_kext(child / "Contents" / "PlugIns", "Grandchild")
    bundle = KextBundle.read(parent)
    (plugin,) = bundle.plugins
    assert plugin.plugins == ()
    assert "plug-ins of a plug-in are not read (Grandchild.kext)" in plugin.warnings[0]


def test_a_bad_plugin_refuses_its_parent_naming_the_plugin(kext: MakeKext) -> None:
    """The error names the plug-in's own Info.plist."""
    parent = kext("Parent")
    (parent / "Contents" / "PlugIns").mkdir()
    make_kext(parent / "Contents" / "PlugIns", "Broken", {"CFBundleVersion": "x"})
    with pytest.raises(
        KextBundleError, match=r"Broken\.kext/Contents/Info\.plist: CFBundleVersion"
    ):
        KextBundle.read(parent)


# -- errors -------------------------------------------------------------------------------------


def test_a_directory_not_named_kext_is_refused(tmp_path: Path) -> None:
    """OSKextCreate accepts only .kext URLs."""
    (tmp_path / "Driver.bundle").mkdir()
    with pytest.raises(KextBundleError, match=r"ends in '\.kext'"):
        KextBundle.read(tmp_path / "Driver.bundle")


def test_a_kext_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    """A file named .kext is no bundle."""
    (tmp_path / "Driver.kext").write_text("")
    with pytest.raises(KextBundleError, match="expected a bundle directory"):
        KextBundle.read(tmp_path / "Driver.kext")


def test_a_missing_info_plist_is_named(tmp_path: Path) -> None:
    """Contents/ without Info.plist, or nothing at all, each name the file expected."""
    (tmp_path / "Deep.kext" / "Contents").mkdir(parents=True)
    with pytest.raises(KextBundleError, match="missing") as caught:
        KextBundle.read(tmp_path / "Deep.kext")
    assert caught.value.source.endswith("Deep.kext/Contents/Info.plist")
    (tmp_path / "Empty.kext").mkdir()
    with pytest.raises(KextBundleError, match=r"no Info\.plist at the bundle's root") as caught:
        KextBundle.read(tmp_path / "Empty.kext")
    assert caught.value.source.endswith("Empty.kext/Contents/Info.plist")


@pytest.mark.parametrize(
    "content",
    [b"<plist><dict><key>A</key></plist>", b"not a plist at all", b"bplist00garbage"],
)
def test_a_malformed_info_plist_is_refused(kext: MakeKext, content: bytes) -> None:
    """Unreadable XML or binary: one error naming the file."""
    path = kext("Bad")
    (path / "Contents" / "Info.plist").write_bytes(content)
    with pytest.raises(KextBundleError, match="not a valid property list") as caught:
        KextBundle.read(path)
    assert caught.value.key is None
    assert caught.value.source.endswith("Bad.kext/Contents/Info.plist")


def test_an_info_plist_whose_root_is_not_a_dictionary_is_refused(kext: MakeKext) -> None:
    """The root must be a dictionary."""
    path = kext("Array")
    (path / "Contents" / "Info.plist").write_bytes(plistlib.dumps(["CFBundleIdentifier"]))
    with pytest.raises(KextBundleError, match="expected a dictionary at the root, not list"):
        KextBundle.read(path)


@pytest.mark.parametrize(
    ("info", "key", "message"),
    [
        ({"CFBundleIdentifier": None}, "CFBundleIdentifier", "missing"),
        ({"CFBundleIdentifier": 7}, "CFBundleIdentifier", "expected a string, not 7"),
        ({"CFBundleIdentifier": ""}, "CFBundleIdentifier", "non-empty"),
        ({"CFBundleIdentifier": "com." + "x" * 60}, "CFBundleIdentifier", "at most 63"),
        ({"CFBundleVersion": None}, "CFBundleVersion", "missing"),
        ({"CFBundleVersion": 1}, "CFBundleVersion", "expected a string"),
        ({"CFBundleVersion": "1.0.0.0"}, "CFBundleVersion", "revision may be followed"),
        ({"OSBundleCompatibleVersion": "x"}, "OSBundleCompatibleVersion", "begin with a digit"),
        ({"OSBundleCompatibleVersion": "2.0"}, "OSBundleCompatibleVersion", "later than"),
        ({"CFBundlePackageType": "APPL"}, "CFBundlePackageType", "expected 'KEXT'"),
        ({"CFBundleExecutable": ""}, "CFBundleExecutable", "expected a file name"),
        ({"CFBundleExecutable": "../evil"}, "CFBundleExecutable", "expected a file name"),
        ({"CFBundleExecutable": 3}, "CFBundleExecutable", "expected a string"),
        ({"OSBundleLibraries": ["com.apple.kpi.iokit"]}, "OSBundleLibraries", "dictionary"),
        (
            {"OSBundleLibraries": {"com.apple.kpi.iokit": 8}},
            "OSBundleLibraries['com.apple.kpi.iokit']",
            "expected a version string",
        ),
        (
            {"OSBundleLibraries": {"com.apple.kpi.iokit": "8.0.0.0"}},
            "OSBundleLibraries['com.apple.kpi.iokit']",
            "revision may be followed",
        ),
        ({"OSBundleRequired": "Always"}, "OSBundleRequired", "expected one of 'Root'"),
        ({"OSKernelResource": "yes"}, "OSKernelResource", "expected a boolean"),
        ({"IOKitPersonalities": ["A"]}, "IOKitPersonalities", "dictionary"),
        ({"IOKitPersonalities": {"A": "B"}}, "IOKitPersonalities['A']", "personality dictionary"),
        (
            {"IOKitPersonalities": {"A": {"IOKitDebug": "lots"}}},
            "IOKitPersonalities['A']['IOKitDebug']",
            "expected a number",
        ),
    ],
)
def test_every_bad_key_raises_one_error_naming_file_key_and_expectation(
    kext: MakeKext, info: dict[str, object], key: str, message: str
) -> None:
    """Each rule of the bundle reader, with the key it concerns."""
    path = kext("Bad", info)
    with pytest.raises(KextBundleError, match=message) as caught:
        KextBundle.read(path)
    assert caught.value.key == key
    assert caught.value.source == str(path / "Contents" / "Info.plist")
    assert str(caught.value).startswith(f"{path / 'Contents' / 'Info.plist'}: {key}: ")


def test_a_bad_version_error_keeps_the_version_error_as_its_cause(kext: MakeKext) -> None:
    """The KextVersionError behind a bad CFBundleVersion is chained."""
    with pytest.raises(KextBundleError) as caught:
        KextBundle.read(kext("Bad", {"CFBundleVersion": "1.0fc0"}))
    assert isinstance(caught.value.__cause__, KextVersionError)
    assert isinstance(caught.value, ValueError)


# -- Xcode build settings -----------------------------------------------------------------------


def test_xcode_references_are_expanded_from_the_bundle(kext: MakeKext) -> None:
    """PRODUCT_NAME, EXECUTABLE_NAME, PRODUCT_BUNDLE_IDENTIFIER, MODULE_* come from the bundle."""
    path = kext(
        "My Driver",
        {
            "CFBundleIdentifier": "com.example.$(PRODUCT_NAME:rfc1034identifier)",
            "CFBundleExecutable": "${EXECUTABLE_NAME}",
            "CFBundleVersion": "2.1",
            "CFBundleName": "$(PRODUCT_NAME)",
            "CFBundleGetInfoString": "$(MODULE_NAME) $(MODULE_VERSION)",
            "IOKitPersonalities": {
                "P": {"IOClass": "$(PRODUCT_NAME:identifier)", "CFBundleIdentifier": "x"}
            },
        },
    )
    (path / "Contents" / "MacOS").mkdir()
    (path / "Contents" / "MacOS" / "My Driver.py").write_text("")
    bundle = KextBundle.read(path)
    assert bundle.bundle_id == "com.example.My-Driver"
    assert bundle.executable_name == "My Driver"
    assert bundle.info["CFBundleName"] == "My Driver"
    assert bundle.info["CFBundleGetInfoString"] == "com.example.My-Driver 2.1"
    assert bundle.personalities["P"]["IOClass"] == "My_Driver"
    assert bundle.warnings == ()


def test_unknown_xcode_references_are_kept_and_listed_as_warnings(kext: MakeKext) -> None:
    """An unknown build setting stays in the value and is reported with where it was."""
    bundle = KextBundle.read(kext("Odd", {"CFBundleGetInfoString": "v$(SOMETHING_ELSE)"}))
    assert bundle.info["CFBundleGetInfoString"] == "v$(SOMETHING_ELSE)"
    (warning,) = bundle.warnings
    assert warning.endswith(
        "Info.plist: CFBundleGetInfoString: unknown Xcode build setting $(SOMETHING_ELSE) "
        "left as it is"
    )


def test_an_unexpanded_version_names_the_setting_to_pass(kext: MakeKext) -> None:
    """CFBundleVersion = $(CURRENT_PROJECT_VERSION) with nothing to derive it from."""
    path = kext("Graphics", {"CFBundleVersion": "$(CURRENT_PROJECT_VERSION)"})
    with pytest.raises(KextBundleError, match="pass variables= for CURRENT_PROJECT_VERSION"):
        KextBundle.read(path)
    bundle = KextBundle.read(path, variables={"CURRENT_PROJECT_VERSION": "600.0.1"})
    assert bundle.version == parse_version("600.0.1")


def test_an_unexpanded_identifier_is_refused(kext: MakeKext) -> None:
    """An identifier that is still a reference is no identifier."""
    path = kext("Anon", {"CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)"})
    with pytest.raises(KextBundleError, match="PRODUCT_BUNDLE_IDENTIFIER") as caught:
        KextBundle.read(path)
    assert caught.value.key == "CFBundleIdentifier"
    bundle = KextBundle.read(path, variables={"PRODUCT_BUNDLE_IDENTIFIER": "com.example.anon"})
    assert bundle.bundle_id == "com.example.anon"


# -- real plists (shared/data/plists) ------------------------------------------------------------


def test_iofirewirefamily_gets_its_identifier_from_its_personalities(
    real_plists: Path, tmp_path: Path
) -> None:
    """$(PRODUCT_BUNDLE_IDENTIFIER) in Apple's IOFireWireFamily plist is derived and noted."""
    path = install(
        real_plists / "IOFireWireFamily_Info.plist",
        tmp_path,
        "IOFireWireFamily",
        executable="IOFireWireFamily",
    )
    bundle = KextBundle.read(path)
    assert bundle.bundle_id == "com.apple.iokit.IOFireWireFamily"
    assert bundle.version == parse_version("4.8.3")
    assert bundle.compatible_version == parse_version("1.0.0")
    assert list(bundle.libraries) == [
        "com.apple.kpi.bsd",
        "com.apple.kpi.iokit",
        "com.apple.kpi.libkern",
        "com.apple.kpi.mach",
    ]
    assert any("PRODUCT_BUNDLE_IDENTIFIER taken as" in warning for warning in bundle.warnings)


def test_iopcifamily_reads_with_its_three_bridge_personalities(
    real_plists: Path, tmp_path: Path
) -> None:
    """Apple's Info-IOPCIFamily.plist: version 2.9 back to 1.0.0b1, Root, three personalities."""
    path = install(
        real_plists / "Info-IOPCIFamily.plist", tmp_path, "IOPCIFamily", executable="IOPCIFamily"
    )
    bundle = KextBundle.read(path)
    assert bundle.bundle_id == "com.apple.iokit.IOPCIFamily"
    assert str(bundle.version) == "2.9"
    assert str(bundle.compatible_version) == "1.0b1"
    assert bundle.required == "Root"
    assert list(bundle.personalities) == [
        "IOPCI2PCIBridge-Name",
        "IOPCI2PCIBridge-PCI",
        "IOPCI2PCIBridge-i386",
    ]
    assert bundle.warnings == ()


def test_a_real_plist_without_its_executable_is_refused(real_plists: Path, tmp_path: Path) -> None:
    """AppleSamplePCI names an executable the copied bundle does not have."""
    path = install(real_plists / "Info-AppleSamplePCI.plist", tmp_path, "AppleSamplePCI")
    with pytest.raises(KextBundleError, match="executable 'AppleSamplePCI' is missing"):
        KextBundle.read(path)


def test_xhci_executable_name_comes_from_the_bundle_name(real_plists: Path, tmp_path: Path) -> None:
    """${EXECUTABLE_NAME} in AppleUSBXHCI's Plists/Info.plist expands to the product name."""
    path = install(
        real_plists / "IOUSBFamily_AppleUSBXHCI_Plists_Info.plist",
        tmp_path,
        "AppleUSBXHCI",
        executable="AppleUSBXHCI",
    )
    bundle = KextBundle.read(path)
    assert bundle.executable_name == "AppleUSBXHCI"
    assert bundle.info["CFBundleExecutable"] == "AppleUSBXHCI"


def test_a_preprocessor_version_placeholder_is_refused(real_plists: Path, tmp_path: Path) -> None:
    """IOUSBFamily's source plists carry APPLEUSBEHCI_VERSION, which is no version."""
    path = install(
        real_plists / "IOUSBFamily_AppleUSBEHCI_AppleUSBEHCI.plist",
        tmp_path,
        "AppleUSBEHCI",
        executable="AppleUSBEHCI",
    )
    with pytest.raises(KextBundleError, match="CFBundleVersion: it must begin with a digit"):
        KextBundle.read(path)


def test_iographics_loads_once_its_project_version_is_given(
    real_plists: Path, tmp_path: Path
) -> None:
    """$(CURRENT_PROJECT_VERSION) cannot be derived; passed in, it fills three keys."""
    path = install(
        real_plists / "Info-IOGraphicsFamily.plist",
        tmp_path,
        "IOGraphicsFamily",
        executable="IOGraphicsFamily",
    )
    with pytest.raises(KextBundleError, match="CURRENT_PROJECT_VERSION"):
        KextBundle.read(path)
    bundle = KextBundle.read(path, variables={"CURRENT_PROJECT_VERSION": "600.0.1"})
    assert str(bundle.version) == "600.0.1"
    assert str(bundle.info["CFBundleGetInfoString"]).startswith("600.0.1, Copyright")
    assert list(bundle.personalities) == [
        "AppleBacklightDisplay",
        "AppleDisplay",
        "IODisplayWrangler",
    ]
