"""The ``kextlab`` command: what it prints and the exit-status contract.

Commands run in-process through click's ``CliRunner``; the exit-status contract
(0 for success, 2 and one ``kextlab: error:`` line for bad input) is also checked
once against a real ``python -m kextlab.userland.cli`` process.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kextlab.userland.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]
HOST_BRIDGE = "/pci@0,f2000000"
BRIDGE = f"{HOST_BRIDGE}/pci-bridge@d"
#: testcard0 of the default machine: behind the bridge, slot 1 (its name is from subsystem 1).
CARD_BEHIND_BRIDGE = f"{BRIDGE}/pci1234,1@1"
#: hba0 of the default machine: the Marvell 88SE9143 in root slot 4.
HBA = f"{HOST_BRIDGE}/pci1b4b,9143@4"
TREE_LINE = re.compile(r"^(?P<phandle>[0-9a-f]{8}): (?P<indent>(?:  )*)/(?P<name>\S+)$")

GOOD_MACHINE = '[memory]\nsize = "1G"\n[[device]]\nmodel = "testcard"\nslot = 1\n'
BAD_MACHINES = {
    "unknown-device": (
        '[memory]\nsize = "1G"\n[[device]]\nmodel = "floppy"\nslot = 1\n',
        "device[0].model: unknown device model 'floppy'",
    ),
    "overlapping-slot": (
        GOOD_MACHINE + '[[device]]\nname = "second"\nmodel = "testcard"\nslot = 1\n',
        "device[1].slot: slot 1 function 0 on bus 'pci' is already taken by device[0]",
    ),
    "bad-size": (
        "[memory]\nsize = '2 GB'\n",
        "memory.size: expected a size such as",
    ),
    "missing-disk-image": (
        '[memory]\nsize = "256M"\n[[device]]\nname = "hba0"\nmodel = "mvumi9143"\nslot = 4\n'
        '[[device.target]]\nid = 0\ntype = "disk"\nimage = "nowhere/disk.img"\n',
        "device[0].target[0].image: ",
    ),
}


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def assert_bad_input(result: Result, *fragments: str) -> str:
    """Status 2, nothing on stdout, one ``kextlab: error:`` line on stderr; returns that line."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kextlab: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def tree_entries(lines: list[str]) -> list[tuple[int, str]]:
    """(depth, /name@unit) for each ``ls`` line."""
    entries = []
    for line in lines:
        match = TREE_LINE.match(line)
        assert match is not None, line
        entries.append((len(match["indent"]) // 2, match["name"]))
    return entries


def device_tree_section(output: str) -> list[str]:
    lines = output.splitlines()
    assert "Device tree:" in lines
    section = lines[lines.index("Device tree:") + 1 :]
    return section[: section.index("")]


# -- kextlab boot --------------------------------------------------------------------------------


def test_boot_prints_the_boot_log_with_virtual_timestamps() -> None:
    """`kextlab boot` exits 0; every boot-log line carries a [seconds.micros] virtual time."""
    result = run("boot")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    log = result.stdout.split("\n\nDevice tree:\n")[0].splitlines()
    assert log[0] == (
        "[    0.000000] firmware: kextlab Open Firmware 0.1.0 on KextLab1,1 (default), seed 0"
    )
    assert "[    0.000000] firmware: memory: 2 GiB RAM at [0x0, 0x80000000)" in log
    assert "[    0.000000] firmware: memory: 1 GiB RAM at [0x100000000, 0x140000000)" in log
    assert all(re.match(r"^\[ {0,4}\d+\.\d{6}\] \S+: ", line) for line in log), log
    stamps = [float(line[1:13]) for line in log]
    assert stamps == sorted(stamps)
    assert stamps[-1] > 0


def test_boot_lists_a_device_tree_with_a_card_behind_a_pci_to_pci_bridge() -> None:
    """The Device tree section shows the host bridge, the 21154 bridge and a card beneath it."""
    result = run("boot")
    assert result.exit_code == 0, result.output
    entries = tree_entries(device_tree_section(result.stdout))
    assert (0, "pci@0,f2000000") in entries
    host = entries.index((0, "pci@0,f2000000"))
    bridge = entries.index((1, "pci-bridge@d"))
    assert bridge > host
    assert entries[bridge + 1] == (2, "pci1234,1@1")
    assert (1, "pci1234,2@2") in entries[host:bridge]
    assert {(0, "cpus"), (0, "memory@0,0"), (0, "aliases"), (0, "chosen")} <= set(entries)


def test_boot_with_properties_prints_each_node_path_and_its_properties() -> None:
    """`kextlab boot -l` prints each node's full path and its properties, indented beneath it."""
    result = run("boot", "-l")
    assert result.exit_code == 0, result.output
    section = device_tree_section(result.stdout)
    assert section[0] == "ff800000: /"
    # phandles in probe order: testcard1 (slot 2), the HBA (slot 4), the bridge, testcard0
    hba = section.index(f"ff800700: {HBA}")
    bridge = section.index(f"ff800800: {BRIDGE}")
    assert section[hba + 1] == '    name                      "pci1b4b,9143"'
    assert "    vendor-id                 1b4b" in section[hba:bridge]
    assert "    device-id                 9143" in section[hba:bridge]
    card = section.index(f"ff800900: {CARD_BEHIND_BRIDGE}")
    card_properties = section[card + 1 : card + 4]
    assert card_properties[0] == '    name                      "pci1234,1"'
    assert "    vendor-id                 1234" in section[card:]
    assert "    device-id                 4b4c" in section[card:]
    assert '    model                     "KextLab1,1"' in section


def test_boot_with_the_same_seed_writes_byte_identical_traces(tmp_path: Path) -> None:
    """Two boots with --seed 7 write the same, non-empty trace, each line led by a virtual time."""
    first, second = tmp_path / "A", tmp_path / "B"
    assert run("boot", "--seed", "7", "--trace", str(first)).exit_code == 0
    assert run("boot", "--seed", "7", "--trace", str(second)).exit_code == 0
    trace = first.read_bytes()
    assert trace
    assert trace == second.read_bytes()
    lines = trace.decode("utf-8").splitlines()
    assert lines[0] == "0.000000000 machine.power-on default seed 7 ram 0xc0000000"
    assert all(re.match(r"^\d+\.\d{9} \S", line) for line in lines), lines
    assert str(tmp_path) not in trace.decode("utf-8")


def test_a_different_seed_changes_the_trace(tmp_path: Path) -> None:
    """--seed 8 gives a different trace than --seed 7, at least in its seed line."""
    seven, eight = tmp_path / "seven", tmp_path / "eight"
    assert run("boot", "--seed", "7", "--trace", str(seven)).exit_code == 0
    assert run("boot", "--seed", "8", "--trace", str(eight)).exit_code == 0
    assert seven.read_bytes() != eight.read_bytes()
    assert eight.read_text(encoding="utf-8").splitlines()[0].endswith("seed 8 ram 0xc0000000")


def test_boot_prints_the_seed_it_was_given() -> None:
    """The firmware banner on the console names the seed passed with --seed."""
    result = run("boot", "--seed", "8")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith("(default), seed 8")


def test_boot_accepts_a_machine_file(tmp_path: Path) -> None:
    """--machine FILE boots the machine the file describes, named after the file."""
    path = tmp_path / "bench.toml"
    path.write_text(GOOD_MACHINE, encoding="utf-8")
    result = run("boot", "--machine", str(path))
    assert result.exit_code == 0, result.output
    assert "on KextLab1,1 (bench), seed 0" in result.stdout.splitlines()[0]
    assert "firmware: memory: 1 GiB RAM at [0x0, 0x40000000)" in result.stdout
    assert "pci-bridge" not in result.stdout


HOT_PLUG_MACHINE = (
    '[memory]\nsize = "256M"\n[[device]]\nname = "hba0"\nmodel = "mvumi9143"\nslot = 4\n'
    '[[device.target]]\nid = 0\ntype = "disk"\nimage = "d0.img"\nsize = "1M"\n'
    '[[device.target]]\nid = 3\ntype = "disk"\nimage = "d3.img"\nsize = "1M"\n'
    "attach_at_ns = 500_000_000\n"
)


def test_boot_run_for_lets_the_hot_plug_times_of_the_machine_file_pass(tmp_path: Path) -> None:
    """Boot stops when the machine is quiet (about 0.1 s), before the plug at 0.5 s;
    --run-for 1600ms runs on past it and past the driver's rescan, which waits 1 s for
    the bus to settle and then finds target 3."""
    path = tmp_path / "hotplug.toml"
    path.write_text(HOT_PLUG_MACHINE, encoding="utf-8")
    quiet = run("boot", "--machine", str(path))
    assert quiet.exit_code == 0, quiet.output
    assert "IOSCSIParallelInterfaceDevice@0" in quiet.stdout
    assert "IOSCSIParallelInterfaceDevice@3" not in quiet.stdout
    later = run("boot", "--machine", str(path), "--run-for", "1600ms")
    assert later.exit_code == 0, later.output
    assert "IOSCSIParallelInterfaceDevice@3" in later.stdout
    assert "MarvellUMI: target 3: KEXTLAB KEXTLAB DISK" in later.stdout


@pytest.mark.parametrize(
    ("value", "complaint"),
    [("5parsecs", "expected a duration such as 2s"), ("1.5ns", "not a whole number")],
)
def test_a_bad_run_for_duration_exits_2_naming_the_option(value: str, complaint: str) -> None:
    result = run("boot", "--run-for", value)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Invalid value for '--run-for'" in result.stderr
    assert complaint in result.stderr


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_MACHINES))
def test_bad_machine_file_exits_2_with_one_error_line_and_no_trace(
    case: str, tmp_path: Path
) -> None:
    """A bad --machine FILE: status 2, one error line naming file and key, no trace file made."""
    text, fragment = BAD_MACHINES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    trace = tmp_path / "trace.txt"
    result = run("boot", "--machine", str(path), "--trace", str(trace))
    line = assert_bad_input(result, f"kextlab: error: {path}: ", fragment)
    assert line.startswith(f"kextlab: error: {path}: {fragment}")
    assert not trace.exists()


