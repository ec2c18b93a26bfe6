"""kextload, kextunload, kextstat and kextutil: output, refusals and bad kexts.

Each command boots the default machine; ``--kext`` loads kexts first.  Bad kexts
exit with status 2 and one message, and leave the kernel as it was (checked on the
kernel itself, through iokitlib's KextManager calls).
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kextlab.kexts import shipped
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.cli import main

TESTCARD = shipped("KextLabTestCard")
LIBRARIES = {"com.apple.kpi.iokit": "8.0", "com.apple.kpi.libkern": "8.0"}


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def make_kext(
    root: Path,
    name: str,
    *,
    info: dict[str, object] | None = None,
    code: str | None = None,
    raw_plist: bytes | None = None,
) -> Path:
    """A bundle ``root/name.kext`` with an Info.plist and, with ``code``, a module."""
    bundle = root / f"{name}.kext"
    contents = bundle / "Contents"
    contents.mkdir(parents=True)
    plist: dict[str, object] = {
        "CFBundleIdentifier": f"com.example.{name}",
        "CFBundleVersion": "1.0.0",
        "CFBundlePackageType": "KEXT",
        "OSBundleLibraries": dict(LIBRARIES),
        "IOKitPersonalities": {},
    }
    if code is not None:
        plist["CFBundleExecutable"] = name
        (contents / "MacOS").mkdir()
        (contents / "MacOS" / f"{name}.py").write_text(code)
    plist.update(info or {})
    plist = {key: value for key, value in plist.items() if value is not None}
    (contents / "Info.plist").write_bytes(raw_plist or plistlib.dumps(plist))
    return bundle


DRIVER_CODE = """
from kextlab.kernel.service.service import IOService


class {name}(IOService):
    pass
"""


def test_kextstat_prints_apples_columns_with_the_kexts_linked_against() -> None:
    result = run("kextstat", "--kext", str(TESTCARD))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Index Refs Address            Size       Wired      Name (Version) <Linked Against>"
    )
    assert (
        lines[1] == "    1    0 0                  0          0          com.apple.kpi.bsd (19.0.0)"
    )
    # the built-in families, in load order, after the kernel's components
    assert [line.split()[5] for line in lines[11:16]] == [
        "com.apple.iokit.IOPCIFamily",
        "com.apple.iokit.IOStorageFamily",
        "com.apple.iokit.IOCDStorageFamily",
        "com.apple.iokit.IOSCSIArchitectureModelFamily",
        "com.apple.iokit.IOSCSIParallelFamily",
    ]
    family = next(line for line in lines if "com.apple.iokit.IOPCIFamily" in line)
    assert family.split()[:2] == ["11", "2"]  # MarvellUMI and the test card link against it
    parallel = next(line for line in lines if "com.apple.iokit.IOSCSIParallelFamily" in line)
    assert parallel.split()[:2] == ["15", "1"]  # MarvellUMI links against it
    # the boot loaded MarvellUMI.kext for the HBA; --kext loads the test card's after it
    assert lines[-2:] == [
        "   16    0 0xffffff7f80000000 0x1000     0x1000     "
        "com.kextlab.driver.MarvellUMI (1.0.0) <15 11 4 3>",
        "   17    0 0xffffff7f80001000 0x1000     0x1000     "
        "com.kextlab.driver.KextLabTestCard (1.0.0) <11 4 3>",
    ]


def test_kextstat_filters_by_identifier_and_hides_kernel_components() -> None:
    result = run("kextstat", "-l", "-k", "--kext", str(TESTCARD))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "   16    0 0xffffff7f80000000 0x1000     0x1000     "
        "com.kextlab.driver.MarvellUMI (1.0.0) <15 11 4 3>",
        "   17    0 0xffffff7f80001000 0x1000     0x1000     "
        "com.kextlab.driver.KextLabTestCard (1.0.0) <11 4 3>",
    ]
    only = run("kextstat", "-b", "com.apple.iokit.IOPCIFamily")
    assert only.stdout.splitlines()[1:] == [
        "   11    1 0                  0          0          com.apple.iokit.IOPCIFamily (2.9)"
    ]


def test_kextload_then_ioreg_shows_the_driver_on_its_card() -> None:
    result = run("ioreg", "--kext", str(TESTCARD), "-c", "KextLabTestCardDriver")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("+-o KextLabTestCardDriver  <class KextLabTestCardDriver") == 2
    assert '"Card Version" = "1.0"' in result.stdout


def test_kextunload_terminates_and_unloads() -> None:
    result = run("kextunload", "--kext", str(TESTCARD), str(TESTCARD))
    assert result.exit_code == 0, result.output


def test_kextunload_of_a_kext_with_live_dependents_is_refused(tmp_path: Path) -> None:
    """A loaded kext linking against the library holds it: Apple's words, status 1."""
    library = make_kext(
        tmp_path,
        "Library",
        info={"OSBundleCompatibleVersion": "1.0.0"},
        code=DRIVER_CODE.format(name="LibraryClass"),
    )
    client = make_kext(
        tmp_path,
        "Client",
        info={"OSBundleLibraries": {**LIBRARIES, "com.example.Library": "1.0.0"}},
        code=DRIVER_CODE.format(name="ClientClass"),
    )
    result = run(
        "kextunload", "--kext", str(client), "-d", str(tmp_path), "-b", "com.example.Library"
    )
    assert result.exit_code == 2  # -d is not a kextunload option: a usage error
    result = CliRunner().invoke(
        main,
        ["kextunload", "-b", "com.example.Library", "--kext", str(library), "--kext", str(client)],
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "(kernel) Can't unload kext com.example.Library; outstanding references 3 "
        "(linkage or tracking object).",
        "Failed to unload com.example.Library - (libkern/kext) kext is in use or retained "
        "(cannot unload).",
    ]


