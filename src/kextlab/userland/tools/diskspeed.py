"""``diskspeed``: how fast a disk is through the whole stack, as Blackmagic Disk Speed Test says.

Seed 000 verifies its port with Blackmagic Disk Speed Test and AJA System Test; this
is that test for a kextlab disk.  A user task opens the raw device (``/dev/rdiskN``)
and runs four phases through everything below it (``IOMedia`` →
``IOBlockStorageDriver`` → ``IOBlockStorageServices`` → the SCSI peripheral driver →
``SCSITask`` → the HBA driver → the emulated HBA → the target → the image file):

1. sequential write of ``size`` bytes in ``block``-byte transfers;
2. sequential read of the same range;
3. random ``random_block`` reads at ``queue_depth`` outstanding, ``random_ops`` of them;
4. random writes the same way.

The program runs on one user thread and keeps ``queue_depth`` transfers in flight
(``submit_read``/``submit_write``, then ``wait_any``), as the real tools do with
asynchronous I/O.  Each figure has two clocks:

* **virtual**: the emulated machine's time, so MB/s and IOPS are what the *device
  models* deliver (the targets' ``mib_per_s`` and ``command_ns``, the HBA's latency):
  the same on every host, the number a driver author reads;
* **host**: real time on this computer, which says how fast kextlab itself runs.

The data written is a seeded pattern (the machine's seed), and the sequential read
checks it, so a fast figure over wrong data cannot pass unnoticed (``mismatches``).

Threading rules: user code (the host); the work runs on the task's user thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kextlab.userland.devices import DiskDevice, DiskIO, open_device
from kextlab.userland.iokitlib import mach_port_t
from kextlab.userland.mach_time import mach_absolute_time
from kextlab.userland.tools import ToolOutput
from kextlab.userland.tools.disk_choice import DiskChoiceError, choose_disk
from kextlab.userland.user_task import UserBuffer, UserTask

#: progress(phase, done, total): called as a phase moves on.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DiskSpeedOptions:
    disk: str | None = None
    size: int = 64 << 20
    block: int = 1 << 20
    random_block: int = 4096
    random_ops: int = 2000
    queue_depth: int = 32
    force: bool = False
    seed: int = 0  # of the data pattern (the command passes the machine's)


@dataclass(frozen=True)
class Figure:
    """One phase's result."""

    phase: str
    operations: int
    bytes: int
    virtual_ns: int
    host_seconds: float

    @property
    def virtual_mb_per_s(self) -> float:
        return self.bytes / (self.virtual_ns / 1e9) / 1e6 if self.virtual_ns else 0.0

    @property
    def host_mb_per_s(self) -> float:
        return self.bytes / self.host_seconds / 1e6 if self.host_seconds else 0.0

    @property
    def virtual_iops(self) -> float:
        return self.operations / (self.virtual_ns / 1e9) if self.virtual_ns else 0.0

    @property
    def host_iops(self) -> float:
        return self.operations / self.host_seconds if self.host_seconds else 0.0


@dataclass
class DiskSpeedReport:
    disk: str
    description: str
    figures: list[Figure] = field(default_factory=list)
    mismatches: int = 0