def test_missing_machine_file_exits_2_saying_it_was_not_found(tmp_path: Path) -> None:
    """--machine naming no file: status 2, 'machine file not found', and no trace file."""
    path = tmp_path / "no" / "such" / "file.toml"
    trace = tmp_path / "trace.txt"
    result = run("boot", "--machine", str(path), "--trace", str(trace))
    line = assert_bad_input(result)
    assert line == f"kextlab: error: {path}: machine file not found"
    assert not trace.exists()


def test_unknown_machine_name_exits_2_listing_the_embedded_machines() -> None:
    """--machine with a bare unknown name: status 2 and the list of embedded machines."""
    result = run("boot", "--machine", "nosuchmachine")
    assert_bad_input(result, "nosuchmachine: no embedded machine", "expected one of: default")


def test_unwritable_trace_file_exits_2_naming_the_trace_option(tmp_path: Path) -> None:
    """--trace into a missing directory: status 2 and one line naming --trace and the path."""
    trace = tmp_path / "missing" / "trace.txt"
    result = run("boot", "--trace", str(trace))
    assert_bad_input(result, f"--trace {trace}: cannot write the trace file")


def test_unknown_flag_exits_2() -> None:
    """An unknown option is a usage error: status 2, reported on stderr, no traceback."""
    result = run("boot", "--frobnicate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option '--frobnicate'" in result.stderr
    assert "Traceback" not in result.output


def test_negative_seed_exits_2() -> None:
    """--seed -1 is refused with status 2: seeds are non-negative."""
    result = run("boot", "--seed", "-1")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--seed" in result.stderr
    assert "-1 is not in the range x>=0" in result.stderr


# -- the exit-status contract, as a real process ---------------------------------------------


def kextlab_process(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kextlab.userland.cli", *arguments],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )


def test_python_m_kextlab_boots_and_exits_0() -> None:
    """`python -m kextlab.userland.cli boot` runs the command and exits 0 with the boot log."""
    process = kextlab_process("boot", "--seed", "3")
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("[    0.000000] firmware: kextlab Open Firmware")
    assert "(default), seed 3" in process.stdout.splitlines()[0]
    assert "\nDevice tree:\n" in process.stdout
    assert process.stderr == ""


def test_python_m_kextlab_exits_2_with_one_error_line_for_a_bad_machine_file(
    tmp_path: Path,
) -> None:
    """As a real process, a bad machine file gives status 2 and one error line, no traceback."""
    path = tmp_path / "bad.toml"
    path.write_text("[memory]\nsize = '2 GB'\n", encoding="utf-8")
    process = kextlab_process("boot", "--machine", str(path))
    assert process.returncode == 2
    assert process.stdout == ""
    assert process.stderr.startswith(f"kextlab: error: {path}: memory.size: ")
    assert process.stderr.count("\n") == 1
    assert process.stderr.endswith("\n")
    assert "Traceback" not in process.stderr


def test_python_m_kextlab_exits_2_for_an_unknown_flag() -> None:
    """As a real process, an unknown option exits with status 2 and no traceback."""
    process = kextlab_process("boot", "--frobnicate")
    assert process.returncode == 2
    assert "No such option" in process.stderr
    assert "Traceback" not in process.stderr


# -- kextlab of ---------------------------------------------------------------------------------


def test_of_ls_lists_the_host_bridge_subtree() -> None:
    """`kextlab of ls /pci@0,f2000000` lists the root bus's card, HBA and bridge, and the
    card behind the bridge (the HBA's SCSI targets are no firmware nodes)."""
    result = run("of", "ls", HOST_BRIDGE)
    assert result.exit_code == 0, result.output
    assert tree_entries(result.stdout.splitlines()) == [
        (0, "pci1234,2@2"),
        (0, "pci1b4b,9143@4"),
        (0, "pci-bridge@d"),
        (1, "pci1234,1@1"),
    ]


def test_of_ls_without_a_path_lists_the_whole_tree() -> None:
    """`kextlab of ls` lists from the root: the same lines as boot's Device tree section."""
    result = run("of", "ls")
    assert result.exit_code == 0, result.output
    boot = run("boot")
    assert result.stdout.splitlines() == device_tree_section(boot.stdout)


def test_of_properties_resolves_an_alias() -> None:
    """`kextlab of properties testcard0` prints the card's identity through its alias."""
    result = run("of", "properties", "testcard0")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == 'name                      "pci1234,1"'
    assert "vendor-id                 1234" in lines
    assert "device-id                 4b4c" in lines
    assert "class-code                ff0000" in lines
    assert "subsystem-id              1" in lines
    by_path = run("of", "properties", CARD_BEHIND_BRIDGE)
    assert by_path.stdout == result.stdout


def test_of_properties_of_the_32_bit_card_shows_its_subsystem() -> None:
    """testcard1 (subsystem_id = 2 in the default machine) shows subsystem-id 2."""
    result = run("of", "properties", "testcard1")
    assert result.exit_code == 0, result.output
    assert 'name                      "pci1234,2"' in result.stdout.splitlines()
    assert "subsystem-id              2" in result.stdout.splitlines()


@pytest.mark.parametrize(
    "arguments",
    [("ls", "/nope"), ("properties", "/nope"), ("properties", "nosuchalias")],
    ids=["ls", "properties-path", "properties-alias"],
)
def test_of_with_an_unknown_path_exits_2(arguments: tuple[str, ...]) -> None:
    """A path or alias that names no node: status 2 and 'kextlab: error: no node at'."""
    result = run("of", *arguments)
    line = assert_bad_input(result, "kextlab: error: no node at")
    assert line == (
        f"kextlab: error: no node at {arguments[1]!r}: expected a device path or an alias"
    )


# -- kextlab machines, kextlab devices ----------------------------------------------------------


def test_machines_lists_the_default_machine_and_its_devices() -> None:
    """`kextlab machines` describes the default machine: model, arch, RAM and devices."""
    result = run("machines")
    assert result.exit_code == 0, result.output
    assert (
        "default: KextLab1,1, x86 64-bit, 3072 MiB; "
        "bridge0 (dec21154), testcard0 (testcard), testcard1 (testcard), hba0 (mvumi9143)"
    ) in result.stdout.splitlines()


def test_devices_lists_the_models_and_the_testcard_parameters() -> None:
    """`kextlab devices` lists every built-in model, with each testcard parameter described."""
    result = run("devices")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    targets = lines.index("")
    models = [line.split(":")[0] for line in lines[:targets] if not line.startswith(" ")]
    assert models == ["dec21154", "mvumi9143", "mvumi9580", "testcard"]
    assert lines[targets + 1].startswith("SCSI targets ([[device.target]]")
    kinds = [
        line.strip().rstrip(":")
        for line in lines[targets + 2 :]
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert kinds == ["disk", "cdrom", "tape"]
    # a disk's image is optional: without one it is a scratch disk (the default machine's)
    assert "    image: raw image file (empty: a scratch disk of `size`) (str, default '')" in lines
    lines = lines[:targets]
    assert lines[0].startswith("dec21154: Digital 21154 PCI-to-PCI bridge")
    testcard = lines.index(next(line for line in lines if line.startswith("testcard: ")))
    parameters = [line.strip().split(":")[0] for line in lines[testcard + 1 :]]
    assert parameters == [
        "dma_address_bits",
        "dma_rate_mib_per_s",
        "descriptor_latency_ns",
        "latency_jitter_ns",
        "max_transfer",
        "sram_size",
        "interrupt_pin",
        "subsystem_id",
        "rom",
        "interrupt_wire_cut",
    ]
    assert (
        "    dma_address_bits: address lines the card drives: 32 truncates every DMA address "
        "(int, default 64; one of 32, 64)"
    ) in lines
    assert any(
        line.startswith("    sram_size:")
        and line.endswith("(size, default 64 KiB; a power of two)")
        for line in lines
    )
