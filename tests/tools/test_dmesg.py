"""``kextlab dmesg``: the kernel message buffer through sysctl and libproc, as on a Mac."""

from __future__ import annotations

import errno
import plistlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.log import MSGBUF_RECORDS
from kextlab.machine.machine import Machine
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.cli import main
from kextlab.userland.iokitlib import SnapshotNode
from kextlab.userland.libproc import proc_kmsgbuf
from kextlab.userland.sysctl import SYSCTL_NAMES, sysctlbyname
from kextlab.userland.tools.dmesg import USAGE, dmesg, strvis


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


CHATTY_DRIVER = """
from kextlab.kernel.log import IOLog
from kextlab.kernel.service.service import IOService


class ChattyDriver(IOService):
    def start(self, provider):
        if not super().start(provider):
            return False
        IOLog("ChattyDriver: started on %s, %d units\\n", provider.getName(), 3)
        IOLog("caf\\u00e9 \\x1b[31mred\\\\path")
        return True
"""


def chatty_kext(root: Path) -> Path:
    """A kext whose driver matches IOResources and IOLogs from start()."""
    contents = root / "Chatty.kext" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    (contents / "MacOS" / "Chatty.py").write_text(CHATTY_DRIVER)
    plist = {
        "CFBundleIdentifier": "com.example.Chatty",
        "CFBundleVersion": "1.0.0",
        "CFBundlePackageType": "KEXT",
        "CFBundleExecutable": "Chatty",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0", "com.apple.kpi.libkern": "8.0"},
        "IOKitPersonalities": {
            "Chatty": {
                "CFBundleIdentifier": "com.example.Chatty",
                "IOClass": "ChattyDriver",
                "IOProviderClass": "IOResources",
                "IOResourceMatch": "IOKit",
            }
        },
    }
    (contents / "Info.plist").write_bytes(plistlib.dumps(plist))
    return root / "Chatty.kext"


def test_dmesg_prints_the_boot_messages_with_virtual_times() -> None:
    """A booted machine's buffer holds the kernel's own messages, each line stamped."""
    result = run("dmesg")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[    0.")
    assert "] kextlab Kernel Version " in lines[0]
    assert any("IOKit: " in line and "device-tree entries" in line for line in lines)
    assert all(line[0] == "[" and line[13:15] == "] " for line in lines)


def test_dmesg_shows_what_a_loaded_driver_logged(tmp_path: Path) -> None:
    """--kext loads a driver first; its IOLog lines follow the boot messages, made
    visible by strvis as Apple's dmesg does (UTF-8 as \\M- escapes, controls as \\^)."""
    result = run("dmesg", "--kext", str(chatty_kext(tmp_path)), "--seed", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    started = [line for line in lines if "ChattyDriver: started" in line]
    assert len(started) == 1
    assert started[0].endswith("] ChattyDriver: started on IOResources, 3 units")
    assert lines[-1].endswith("] caf\\M-C\\M-) \\^[[31mred\\\\path")
    assert lines.index(started[0]) > 0


def test_dmesg_refuses_unknown_flags_with_status_2() -> None:
    """A bad flag is click's usage error: status 2, nothing on stdout."""
    result = run("dmesg", "--bogus")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option '--bogus'" in result.stderr


def test_dmesg_on_a_bad_machine_file_exits_2(tmp_path: Path) -> None:
    """A machine file that cannot be read is one error line and status 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[machine\n")
    result = run("dmesg", "--machine", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("kextlab: error: ")


def test_sysctlbyname_reads_the_kernels_variables() -> None:
    """kern.* and hw.* come from the live kernel; unknown names are ENOENT."""
    with booted_kernel() as kernel:
        port = io.IOMainPort(kernel.registry, kernel)
        assert sysctlbyname(port, "kern.ostype") == "Darwin"
        assert sysctlbyname(port, "kern.version") == kernel.version
        assert sysctlbyname(port, "kern.msgbuf") == MSGBUF_RECORDS
        assert sysctlbyname(port, "hw.memsize") == 3 << 30
        assert [sysctlbyname(port, name) for name in ("hw.ncpu", "hw.physicalcpu")] == [1, 1]
        assert "hw.logicalcpu" in SYSCTL_NAMES
        with pytest.raises(FileNotFoundError) as caught:
            sysctlbyname(port, "kern.nope")
        assert caught.value.errno == errno.ENOENT
        assert caught.value.filename == "kern.nope"


def test_user_space_gets_copies_of_the_newest_lines() -> None:
    """proc_kmsgbuf returns bytes, the newest ``buffersize`` lines; a dump has no kernel."""
    with booted_kernel() as kernel:
        port = io.IOMainPort(kernel.registry, kernel)
        everything = proc_kmsgbuf(port, MSGBUF_RECORDS)
        last = proc_kmsgbuf(port, 1)
        assert isinstance(everything, bytes)
        assert everything.endswith(last)
        assert last.count(b"\n") == 1
        assert everything.decode().splitlines()[0].endswith(kernel.version)
    dump = io.IOMainPortFromSnapshot(
        SnapshotNode("Root", None, "IORegistryEntry", 0x100000100, 1, None, [])
    )
    with pytest.raises(ValueError, match="needs a live kernel"):
        proc_kmsgbuf(dump, 10)
    with pytest.raises(ValueError, match="needs a live kernel"):
        sysctlbyname(dump, "kern.msgbuf")


def test_an_empty_buffer_fails_as_apples_dmesg_does() -> None:
    """A kernel that has logged nothing yet: the C tool's message, usage, status 1."""
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        kernel = Kernel(machine, tree)  # not started: nothing logged
        output = dmesg(io.IOMainPort(kernel.registry, kernel))
    assert (output.status, output.stdout) == (1, [])
    assert output.stderr == ["Unable to obtain kernel buffer", USAGE]


def test_strvis_makes_every_byte_visible_like_vis_3() -> None:
    """Graphic characters, space, tab and newline pass; the rest become \\^X, \\M-x or
    octal, and a backslash is doubled."""
    assert strvis(b"plain text\tand\n") == "plain text\tand\n"
    assert strvis(b"\x00\x07\x1b\x7f") == "\\^@\\^G\\^[\\^?"
    assert strvis(b"\x81\xc3\xa9\xff") == "\\M^A\\M-C\\M-)\\M^?"
    assert strvis(b"\xa0") == "\\240"
    assert strvis(b"a\\b") == "a\\\\b"
