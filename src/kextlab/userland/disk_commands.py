"""``diskspeed``, ``rwfile`` and ``iostat`` on the command line.

Each boots a machine for the command (``--machine``, ``--seed``; the default machine
has two scratch disks behind its Marvell HBA), runs the tool as a user task against
a disk's raw device, and prints what it found::

    kextlab diskspeed                         # the first blank disk: MB/s and IOPS
    kextlab diskspeed --disk disk2 --queue-depth 1 --size 16M
    kextlab rwfile --pattern random --passes 2
    kextlab iostat -x                         # what the boot read, per disk

``diskspeed`` and ``rwfile`` show a progress bar on a terminal and print
``--iostat``'s per-disk counters after their run when asked.  A disk that holds a
partition map is only written with ``--force``.  Bad input (an unknown disk, a size
that is not one, a range past the end) gets one message and exit status 2; data
that comes back wrong, or an I/O error, exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from click._termui_impl import ProgressBar

from kextlab.kernel.kernel import Kernel
from kextlab.machine.sizes import parse_size
from kextlab.userland import iokitlib as io
from kextlab.userland.cli import booted, fail, machine_option, seed_option, write_tool_output
from kextlab.userland.tools.disk_choice import DiskChoiceError
from kextlab.userland.tools.diskspeed import DiskSpeedOptions, run_diskspeed
from kextlab.userland.tools.diskspeed import format_report as format_diskspeed
from kextlab.userland.tools.iostat import iostat as run_iostat
from kextlab.userland.tools.rwfile import PATTERNS, RWFileOptions, run_rwfile
from kextlab.userland.tools.rwfile import format_report as format_rwfile


def size_argument(name: str, text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        fail(f"{name} {text!r}: {error}")


class _Bars:
    """One click progress bar per phase, replaced when the phase changes."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.done = 0
        self.bar: ProgressBar[int] | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase or self.bar is None:
            self.close()
            self.bar = click.progressbar(length=total, label=f"{phase:<14}", file=sys.stderr)
            self.bar.__enter__()
            self.phase, self.done = phase, 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing one bar per phase on a terminal (none when piped)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bars = _Bars()
    try:
        yield bars
    finally:
        bars.close()


def print_iostat(kernel: Kernel) -> None:
    click.echo()
    write_tool_output(
        run_iostat(io.IOMainPort(kernel.registry, kernel), kernel.scheduler.now, extended=True)
    )


disk_option = click.option(
    "--disk", metavar="NAME", help="The disk (disk1, /dev/rdisk1); default: the first blank one."
)
force_option = click.option(
    "--force", is_flag=True, help="Write over a disk that holds a partition map."
)
iostat_option = click.option(
    "--iostat", "show_iostat", is_flag=True, help="Print every disk's counters after the run."
)


@click.command()
@machine_option
@seed_option
@disk_option
@click.option(
    "--size", "size_text", default="64M", show_default=True, help="Bytes of the sequential test."
)
@click.option(
    "--block", "block_text", default="1M", show_default=True, help="Sequential transfer size."
)
@click.option(
    "--random-block", "random_text", default="4K", show_default=True, help="Random transfer size."
)
@click.option(
    "--random-ops",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Random transfers per direction.",
)
@click.option(
    "--queue-depth",
    type=click.IntRange(1, 256),
    default=32,
    show_default=True,
    help="Transfers in flight.",
)
@force_option
@iostat_option
@click.option("--progress/--no-progress", default=True, help="A progress bar on a terminal.")
def diskspeed(
    machine_spec: str,
    seed: int,
    disk: str | None,
    size_text: str,
    block_text: str,
    random_text: str,
    random_ops: int,
    queue_depth: int,
    force: bool,
    show_iostat: bool,
    progress: bool,
) -> None:
    """Sequential MB/s and random IOPS of a disk through the whole storage stack, in the
    device models' (virtual) time and in kextlab's own (host) time, with the data verified."""
    options = DiskSpeedOptions(
        disk=disk,
        size=size_argument("--size", size_text),
        block=size_argument("--block", block_text),
        random_block=size_argument("--random-block", random_text),
        random_ops=random_ops,
        queue_depth=queue_depth,
        force=force,
        seed=seed,
    )
    for name, value in (("--block", options.block), ("--random-block", options.random_block)):
        if value <= 0 or value % 512:
            fail(f"{name} {value}: expected a positive multiple of 512 bytes")
    with booted(machine_spec, seed) as (_, _, kernel):
        try:
            with progress_bar(progress) as callback:
                report = run_diskspeed(io.IOMainPort(kernel.registry, kernel), options, callback)
        except DiskChoiceError as error:
            fail(f"diskspeed: {error}")
        except OSError as error:
            click.echo(f"diskspeed: {error}", err=True)
            sys.exit(1)
        output = format_diskspeed(report, options)
        write_tool_output(output)
        if show_iostat:
            print_iostat(kernel)
        if output.status:
            sys.exit(output.status)


