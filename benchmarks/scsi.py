"""Real-time cost of SCSI I/O through the emulated Marvell UMI HBA, against raw I/O.

Run it with ``python3 dev.py python benchmarks/scsi.py`` (``--quick`` for a smoke
run).  A machine with the HBA (``mvumi9143``) and a ``DiskUnit`` on an image file is
brought up at register level by ``kextlab.testing.umibench`` (the driver's part,
without a kernel: handshake, inbound list, doorbell, outbound list, polled
completions); every figure moves real data between the image file and the machine's
RAM through the HBA's rings and scatter-gather DMA, and is compared with raw
``os.preadv``/``os.pwritev`` on the *same image file* in the same run.

The figures
-----------
4 KiB read, QD 1
    Commands per second: one READ(10) of eight 512-byte blocks at a time, each
    submitted, run to completion and collected before the next.  Baseline: one
    ``os.preadv`` of 4 KiB at the same offsets.
4 KiB read, QD 32
    The same with 32 commands submitted together, then collected together (the
    driver's batch).  Same baseline, same count.
1 MiB sequential read / write
    Throughput (MB/s, 10**6 bytes) of READ(10) / WRITE(10) of 2,048 blocks with a
    16-entry scatter-gather list (64 KiB each) over consecutive LBAs.  The disk's
    write cache is off for the write figure, so the data reaches the file through
    ``os.pwritev`` as the baseline's does.  Baseline: ``os.preadv`` / ``os.pwritev``
    of 1 MiB between a memoryview and the file at the same offsets.

Every figure checks its result: every response GOOD with the right tag, read data
equal to the file's, written data found in the file.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import Row, best_of, check, parse_arguments, print_header, report, scaled_counts

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.scsi.constants import Opcode
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.image import DiskImage
from kextlab.machine.scsi.target import SCSITarget
from kextlab.testing.umibench import UMIBench, hba_machine

BLOCK = 512
DISK_BYTES = 64 << 20
SMALL = 4096
BIG = 1 << 20
SEGMENT = 64 << 10
FULL_COUNTS = {"qd1": 4_000, "qd32": 8_000, "big": 200}
QUICK_DIVISOR = 20
QUEUE_DEPTH = 32
DATA_IN = int(mv.CommandFlag.CMD_FLAG_DATA_IN)
DATA_OUT = int(mv.CommandFlag.CMD_FLAG_DATA_OUT)
WRITE_10 = int(Opcode.WRITE_10)
_CDB10 = struct.Struct(">BxIxHx")


def cdb10(opcode: int, lba: int, blocks: int) -> bytes:
    return _CDB10.pack(opcode, lba, blocks)


def fill_image(path: Path) -> None:
    """Every 4 KiB of the image holds its own offset, so reads can be checked."""
    with path.open("wb") as file:
        for offset in range(0, DISK_BYTES, SMALL):
            file.write(offset.to_bytes(8, "little") * (SMALL // 8))


class Rig:
    """The bench with a disk at target 0 and DMA buffers in RAM."""

    def __init__(self, bench: UMIBench, image: DiskImage) -> None:
        self.bench = bench
        self.image = image
        bench.start()
        bench.hba.scsi_bus.attach(0, SCSITarget("disk0", {0: DiskUnit("disk0", image)}))
        check(bench.clear_unit_attention().status == 0x02, "no power-on unit attention")
        self.small = [bench.low.allocate(SMALL, 4096) for _ in range(QUEUE_DEPTH)]
        self.big = bench.low.allocate(BIG, 4096)
        self.segments = [(self.big + offset, SEGMENT) for offset in range(0, BIG, SEGMENT)]
        self.tag = 0

    def frame(self, opcode: int, lba: int, blocks: int, segments: list[tuple[int, int]]) -> bytes:
        flag = DATA_OUT if opcode == WRITE_10 else DATA_IN
        self.tag = (self.tag + 1) & 0xFFFF
        return self.bench.frame(
            cdb10(opcode, lba, blocks), tag=self.tag, flag=flag, segments=segments
        )

    def run(self, frames: list[bytes]) -> None:
        responses = self.bench.run(frames)
        check(len(responses) == len(frames), f"{len(responses)} responses to {len(frames)}")
        bad = [response for response in responses if response.status != 0]
        check(not bad, f"a command failed: {bad[:1]}")

    def small_reads(self, count: int, depth: int) -> Callable[[], float]:
        blocks = SMALL // BLOCK
        lbas = [(index * 97 % (DISK_BYTES // SMALL)) * blocks for index in range(count)]

        def run() -> float:
            start = time.perf_counter()
            for first in range(0, count, depth):
                batch = lbas[first : first + depth]
                self.run(
                    [
                        self.frame(Opcode.READ_10, lba, blocks, [(self.small[slot], SMALL)])
                        for slot, lba in enumerate(batch)
                    ]
                )
            elapsed = time.perf_counter() - start
            last = lbas[-1] * BLOCK
            slot = (count - 1) % depth
            got = self.bench.get(self.small[slot], 8)
            check(got == last.to_bytes(8, "little"), "4 KiB read brought the wrong data")
            return elapsed

        return run

    def big_transfers(self, count: int, opcode: int) -> Callable[[], float]:
        blocks = BIG // BLOCK

        def run() -> float:
            start = time.perf_counter()
            for index in range(count):
                lba = (index % (DISK_BYTES // BIG)) * blocks
                self.run([self.frame(opcode, lba, blocks, self.segments)])
            elapsed = time.perf_counter() - start
            if opcode == Opcode.READ_10:
                offset = ((count - 1) % (DISK_BYTES // BIG)) * BIG + BIG - SMALL
                got = self.bench.get(self.big + BIG - SMALL, 8)
                check(got == offset.to_bytes(8, "little"), "1 MiB read brought the wrong data")
            return elapsed

        return run


def raw_io(fd: int, count: int, size: int, write: bool) -> Callable[[], float]:
    buffer = memoryview(bytearray(size))
    span = DISK_BYTES // size

    def run() -> float:
        io = os.pwritev if write else os.preadv
        start = time.perf_counter()
        for index in range(count):
            io(fd, [buffer], (index * 97 % span) * size)
        return time.perf_counter() - start

    return run


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        argv,
        "Time SCSI I/O through the emulated Marvell UMI HBA against raw preadv/pwritev.",
        QUICK_DIVISOR,
    )
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR, QUEUE_DEPTH)
    repeat = arguments.repeat
    print_header("SCSI", arguments)
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kextlab-scsi-bench-") as directory:
        path = Path(directory) / "disk.img"
        fill_image(path)
        fd = os.open(path, os.O_RDWR)
        try:
            with hba_machine() as bench, DiskImage(path) as image:
                rig = Rig(bench, image)
                for depth, key in ((1, "qd1"), (QUEUE_DEPTH, "qd32")):
                    count = counts[key]
                    raw, hba = best_of(
                        repeat, raw_io(fd, count, SMALL, False), rig.small_reads(count, depth)
                    )
                    rows.append(
                        Row(
                            f"4 KiB read, QD {depth}",
                            "commands",
                            count,
                            hba,
                            raw,
                            "os.preadv 4 KiB",
                        )
                    )
                count = counts["big"]
                raw, hba = best_of(
                    repeat, raw_io(fd, count, BIG, False), rig.big_transfers(count, Opcode.READ_10)
                )
                rows.append(
                    Row("1 MiB sequential read", "bytes", BIG * count, hba, raw, "os.preadv 1 MiB")
                )
                image.set_write_cache(False)
                raw, hba = best_of(
                    repeat, raw_io(fd, count, BIG, True), rig.big_transfers(count, Opcode.WRITE_10)
                )
                rows.append(
                    Row(
                        "1 MiB sequential write", "bytes", BIG * count, hba, raw, "os.pwritev 1 MiB"
                    )
                )
                check(not bench.machine.guest_errors.messages(), "the HBA logged guest errors")
        finally:
            os.close(fd)
    report(rows, started, baseline="raw I/O on the same file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
