"""``rwfile``: write patterns to a disk, read them back, verify, report mismatches by LBA.

Seed 000's verification list names "rwfile": the data-integrity test every storage
driver port runs.  This one writes a range of a disk through the whole stack in
``block``-byte transfers with ``queue_depth`` in flight, flushes the disk's cache,
reads the range back and compares it with what was written, pass after pass.  The
patterns:

``lba``          every logical block starts with its LBA and the pass number
                 (catches misdirected and stale blocks; the default)
``random``       a seeded pseudo-random stream (the machine's seed and the pass)
``zeros``/``ones``   all 0x00 / all 0xFF
``alternating``  0x55 0xAA ... (stuck data lines)

Every mismatching block is listed by LBA (the first ``max_reported``; the count is
always exact), with the offset of its first wrong byte, what was expected there
and what came back.  An I/O error stops the run and names the device; the exit
status is 1 for mismatches or errors.

Threading rules: user code (the host); the work runs on the task's user thread.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from kextlab.userland.devices import DiskDevice, DiskIO, open_device
from kextlab.userland.iokitlib import mach_port_t
from kextlab.userland.tools import ToolOutput
from kextlab.userland.tools.disk_choice import DiskChoiceError, choose_disk
from kextlab.userland.user_task import UserBuffer, UserTask

PATTERNS = ("lba", "random", "zeros", "ones", "alternating")
_STAMP = struct.Struct("<QI")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RWFileOptions:
    disk: str | None = None
    start: int = 0  # byte offset of the range
    size: int = 16 << 20
    block: int = 64 << 10
    pattern: str = "lba"
    passes: int = 1
    queue_depth: int = 8
    max_reported: int = 20
    force: bool = False
    seed: int = 0  # of the data pattern (the command passes the machine's)


@dataclass(frozen=True)
class Mismatch:
    """One logical block that came back wrong."""

    pass_number: int
    lba: int
    offset: int  # of the first wrong byte within the block
    expected: int
    found: int


@dataclass
class RWFileReport:
    disk: str
    block_size: int
    blocks_checked: int = 0
    bytes_written: int = 0
    mismatch_count: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None


def pattern_bytes(
    pattern: str, seed: int, pass_number: int, offset: int, length: int, block_size: int
) -> bytes:
    """What ``pattern`` puts in the ``length`` bytes of the disk at byte ``offset``."""
    if pattern == "zeros":
        return bytes(length)
    if pattern == "ones":
        return b"\xff" * length
    if pattern == "alternating":
        return b"\x55\xaa" * (length // 2) + (b"\x55" if length % 2 else b"")
    if pattern == "lba":
        data = bytearray(length)
        first = offset // block_size
        filler = (pass_number & 0xFF).to_bytes(1, "little") * block_size
        for index in range(length // block_size):
            start = index * block_size
            data[start : start + block_size] = filler
            _STAMP.pack_into(data, start, first + index, pass_number)
        return bytes(data)
    if pattern == "random":
        # A counter-mode stream: each 8-byte word is a hash of (seed, pass, word index),
        # so any range can be regenerated alone.
        data = bytearray(length)
        base = offset // 8
        key = (seed * 0x9E3779B97F4A7C15 ^ pass_number * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        for index in range(length // 8):
            word = (base + index) ^ key
            word = (word ^ (word >> 30)) * 0xBF58476D1CE4E5B9 & (2**64 - 1)
            word = (word ^ (word >> 27)) * 0x94D049BB133111EB & (2**64 - 1)
            word ^= word >> 31
            data[index * 8 : index * 8 + 8] = word.to_bytes(8, "little")
        return bytes(data)
    raise ValueError(f"pattern {pattern!r}: expected one of {', '.join(PATTERNS)}")


class _Runner:
    def __init__(
        self, task: UserTask, device: DiskDevice, options: RWFileOptions, seed: int
    ) -> None:
        self.task = task
        self.device = device
        self.options = options
        self.seed = seed

    def expected(self, pass_number: int, offset: int, length: int) -> bytes:
        options = self.options
        return pattern_bytes(
            options.pattern, self.seed, pass_number, offset, length, self.device.block_size
        )

    def transfer_all(
        self, pass_number: int, reading: bool, report: RWFileReport, progress: Progress | None
    ) -> None:
        options = self.options
        offsets = list(range(options.start, options.start + options.size, options.block))
        depth = max(1, min(options.queue_depth, len(offsets)))
        free = [self.task.vm_allocate(options.block) for _ in range(depth)]
        owned = list(free)
        in_flight: dict[DiskIO, tuple[UserBuffer, int]] = {}
        phase = f"pass {pass_number} {'read' if reading else 'write'}"
        done = 0

        def finish(io: DiskIO) -> None:
            nonlocal done
            buffer, offset = in_flight.pop(io)
            io.result()
            if reading:
                self.check(pass_number, buffer, offset, report)
            else:
                report.bytes_written += options.block
            free.append(buffer)
            done += 1
            if progress is not None:
                progress(phase, done, len(offsets))

        try:
            for offset in offsets:
                if not free:
                    finished = self.task.wait_any(list(in_flight))
                    assert isinstance(finished, DiskIO)
                    finish(finished)
                buffer = free.pop()
                if reading:
                    io = self.device.submit_read(buffer, offset)
                else:
                    buffer.write(self.expected(pass_number, offset, options.block))
                    io = self.device.submit_write(buffer, offset)
                in_flight[io] = (buffer, offset)
            while in_flight:
                finished = self.task.wait_any(list(in_flight))
                assert isinstance(finished, DiskIO)
                finish(finished)
        finally:
            if in_flight:
                self.task.wait_all(list(in_flight))
            for buffer in owned:
                buffer.deallocate()

    def check(
        self, pass_number: int, buffer: UserBuffer, offset: int, report: RWFileReport
    ) -> None:
        block_size = self.device.block_size
        expected = self.expected(pass_number, offset, self.options.block)
        found = buffer.view()
        report.blocks_checked += self.options.block // block_size
        if found == expected:
            return
        for start in range(0, self.options.block, block_size):
            have = found[start : start + block_size]
            want = expected[start : start + block_size]
            if have == want:
                continue
            report.mismatch_count += 1
            if len(report.mismatches) < self.options.max_reported:
                at = next(index for index in range(block_size) if have[index] != want[index])
                report.mismatches.append(
                    Mismatch(pass_number, (offset + start) // block_size, at, want[at], have[at])
                )


def run_rwfile(
    port: mach_port_t, options: RWFileOptions, progress: Progress | None = None
) -> RWFileReport:
    """Run the test on the port's machine (``DiskChoiceError`` if no disk fits; an
    I/O error ends the run and is recorded in the report)."""
    if options.pattern not in PATTERNS:
        raise ValueError(f"pattern {options.pattern!r}: expected one of {', '.join(PATTERNS)}")
    disk = choose_disk(port, options.disk, force=options.force)
    if options.block % disk.block_size or options.start % disk.block_size:
        raise DiskChoiceError(
            f"--block and --start must be multiples of {disk.name}'s {disk.block_size}-byte blocks"
        )
    if options.start + options.size > disk.size:
        raise DiskChoiceError(
            f"the range [{options.start}, +{options.size}) passes the end of {disk.name} "
            f"({disk.size} bytes)"
        )
    if options.size % options.block:
        raise DiskChoiceError(f"--size must be a multiple of --block ({options.block})")
    report = RWFileReport(disk.name, disk.block_size)
    with UserTask(port, "rwfile") as task:

        def main() -> None:
            with open_device(task, disk.raw_path, os.O_RDWR) as device:
                runner = _Runner(task, device, options, options.seed)
                for pass_number in range(1, options.passes + 1):
                    runner.transfer_all(pass_number, False, report, progress)
                    device.fsync()
                    runner.transfer_all(pass_number, True, report, progress)

        try:
            task.run(main)
        except OSError as error:
            report.error = str(error)
    return report


def format_report(report: RWFileReport, options: RWFileOptions) -> ToolOutput:
    lines = [
        f"rwfile: {report.disk}, {options.size} bytes at {options.start}, "
        f"{options.block}-byte transfers, pattern {options.pattern}, {options.passes} pass(es)",
        f"written {report.bytes_written} bytes, checked {report.blocks_checked} blocks "
        f"of {report.block_size} bytes",
    ]
    for mismatch in report.mismatches:
        lines.append(
            f"  mismatch: pass {mismatch.pass_number} LBA {mismatch.lba} byte {mismatch.offset}: "
            f"expected {mismatch.expected:#04x}, found {mismatch.found:#04x}"
        )
    if report.mismatch_count > len(report.mismatches):
        lines.append(f"  ... and {report.mismatch_count - len(report.mismatches)} more")
    lines.append(f"{report.mismatch_count} mismatches")
    stderr = [f"rwfile: {report.error}"] if report.error else []
    failed = bool(report.mismatch_count or report.error)
    return ToolOutput(stdout=lines, stderr=stderr, status=1 if failed else 0)