def _pattern(seed: int, length: int) -> bytes:
    """A seeded, repeatable, non-trivial pattern (xorshift over 64-bit words)."""
    state = (seed * 0x9E3779B97F4A7C15 + 0x1234567) & 0xFFFF_FFFF_FFFF_FFFF or 1
    words = bytearray()
    for _ in range(min(length, 1 << 16) // 8):
        state ^= (state << 13) & 0xFFFF_FFFF_FFFF_FFFF
        state ^= state >> 7
        state ^= (state << 17) & 0xFFFF_FFFF_FFFF_FFFF
        words += state.to_bytes(8, "little")
    repeated = bytes(words) * (length // len(words) + 1) if words else bytes(length)
    return repeated[:length]


class _Runner:
    """The program's main thread: the phases, ``queue_depth`` transfers in flight."""

    def __init__(
        self,
        port: mach_port_t,
        task: UserTask,
        device: DiskDevice,
        options: DiskSpeedOptions,
        seed: int,
    ) -> None:
        self.task = task
        self.device = device
        self.options = options
        self.seed = seed
        self.port = port

    def sequential(self, phase: str, reading: bool, size: int, progress: Progress | None) -> Figure:
        options = self.options
        depth = max(1, min(options.queue_depth, size // options.block))
        buffers = [self.task.vm_allocate(options.block) for _ in range(depth)]
        if not reading:
            pattern = _pattern(self.seed, options.block)
            for buffer in buffers:
                buffer.write(pattern)
        offsets = list(range(0, size, options.block))
        figure = self._run(phase, reading, buffers, offsets, options.block, progress)
        for buffer in buffers:
            buffer.deallocate()
        return figure

    def random(self, phase: str, reading: bool, span: int, progress: Progress | None) -> Figure:
        options = self.options
        block = options.random_block
        slots = max(1, span // block)
        state = (self.seed + (1 if reading else 2)) * 2654435761 % (1 << 32) or 1
        offsets = []
        for _ in range(options.random_ops):
            state = (state * 1103515245 + 12345) % (1 << 31)
            offsets.append((state % slots) * block)
        depth = max(1, options.queue_depth)
        buffers = [self.task.vm_allocate(block) for _ in range(depth)]
        figure = self._run(phase, reading, buffers, offsets, block, progress)
        for buffer in buffers:
            buffer.deallocate()
        return figure

    def _run(
        self,
        phase: str,
        reading: bool,
        buffers: list[UserBuffer],
        offsets: list[int],
        length: int,
        progress: Progress | None,
    ) -> Figure:
        device = self.device
        submit = device.submit_read if reading else device.submit_write
        free = list(buffers)
        in_flight: dict[DiskIO, UserBuffer] = {}
        done = 0
        total = len(offsets)
        step = max(1, total // 50)
        started_ns = mach_absolute_time(self.port)
        started = time.perf_counter()
        for offset in offsets:
            if not free:
                finished = self.task.wait_any(list(in_flight))
                assert isinstance(finished, DiskIO)
                finished.result()
                free.append(in_flight.pop(finished))
                done += 1
                if progress is not None and done % step == 0:
                    progress(phase, done, total)
            buffer = free.pop()
            in_flight[submit(buffer, offset, length)] = buffer
        self.task.wait_all(list(in_flight))
        for io in in_flight:
            io.result()
        elapsed = time.perf_counter() - started
        if progress is not None:
            progress(phase, total, total)
        return Figure(
            phase, total, total * length, mach_absolute_time(self.port) - started_ns, elapsed
        )

    def verify(self, size: int) -> int:
        """Blocks of the sequential range that do not hold the pattern written."""
        block = self.options.block
        pattern = _pattern(self.seed, block)
        buffer = self.task.vm_allocate(block)
        bad = 0
        for offset in range(0, size, block):
            self.device.preadinto(buffer, offset)
            if buffer.view() != pattern:
                bad += 1
        buffer.deallocate()
        return bad


def run_diskspeed(
    port: mach_port_t, options: DiskSpeedOptions, progress: Progress | None = None
) -> DiskSpeedReport:
    """Run the test on the port's machine; ``DiskChoiceError`` if no disk fits,
    ``OSError`` (naming the device) if the disk fails."""
    disk = choose_disk(port, options.disk, force=options.force)
    size = min(options.size, disk.size) // options.block * options.block
    if size <= 0:
        raise DiskChoiceError(
            f"{disk.name} ({disk.size} bytes) is smaller than one {options.block}-byte block"
        )
    report = DiskSpeedReport(disk.name, f"{disk.name}, {disk.size // (1 << 20)} MiB")
    with UserTask(port, "diskspeed") as task:

        def main() -> None:
            with open_device(task, disk.raw_path, os.O_RDWR) as device:
                runner = _Runner(port, task, device, options, options.seed)
                report.figures.append(runner.sequential("write", False, size, progress))
                device.fsync()
                report.figures.append(runner.sequential("read", True, size, progress))
                report.mismatches = runner.verify(size)
                report.figures.append(runner.random("random read", True, size, progress))
                report.figures.append(runner.random("random write", False, size, progress))
                device.fsync()

        task.run(main)
    return report


def format_report(report: DiskSpeedReport, options: DiskSpeedOptions) -> ToolOutput:
    """The table diskspeed prints."""
    random_size = f"{options.random_block // 1024} KiB"
    labels = {
        "write": f"sequential write, {options.block >> 10} KiB",
        "read": f"sequential read, {options.block >> 10} KiB",
        "random read": f"random read, {random_size}, QD {options.queue_depth}",
        "random write": f"random write, {random_size}, QD {options.queue_depth}",
    }
    lines = [
        f"Disk: {report.description}",
        "",
        f"{'test':<34} {'device (virtual time)':>22} {'kextlab (host time)':>22}",
    ]
    for figure in report.figures:
        if figure.phase.startswith("random"):
            device = f"{figure.virtual_iops:,.0f} IOPS"
            host = f"{figure.host_iops:,.0f} IOPS"
        else:
            device = f"{figure.virtual_mb_per_s:,.1f} MB/s"
            host = f"{figure.host_mb_per_s:,.1f} MB/s"
        lines.append(f"{labels[figure.phase]:<34} {device:>22} {host:>22}")
    lines.append("")
    lines.append(f"verified: {report.mismatches} mismatched blocks")
    return ToolOutput(stdout=lines, status=1 if report.mismatches else 0)
