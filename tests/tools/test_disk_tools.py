"""diskspeed, rwfile and iostat: through the whole storage stack, on machines with a Marvell HBA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kextlab.kernel.kernel import Kernel
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.testing.kernel import booted_kernel
from kextlab.testing.partitions import GPTPartition, gpt
from kextlab.userland import iokitlib as io
from kextlab.userland.cli import main
from kextlab.userland.tools.disk_choice import DiskChoiceError, choose_disk
from kextlab.userland.tools.diskspeed import DiskSpeedOptions, format_report, run_diskspeed
from kextlab.userland.tools.iostat import disk_statistics, iostat
from kextlab.userland.tools.rwfile import RWFileOptions, run_rwfile
from kextlab.userland.tools.rwfile import format_report as format_rwfile

MIB = 1 << 20


def machine_text(*targets: str) -> str:
    lines = ['[memory]\nsize = "1G"\n[[device]]\nname = "hba0"\nmodel = "mvumi9143"\nslot = 4\n']
    lines += targets
    return "".join(lines)


def scratch_disk(target_id: int, size: str = "16M", mib_per_s: int = 400) -> str:
    return (
        f'[[device.target]]\nid = {target_id}\ntype = "disk"\nsize = "{size}"\n'
        f"mib_per_s = {mib_per_s}\n"
    )


@pytest.fixture
def machine_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(machine_text(scratch_disk(0), scratch_disk(1)), encoding="utf-8")
    return path


@pytest.fixture
def kernel(machine_file: Path) -> Iterator[Kernel]:
    with booted_kernel(str(machine_file)) as booted:
        yield booted


def port_of(kernel: Kernel) -> io.mach_port_t:
    return io.IOMainPort(kernel.registry, kernel)


def disk_unit(kernel: Kernel, target_id: int) -> DiskUnit:
    target = kernel.machine.scsi_buses()["hba0"].target(target_id)
    assert target is not None
    unit = target.units[0]
    assert isinstance(unit, DiskUnit)
    return unit


def test_rwfile_writes_reads_back_and_finds_no_mismatch_on_a_healthy_disk(kernel: Kernel) -> None:
    """Two passes of the LBA pattern over 2 MiB of disk0 come back intact, and the data
    really is on the disk: block 7 of the image starts with LBA 7 and pass 2."""
    options = RWFileOptions(disk="disk0", size=2 * MIB, block=64 << 10, passes=2)
    report = run_rwfile(port_of(kernel), options)
    assert report.error is None
    assert report.mismatch_count == 0
    assert report.blocks_checked == 2 * (2 * MIB // 512)
    output = format_rwfile(report, options)
    assert output.status == 0
    assert output.stdout[-1] == "0 mismatches"
    block = bytearray(512)
    disk_unit(kernel, 0).image.read(7, 1, [memoryview(block)])
    assert int.from_bytes(block[:8], "little") == 7
    assert int.from_bytes(block[8:12], "little") == 2


def test_rwfile_reports_a_block_corrupted_behind_its_back_by_lba(kernel: Kernel) -> None:
    """A block changed on the medium between the write and the read-back is reported
    by its LBA, with the first wrong byte, and the exit status is 1."""
    unit = disk_unit(kernel, 0)
    corrupted = False

    def corrupt_when_reading(phase: str, done: int, total: int) -> None:
        nonlocal corrupted
        if phase.endswith("read") and not corrupted:
            unit.image.write(300, 1, [memoryview(b"\xee" * 512)], force_unit_access=True)
            corrupted = True

    options = RWFileOptions(disk="disk0", size=1 * MIB, block=64 << 10, queue_depth=1)
    report = run_rwfile(port_of(kernel), options, corrupt_when_reading)
    assert report.mismatch_count == 1
    (mismatch,) = report.mismatches
    assert (mismatch.lba, mismatch.offset, mismatch.found) == (300, 0, 0xEE)
    output = format_rwfile(report, options)
    assert output.status == 1
    assert "mismatch: pass 1 LBA 300 byte 0" in output.stdout[2]


def test_diskspeed_measures_the_device_models_rate_in_virtual_time(tmp_path: Path) -> None:
    """On a 100 MiB/s disk, sequential MB/s in virtual time is close to 100 MiB/s (a
    little less: per-command costs), random IOPS are positive, the data verifies."""
    path = tmp_path / "slow.toml"
    path.write_text(machine_text(scratch_disk(0, mib_per_s=100)), encoding="utf-8")
    options = DiskSpeedOptions(size=4 * MIB, random_ops=64, queue_depth=8)
    with booted_kernel(str(path)) as kernel:
        report = run_diskspeed(port_of(kernel), options)
    assert report.disk == "disk0"
    assert report.mismatches == 0
    phases = {figure.phase: figure for figure in report.figures}
    assert set(phases) == {"write", "read", "random read", "random write"}
    for phase in ("write", "read"):
        assert 80 < phases[phase].virtual_mb_per_s <= 100 * MIB / 1e6 * 1.001
    assert phases["random read"].operations == 64
    assert phases["random read"].virtual_iops > 0
    output = format_report(report, options)
    assert output.status == 0
    assert output.stdout[-1] == "verified: 0 mismatched blocks"


def test_iostat_counts_what_the_tools_did_per_disk(kernel: Kernel) -> None:
    """After rwfile writes 1 MiB to disk1 in 64 KiB transfers and reads it back, the
    driver's statistics show 16 writes of 1 MiB in all and the reads on top of the boot's."""
    port = io.IOMainPort(kernel.registry, kernel)
    before = {disk.name: disk for disk in disk_statistics(port)}
    run_rwfile(port_of(kernel), RWFileOptions(disk="disk1", size=1 * MIB, block=64 << 10))
    after = {disk.name: disk for disk in disk_statistics(port)}
    assert after["disk1"].writes - before["disk1"].writes == 16
    assert after["disk1"].bytes_written - before["disk1"].bytes_written == MIB
    assert after["disk1"].reads - before["disk1"].reads == 16
    assert after["disk0"].writes == before["disk0"].writes
    output = iostat(port, kernel.scheduler.now, ("disk1",), totals=True)
    assert output.status == 0
    assert output.stdout[0].split() == ["disk1"]
    assert output.stdout[1].split() == ["KB/t", "xfrs", "MB"]
    extended = iostat(port, kernel.scheduler.now, extended=True)
    assert [line.split()[0] for line in extended.stdout[1:]] == ["disk0", "disk1"]
    missing = iostat(port, kernel.scheduler.now, ("disk9",))
    assert missing.status == 1


def test_a_disk_with_a_partition_map_is_only_written_when_forced(tmp_path: Path) -> None:
    """A disk holding a GUID partition map is skipped when no disk is named and refused
    by name without force; a blank one is chosen."""
    image = tmp_path / "gpt.img"
    hfs = GPTPartition("48465300-0000-11AA-AA11-00306543ECAC", 40, 8 * MIB // 512 - 40, "Lab")
    image.write_bytes(gpt([hfs], 8 * MIB))
    path = tmp_path / "lab.toml"
    path.write_text(
        machine_text(
            f'[[device.target]]\nid = 0\ntype = "disk"\nimage = "{image}"\n', scratch_disk(1)
        ),
        encoding="utf-8",
    )
    with booted_kernel(str(path)) as kernel:
        port = io.IOMainPort(kernel.registry, kernel)
        assert choose_disk(port, None).name == "disk1"
        with pytest.raises(DiskChoiceError, match="disk0 holds a GUID_partition_scheme"):
            choose_disk(port, "/dev/rdisk0")
        assert choose_disk(port, "disk0", force=True).name == "disk0"
        with pytest.raises(DiskChoiceError, match="no disk is called disk7"):
            choose_disk(port, "disk7")


def test_the_commands_run_against_a_machine_file_and_refuse_bad_input(machine_file: Path) -> None:
    """rwfile and diskspeed run from the command line with exit status 0; an unknown
    disk or a size that is no size is one message and exit status 2."""
    runner = CliRunner()
    good = runner.invoke(
        main, ["rwfile", "--machine", str(machine_file), "--size", "1M", "--no-progress"]
    )
    assert good.exit_code == 0, good.output
    assert "0 mismatches" in good.output
    speed = runner.invoke(
        main,
        ["diskspeed", "--machine", str(machine_file), "--size", "2M", "--random-ops", "32"],
    )
    assert speed.exit_code == 0, speed.output
    assert "sequential read, 1024 KiB" in speed.output
    unknown = runner.invoke(main, ["rwfile", "--machine", str(machine_file), "--disk", "disk9"])
    assert unknown.exit_code == 2
    assert "no disk is called disk9" in unknown.output
    bad_size = runner.invoke(main, ["diskspeed", "--machine", str(machine_file), "--size", "lots"])
    assert bad_size.exit_code == 2
    assert "--size 'lots'" in bad_size.output
    stats = runner.invoke(main, ["iostat", "--machine", str(machine_file), "-x"])
    assert stats.exit_code == 0, stats.output
    assert stats.output.splitlines()[1].startswith("disk0")