@click.command()
@machine_option
@seed_option
@disk_option
@click.option(
    "--start", "start_text", default="0", show_default=True, help="Byte offset of the range."
)
@click.option("--size", "size_text", default="16M", show_default=True, help="Bytes in the range.")
@click.option("--block", "block_text", default="64K", show_default=True, help="Transfer size.")
@click.option(
    "--pattern",
    type=click.Choice(PATTERNS),
    default="lba",
    show_default=True,
    help="What to write.",
)
@click.option("--passes", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--queue-depth", type=click.IntRange(1, 256), default=8, show_default=True)
@force_option
@iostat_option
@click.option("--progress/--no-progress", default=True, help="A progress bar on a terminal.")
def rwfile(
    machine_spec: str,
    seed: int,
    disk: str | None,
    start_text: str,
    size_text: str,
    block_text: str,
    pattern: str,
    passes: int,
    queue_depth: int,
    force: bool,
    show_iostat: bool,
    progress: bool,
) -> None:
    """Write a pattern to a range of a disk, read it back and verify it; mismatches are
    listed by LBA (exit status 1 if there are any, or an I/O error)."""
    options = RWFileOptions(
        disk=disk,
        start=size_argument("--start", start_text) if start_text != "0" else 0,
        size=size_argument("--size", size_text),
        block=size_argument("--block", block_text),
        pattern=pattern,
        passes=passes,
        queue_depth=queue_depth,
        force=force,
        seed=seed,
    )
    with booted(machine_spec, seed) as (_, _, kernel):
        try:
            with progress_bar(progress) as callback:
                report = run_rwfile(io.IOMainPort(kernel.registry, kernel), options, callback)
        except DiskChoiceError as error:
            fail(f"rwfile: {error}")
        output = format_rwfile(report, options)
        write_tool_output(output)
        if show_iostat:
            print_iostat(kernel)
        if output.status:
            sys.exit(output.status)


@click.command()
@machine_option
@seed_option
@click.option("-I", "totals", is_flag=True, help="Totals instead of rates.")
@click.option("-x", "extended", is_flag=True, help="Everything the drivers count, a line per disk.")
@click.option("-n", "limit", type=click.IntRange(min=1), help="At most this many disks.")
@click.argument("disks", nargs=-1, metavar="[DISK]...")
def iostat(
    machine_spec: str,
    seed: int,
    totals: bool,
    extended: bool,
    limit: int | None,
    disks: tuple[str, ...],
) -> None:
    """Apple's `iostat`: per-disk KB/t, tps and MB/s since boot, from the block storage
    drivers' Statistics (-x: operations, bytes, latency, errors and retries)."""
    with booted(machine_spec, seed) as (_, _, kernel):
        output = run_iostat(
            io.IOMainPort(kernel.registry, kernel),
            kernel.scheduler.now,
            disks,
            totals=totals,
            extended=extended,
            limit=limit,
        )
        if output.status:
            fail(" ".join(output.stderr))
        write_tool_output(output)


COMMANDS = (diskspeed, rwfile, iostat)
