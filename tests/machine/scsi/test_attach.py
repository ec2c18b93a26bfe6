"""SCSI targets and fault injection from a machine file.

A machine file gives a host bus adapter ``[[device.target]]`` entries and the
machine ``[scsi_faults]``; building the machine plugs the targets in (now, or at a
virtual time), configures its one fault injector, and closing it closes the media.
Every mistake is a ``MachineDescriptionError`` naming the file and the key.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from kextlab.errors import MachineDescriptionError
from kextlab.machine.description import load_machine_description
from kextlab.machine.machine import Machine
from kextlab.machine.scsi import Direction, HostStatus, MemoryBuffer, SCSIRequest
from kextlab.machine.scsi.cdrom import CDROMUnit
from kextlab.machine.scsi.constants import Opcode, Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.faults import Action, Opts
from kextlab.machine.scsi.tape import TapeUnit
from kextlab.sim.time import MILLISECOND
from tests.machine.scsi.initiator import make_iso

HBA = '[memory]\nsize = "256M"\n[[device]]\nname = "hba0"\nmodel = "mvumi9143"\nslot = 4\n'


def write_machine(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(text, encoding="utf-8")
    return path


def machine_from(tmp_path: Path, text: str) -> Machine:
    return Machine(load_machine_description(str(write_machine(tmp_path, text))))


def refused(tmp_path: Path, text: str) -> str:
    path = write_machine(tmp_path, text)
    with pytest.raises(MachineDescriptionError) as error:
        Machine(load_machine_description(str(path)))
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_targets_of_every_type_are_plugged_in(tmp_path: Path) -> None:
    make_iso(tmp_path / "disc.iso")
    text = (
        HBA
        + '[[device.target]]\nid = 0\ntype = "disk"\nimage = "disk.img"\nsize = "1M"\n'
        + "queue_depth = 8\nmib_per_s = 100\n"
        + '[[device.target]]\nid = 3\ntype = "cdrom"\nimage = "disc.iso"\n'
        + '[[device.target]]\nid = 5\ntype = "tape"\nimage = "tape.aws"\n'
    )
    with machine_from(tmp_path, text) as machine:
        bus = machine.scsi_buses()["hba0"]
        targets = bus.targets()
        assert sorted(targets) == [0, 3, 5]
        assert isinstance(targets[0].unit, DiskUnit)
        assert isinstance(targets[3].unit, CDROMUnit)
        assert isinstance(targets[5].unit, TapeUnit)
        assert (tmp_path / "disk.img").stat().st_size == 1 << 20
        assert bus.queue_occupancy(0) == (0, 8)
        assert bus.faults is machine.scsi_faults
    assert (tmp_path / "tape.aws").exists()


def test_hot_plug_times_come_from_the_file(tmp_path: Path) -> None:
    text = (
        HBA
        + '[[device.target]]\nid = 1\ntype = "disk"\nimage = "d.img"\nsize = "64K"\n'
        + f"attach_at_ns = {5 * MILLISECOND}\ndetach_at_ns = {9 * MILLISECOND}\n"
    )
    with machine_from(tmp_path, text) as machine:
        bus = machine.scsi_buses()["hba0"]
        changes: list[tuple[int, int, bool]] = []
        bus.on_change.append(
            lambda target_id, target: changes.append(
                (machine.scheduler.now, target_id, target is not None)
            )
        )
        assert bus.target(1) is None
        machine.run_for(6 * MILLISECOND)
        assert bus.target(1) is not None
        machine.run_for(6 * MILLISECOND)
        assert bus.target(1) is None
        assert changes == [(5 * MILLISECOND, 1, True), (9 * MILLISECOND, 1, False)]


def test_scsi_faults_configure_the_machines_injector(tmp_path: Path) -> None:
    text = (
        HBA
        + '[[device.target]]\nid = 0\ntype = "disk"\nimage = "d.img"\nsize = "1M"\n'
        + "[scsi_faults]\nevery_nth = 4\nopts = 0x4\n"
        + '[[scsi_faults.rule]]\nhba = "hba0"\ntarget = 0\naction = "busy"\ncount = 1\n'
        + '[[scsi_faults.rule]]\nscsi_debug = "2 -1 0x28 0 0 0x2 0x3 0x11 0x0"\ntarget = 0\n'
    )
    with machine_from(tmp_path, text) as machine:
        faults = machine.scsi_faults
        assert (faults.every_nth, faults.opts) == (4, Opts.TIMEOUT)
        assert [rule.action for rule in faults.rules] == [Action.BUSY, Action.FAIL]
        assert faults.rules[0].bus == "hba0.scsi"
        assert faults.rules[1].bus is None
        bus = machine.scsi_buses()["hba0"]
        results: list[SCSIRequest] = []
        for cdb in (bytes(6), bytes([Opcode.READ_10, 0, 0, 0, 0, 1, 0, 0, 1, 0]), bytes(6)):
            buffer = MemoryBuffer(512) if cdb[0] == Opcode.READ_10 else None
            request = SCSIRequest(0, cdb, Direction.IN if buffer else Direction.NONE, buffer)
            bus.submit(0, request)
            results.append(request)
        machine.run_for(MILLISECOND)
        assert results[0].status is Status.BUSY
        assert results[1].status is Status.CHECK_CONDITION
        assert results[2].host_status is HostStatus.OK


def test_a_fresh_machine_from_the_same_file_starts_its_rules_afresh(tmp_path: Path) -> None:
    text = HBA + '[[scsi_faults.rule]]\naction = "timeout"\ncount = 2\n'
    description = load_machine_description(str(write_machine(tmp_path, text)))
    with Machine(description) as first:
        first.scsi_faults.rules[0].fire()
        assert first.scsi_faults.rules[0].count == 1
    with Machine(description) as second:
        assert second.scsi_faults.rules[0].count == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[device.target]]\nid = 0\ntype = "floppy"\n',
            "device[0].target[0].type: expected one of disk, cdrom, tape, not 'floppy'",
        ),
        (
            '[[device.target]]\nid = 0\ntype = "disk"\n',
            "device[0].target[0].image: a disk needs an image file, or a size for a scratch disk",
        ),
        (
            '[[device.target]]\nid = 0\ntype = "disk"\nimage = "x.img"\ncolour = 1\n',
            "device[0].target[0].colour: a disk target has no such key",
        ),
        (
            '[[device.target]]\nid = 0\ntype = "cdrom"\n[[device.target]]\nid = 0\ntype = "tape"\n',
            "device[0].target[1].id: target ID 0 is already taken by target[0]",
        ),
        (
            '[[device.target]]\nid = 20\ntype = "cdrom"\n',
            "device[0].target[0].id: hba0.scsi: target IDs are 0-15, not 20",
        ),
        (
            '[[device.target]]\nid = 0\ntype = "disk"\nimage = "missing.img"\n',
            "device[0].target[0].image: ",
        ),
        (
            '[[device.target]]\nid = 0\ntype = "cdrom"\nimage = "d.img"\n'
            + "attach_at_ns = 10\ndetach_at_ns = 5\n",
            "device[0].target[0].detach_at_ns: expected a time after attach_at_ns (10)",
        ),
        ("[scsi_faults]\nevery_n = 3\n", "scsi_faults.every_n: no such setting"),
        (
            "[scsi_faults]\nopts = 0x20\n",
            "scsi_faults.opts: opts bit 0x20 (DIF_ERR) is not offered",
        ),
        (
            '[[scsi_faults.rule]]\nhba = "hba9"\naction = "busy"\n',
            "scsi_faults.rule[0].hba: no host bus adapter is called 'hba9'; the machine's are: "
            "hba0",
        ),
        (
            '[[scsi_faults.rule]]\nscsi_debug = "7 1 0x28"\n',
            "scsi_faults.rule[0].scsi_debug: rule '7 1 0x28': unknown code 7",
        ),
        (
            '[[scsi_faults.rule]]\naction = "medium-error"\nlba = "x"\n',
            "scsi_faults.rule[0].lba: expected a whole number, got 'x'",
        ),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    assert refused(tmp_path, HBA + extra).startswith(message)


def test_targets_need_a_host_bus_adapter(tmp_path: Path) -> None:
    text = (
        '[memory]\nsize = "256M"\n[[device]]\nmodel = "testcard"\nslot = 1\n'
        + '[[device.target]]\nid = 0\ntype = "cdrom"\n'
    )
    assert refused(tmp_path, text) == (
        "device[0].target: model 'testcard' has no SCSI bus to attach targets to"
    )


def test_a_machine_that_fails_to_build_closes_what_it_opened(tmp_path: Path) -> None:
    """The first target's image is opened, the second's cannot be: nothing stays open."""
    text = (
        HBA
        + '[[device.target]]\nid = 0\ntype = "disk"\nimage = "good.img"\nsize = "64K"\n'
        + '[[device.target]]\nid = 1\ntype = "cdrom"\nimage = "absent.iso"\n'
    )
    before = len(list(Path("/proc/self/fd").iterdir())) if Path("/proc/self/fd").exists() else 0
    refused(tmp_path, text)
    if before:
        assert len(list(Path("/proc/self/fd").iterdir())) == before


def test_a_disk_with_a_size_and_no_image_is_a_scratch_disk_that_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scratch disk has its size, keeps what is written while the machine runs, and
    its file is gone from the host's temporary directory as soon as it is open."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        text = HBA + '[[device.target]]\nid = 0\ntype = "disk"\nsize = "1M"\n'
        with machine_from(tmp_path, text) as machine:
            target = machine.scsi_buses()["hba0"].target(0)
            assert target is not None
            unit = target.units[0]
            assert isinstance(unit, DiskUnit)
            assert unit.blocks == 2048
            assert list((tmp_path / "tmp").iterdir()) == []
            data = bytearray(b"\xa5" * 512)
            unit.image.write(7, 1, [memoryview(data)], force_unit_access=True)
            back = bytearray(512)
            unit.image.read(7, 1, [memoryview(back)])
            assert back == data
    finally:
        tempfile.tempdir = None


def test_closing_the_machine_writes_the_disk_cache_back(tmp_path: Path) -> None:
    text = HBA + '[[device.target]]\nid = 0\ntype = "disk"\nimage = "d.img"\nsize = "64K"\n'
    with machine_from(tmp_path, text) as machine:
        disk = machine.scsi_buses()["hba0"].targets()[0].unit
        assert isinstance(disk, DiskUnit)
        disk.take_unit_attention()
        write = SCSIRequest(
            0,
            bytes([Opcode.WRITE_10, 0, 0, 0, 0, 2, 0, 0, 1, 0]),
            Direction.OUT,
            MemoryBuffer(b"\xab" * 512),
        )
        disk.execute(write)
        assert write.ok
        assert disk.image.dirty_bytes == 512
    assert (tmp_path / "d.img").read_bytes()[1024:1536] == b"\xab" * 512