def test_kextutil_diagnoses_without_loading() -> None:
    result = run("kextutil", "-t", "-n", str(TESTCARD))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"{TESTCARD} appears to be loadable (not including linkage for on-disk libraries)."
    )


# -- bad kexts ---------------------------------------------------------------------------------


def bad_kexts(root: Path) -> dict[str, tuple[Path, str]]:
    """Bad kexts by kind, with a fragment their message must contain."""
    root.mkdir()
    return {
        "malformed plist": (
            make_kext(root, "Malformed", raw_plist=b"<plist><dict><key>oops</dict>"),
            "Info.plist",
        ),
        "missing identifier": (
            make_kext(root, "Anonymous", info={"CFBundleIdentifier": None}),
            "CFBundleIdentifier",
        ),
        "unknown IOClass": (
            make_kext(
                root,
                "Unknown",
                info={
                    "IOKitPersonalities": {
                        "P": {"IOClass": "NoSuchClass", "IOProviderClass": "IOPCIDevice"}
                    }
                },
            ),
            "NoSuchClass",
        ),
        "import error": (
            make_kext(root, "Broken", code="raise RuntimeError('no hardware here')\n"),
            "no hardware here",
        ),
        "missing dependency": (
            make_kext(root, "Lonely", info={"OSBundleLibraries": {"com.example.Nowhere": "1.0"}}),
            "com.example.Nowhere",
        ),
        "incompatible dependency": (
            make_kext(
                root, "TooNew", info={"OSBundleLibraries": {"com.apple.iokit.IOPCIFamily": "9.0"}}
            ),
            "com.apple.iokit.IOPCIFamily",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "malformed plist",
        "missing identifier",
        "unknown IOClass",
        "import error",
        "missing dependency",
        "incompatible dependency",
    ],
)
def test_a_bad_kext_gets_one_message_and_status_2(kind: str, tmp_path: Path) -> None:
    path, fragment = bad_kexts(tmp_path / "kexts")[kind]
    result = run("kextload", str(path))
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_dependency_cycle_is_refused(tmp_path: Path) -> None:
    first = make_kext(
        tmp_path,
        "First",
        info={
            "OSBundleCompatibleVersion": "1.0.0",
            "OSBundleLibraries": {**LIBRARIES, "com.example.Second": "1.0.0"},
        },
        code=DRIVER_CODE.format(name="FirstClass"),
    )
    make_kext(
        tmp_path,
        "Second",
        info={
            "OSBundleCompatibleVersion": "1.0.0",
            "OSBundleLibraries": {**LIBRARIES, "com.example.First": "1.0.0"},
        },
        code=DRIVER_CODE.format(name="SecondClass"),
    )
    result = run("kextload", "-d", str(tmp_path), str(first))
    assert result.exit_code == 2, result.output
    assert "cycle" in result.stderr.lower() or "circular" in result.stderr.lower()


@pytest.fixture
def port() -> Iterator[io.mach_port_t]:
    with booted_kernel() as kernel:
        yield io.IOMainPort(kernel.registry, kernel)


def test_a_failed_load_leaves_the_kernel_as_it_was(port: io.mach_port_t, tmp_path: Path) -> None:
    """No class, no personality, no loaded kext, no module left behind."""
    import sys

    kernel = port.kernel
    assert kernel is not None
    before_classes = kernel.classes.instance_counts()
    before_personalities = kernel.services.catalogue.count()
    before_kexts = io.KextManagerCopyLoadedKextInfo(port)
    before_modules = set(sys.modules)
    code = DRIVER_CODE.format(name="HalfLoaded") + "\nraise ImportError('late failure')\n"
    broken = make_kext(tmp_path, "Late", code=code)
    unknown = make_kext(
        tmp_path,
        "Clashing",
        code=DRIVER_CODE.format(name="Clashing"),
        info={
            "IOKitPersonalities": {"P": {"IOClass": "Elsewhere", "IOProviderClass": "IOService"}}
        },
    )
    for bundle in (broken, unknown):
        result = io.KextManagerLoadKextWithURL(port, str(bundle))
        assert not result.ok
    assert kernel.classes.instance_counts() == before_classes
    assert kernel.services.catalogue.count() == before_personalities
    assert io.KextManagerCopyLoadedKextInfo(port) == before_kexts
    assert set(sys.modules) == before_modules
