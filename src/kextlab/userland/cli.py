"""The ``kextlab`` command.

::

    kextlab boot [--machine NAME|FILE] [--seed N] [--trace FILE] [--properties]
    kextlab of ls [PATH]               Apple's ``ls`` of the device tree
    kextlab of properties PATH         ``.properties`` of one node (a path or an alias)
    kextlab ioreg [IOREG FLAGS]        Apple's ``ioreg``: ``kextlab ioreg -lw0 -p IODeviceTree``
    kextlab ioclasscount [CLASS ...]   Apple's ``ioclasscount``
    kextlab dmesg                      Apple's ``dmesg``: the kernel message buffer
    kextlab kextload [-t] [-n] [-d DEP] KEXT...    Apple's kext tools, on a machine booted
    kextlab kextunload [-b ID] [-c CLASS] [KEXT]   for the command; --kext PATH loads
    kextlab kextstat [-l] [-b ID] [-k]             kexts first (repeatable)
    kextlab kextutil [-t] [-n] [-l] [-m] KEXT
    kextlab kextmatch [--ioreg DUMP | --machine M | --host] [--kexts PATH]... [--json]
                                       matching without driver code, e.g. on a real Mac's dump
    kextlab diskspeed [--disk NAME] [--size N] [--queue-depth N]   disk MB/s and IOPS
    kextlab rwfile [--disk NAME] [--pattern P] [--passes N]      write, read back, verify
    kextlab iostat [-I] [-x] [DISK]...   per-disk statistics since boot
    kextlab machines                   the embedded machines
    kextlab devices                    the device models and their parameters

Every command that builds a machine takes ``--machine`` (an embedded machine's name
or a TOML file) and ``--seed``; ``ioreg`` and ``ioclasscount`` can instead read the
registry a real Mac's ``ioreg -l`` recorded (``--from-dump FILE``, gzip or plain).
Bad input (an unknown flag, a bad machine file or dump, a path that names no node,
a plane the registry does not have) gets one message on standard error naming what
is wrong, and exit status 2 (where Apple's tools print their usage and exit 1); a
kernel panic prints its report and exits with status 1.

This is output code: the only place that prints.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import click
from click.core import ParameterSource

from kextlab import __version__
from kextlab.errors import KernelPanic, MachineDescriptionError
from kextlab.firmware.devicetree import DeviceTree
from kextlab.firmware.display import format_properties, list_tree
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.description import embedded_machine_names, load_machine_description
from kextlab.machine.devices import DeviceCatalog
from kextlab.machine.machine import Machine
from kextlab.machine.scsi.attach import TARGET_PARAMETERS
from kextlab.sim.time import parse_duration
from kextlab.sim.trace import TraceRecorder
from kextlab.userland import iokitlib as io
from kextlab.userland.system import start_kernel
from kextlab.userland.tools import ToolOutput
from kextlab.userland.tools.dmesg import dmesg as run_dmesg
from kextlab.userland.tools.ioclasscount import ioclasscount as run_ioclasscount
from kextlab.userland.tools.ioreg import USAGE as IOREG_USAGE
from kextlab.userland.tools.ioreg import IORegOptions, IORegUsageError, parse_arguments
from kextlab.userland.tools.ioreg import ioreg as run_ioreg
from kextlab.userland.tools.ioreg_dump import IORegDumpError, read_ioreg_dump_file

EXIT_PANIC = 1
EXIT_BAD_INPUT = 2

machine_option = click.option(
    "--machine",
    "machine_spec",
    default="default",
    show_default=True,
    metavar="NAME|FILE",
    help="An embedded machine (see `kextlab machines`) or a machine description file.",
)
seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the machine's random streams; same machine and seed, same run.",
)


class Duration(click.ParamType[int, object]):
    """A virtual-time duration on the command line: 2s, 500ms, 250us, 100ns."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


dump_option = click.option(
    "--from-dump",
    "dump_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the registry a real Mac's `ioreg -l` recorded (gzip or plain) instead "
    "of booting a machine.",
)


kext_option = click.option(
    "--kext",
    "preloaded",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="PATH",
    help="Load this kext on the booted machine first (repeatable).",
)


def fail(message: str) -> NoReturn:
    click.echo(f"kextlab: error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def trace_recorder(path: Path | None) -> Iterator[TraceRecorder]:
    """A recorder writing to ``path`` (or to nothing); a run refused as bad input
    leaves no trace file behind, a panic leaves its trace for the post-mortem."""
    if path is None:
        yield TraceRecorder()
        return
    try:
        stream = path.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        fail(f"--trace {path}: cannot write the trace file: {error.strerror}")
    with stream:
        recorder = TraceRecorder(stream)
        try:
            yield recorder
        except SystemExit as exit_:
            if exit_.code == EXIT_BAD_INPUT:
                stream.close()
                path.unlink(missing_ok=True)
            raise
        recorder.flush()


@contextmanager
def powered_on(
    machine_spec: str, seed: int, trace: Path | None = None
) -> Iterator[tuple[Machine, DeviceTree]]:
    """A machine whose firmware has run; errors become messages and exit statuses."""
    try:
        description = load_machine_description(machine_spec, DeviceCatalog.with_installed_plugins())
    except MachineDescriptionError as error:
        fail(str(error))
    with trace_recorder(trace) as recorder:
        try:
            machine = Machine(description, seed=seed, trace=recorder)
        except MachineDescriptionError as error:  # a target's image, say
            fail(str(error))
        with machine:
            try:
                tree = OpenFirmware(machine).power_on()
                machine.run()
            except KernelPanic as panic:
                click.echo(panic.report, err=True)
                sys.exit(EXIT_PANIC)
            yield machine, tree


@contextmanager
def booted(
    machine_spec: str, seed: int, trace: Path | None = None
) -> Iterator[tuple[Machine, DeviceTree, Kernel]]:
    """A machine whose firmware has run and whose kernel has started."""
    with powered_on(machine_spec, seed, trace) as (machine, tree):
        try:
            kernel = start_kernel(machine, tree)
        except KernelPanic as panic:
            click.echo(panic.report, err=True)
            sys.exit(EXIT_PANIC)
        yield machine, tree, kernel


@dataclass
class RegistrySource:
    """A main port to run a tool against, and how to read its device-tree cells."""

    port: io.mach_port_t
    cell_order: Literal["big", "little"]
    described_as: str


@contextmanager
def registry_source(
    machine_spec: str, seed: int, dump_path: Path | None, preloaded: tuple[Path, ...] = ()
) -> Iterator[RegistrySource]:
    """The registry of a booted machine (with ``preloaded`` kexts loaded), or the one
    a dump recorded."""
    if dump_path is None:
        with booted(machine_spec, seed) as (_, _, kernel):
            port = io.IOMainPort(kernel.registry, kernel)
            for path in preloaded:
                load_kext_or_fail(port, path)
            # Open Firmware properties are big-endian cells (IEEE 1275 encode-int).
            yield RegistrySource(port, "big", f"machine {machine_spec}")
        return
    if preloaded:
        fail("--kext loads kexts on a booted machine; a dump cannot load any")
    if (
        click.get_current_context().get_parameter_source("machine_spec")
        is ParameterSource.COMMANDLINE
    ):
        fail("--from-dump and --machine choose two registries; give one")
    try:
        root = read_ioreg_dump_file(dump_path)
    except IORegDumpError as error:
        fail(str(error))
    port = io.IOMainPortFromSnapshot(root)
    build = io.IORegistryEntryCreateCFProperty(io.IORegistryGetRootEntry(port), "IOKitBuildVersion")
    # A dump's cells are in its Mac's byte order: PowerPC's big, Intel's and Apple's ARM's little.
    order: Literal["big", "little"] = "big" if "PPC" in str(build or "") else "little"
    yield RegistrySource(port, order, f"dump {dump_path}")


def load_kext_or_fail(
    port: io.mach_port_t,
    path: Path,
    dependencies: tuple[Path, ...] = (),
    *,
    start_matching: bool = True,
) -> None:
    """Load a kext on the port's kernel; a bad kext is a message and status 2."""
    result = io.KextManagerLoadKextWithURL(
        port,
        str(path),
        tuple(str(dependency) for dependency in dependencies),
        start_matching=start_matching,
    )
    if not result.ok:
        fail(f"cannot load {path}: " + "; ".join(result.messages))


def write_tool_output(output: ToolOutput) -> None:
    """A tool's lines, byte for byte (a dump's non-UTF-8 bytes included)."""
    sys.stdout.flush()
    stdout = sys.stdout.buffer
    for line in output.stdout:
        stdout.write(line.encode("utf-8", "surrogateescape") + b"\n")
    stdout.flush()
    for line in output.stderr:
        click.echo(line, err=True)


def terminal_width() -> int:
    """ioreg's default width: the terminal's columns, or 0 (no clipping) when piped."""
    if not sys.stdout.isatty():
        return 0
    return shutil.get_terminal_size(fallback=(0, 0)).columns


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kextlab")
def main() -> None:
    """kextlab: an I/O Kit laboratory on an emulated, deterministic machine."""


@main.command()
@machine_option
@seed_option
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every event with its virtual time to FILE.",
)
@click.option(
    "-l",
    "--properties",
    "show_properties",
    is_flag=True,
    help="Also print every node's properties.",
)
@click.option(
    "--run-for",
    "run_for",
    type=Duration(),
    default=0,
    metavar="DURATION",
    help="After booting, run the machine this much longer in virtual time (2s, 500ms, "
    "250us ...) before printing, so that hot-plug times in the machine file pass.",
)
def boot(
    machine_spec: str, seed: int, trace_path: Path | None, show_properties: bool, run_for: int
) -> None:
    """Power on a machine, run its firmware and start its kernel; print the boot log,
    the device tree and the I/O Registry's service plane (as `ioreg` shows it)."""
    with booted(machine_spec, seed, trace_path) as (machine, tree, kernel):
        if run_for:
            try:
                machine.run_for(run_for)
            except KernelPanic as panic:
                click.echo(panic.report, err=True)
                sys.exit(EXIT_PANIC)
        for line in machine.console.lines():
            click.echo(line)
        click.echo()
        click.echo("Device tree:")
        if show_properties:
            for node in tree.nodes():
                click.echo(f"{node.phandle:08x}: {node.path}")
                for line in format_properties(node):
                    click.echo(f"    {line}")
        else:
            for line in list_tree(tree.root):
                click.echo(line)
        click.echo()
        click.echo("I/O Registry (ioreg%s):" % (" -l" if show_properties else ""))
        options = IORegOptions(list=show_properties, width=0)
        write_tool_output(run_ioreg(io.IOMainPort(kernel.registry), options))


@main.group(name="of")
def open_firmware() -> None:
    """Open Firmware user-interface words on a freshly booted machine."""


@open_firmware.command(name="ls")
@click.argument("path", default="/")
@machine_option
@seed_option
def of_ls(path: str, machine_spec: str, seed: int) -> None:
    """List the device tree below PATH, as Apple's `dev PATH ls` does."""
    with powered_on(machine_spec, seed) as (_, tree):
        node = tree.find(path)
        if node is None:
            fail(f"no node at {path!r}: expected a device path or an alias")
        for line in list_tree(node):
            click.echo(line)


@open_firmware.command(name="properties")
@click.argument("path")
@machine_option
@seed_option
def of_properties(path: str, machine_spec: str, seed: int) -> None:
    """Print the properties of the node at PATH (`dev PATH .properties`)."""
    with powered_on(machine_spec, seed) as (_, tree):
        node = tree.find(path)
        if node is None:
            fail(f"no node at {path!r}: expected a device path or an alias")
        for line in format_properties(node):
            click.echo(line)


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]},
)
@machine_option
@seed_option
@dump_option
@kext_option
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def ioreg(
    arguments: tuple[str, ...],
    machine_spec: str,
    seed: int,
    dump_path: Path | None,
    preloaded: tuple[Path, ...],
) -> None:
    """Apple's `ioreg`: show the I/O Registry, with ioreg's own flags

    \b
    ioreg [-abfilrtxy] [-c class] [-d depth] [-k key] [-n name] [-p plane] [-w width]
      -a archive output          -b bold names             -c properties of a class
      -d limit the depth         -f smart formatting       -i show inheritance
      -k properties of a key     -l properties of all      -n properties of a name
      -p plane (IOService)       -r subtrees rooted at matches
      -t location of each subtree                        -w clip width (0 unlimited)
      -x hex numbers             -y skip DriverKit classes with -c
    """
    try:
        options = parse_arguments(arguments)
    except IORegUsageError as error:
        fail(f"ioreg: {error}; {IOREG_USAGE}")
    if options.width is None:
        options.width = terminal_width()
    with registry_source(machine_spec, seed, dump_path, preloaded) as source:
        root = io.IORegistryGetRootEntry(source.port)

        def has_plane(plane: str) -> bool:
            return io.IORegistryEntryGetChildIterator(root, plane)[0] == io.KERN_SUCCESS

        if not has_plane(options.plane):
            # A dump's root lists every plane of its Mac; it recorded one of them.
            planes = io.IORegistryEntryCreateCFProperty(root, "IORegistryPlanes")
            names = sorted(planes) if isinstance(planes, dict) else []
            known = ", ".join(name for name in names if has_plane(name)) or "none"
            fail(
                f"ioreg -p {options.plane}: the {source.described_as} has no such plane "
                f"in its registry (it has: {known})"
            )
        options.cell_order = source.cell_order
        write_tool_output(run_ioreg(source.port, options))


@main.command()
@machine_option
@seed_option
@dump_option
@kext_option
@click.argument("class_names", nargs=-1, metavar="[CLASS]...")
def ioclasscount(
    class_names: tuple[str, ...],
    machine_spec: str,
    seed: int,
    dump_path: Path | None,
    preloaded: tuple[Path, ...],
) -> None:
    """Apple's `ioclasscount`: instances of each I/O Kit class.

    With no CLASS, every class, one per line; with names, one line, `A = 1, B = 2`.
    """
    with registry_source(machine_spec, seed, dump_path, preloaded) as source:
        output = run_ioclasscount(source.port, class_names)
        if output.status:
            fail(f"ioclasscount: the {source.described_as}: " + " ".join(output.stderr))
        write_tool_output(output)


@main.command()
@machine_option
@seed_option
@kext_option
def dmesg(machine_spec: str, seed: int, preloaded: tuple[Path, ...]) -> None:
    """Apple's `dmesg`: the kernel message buffer (kernel printf and IOLog) of a
    machine booted for the command, once it is quiet, with each line's virtual time."""
    with registry_source(machine_spec, seed, None, preloaded) as source:
        output = run_dmesg(source.port)
        write_tool_output(output)
        if output.status:
            sys.exit(output.status)


@main.command()
def machines() -> None:
    """List the embedded machines."""
    for name in embedded_machine_names():
        description = load_machine_description(name)
        devices = ", ".join(f"{device.name} ({device.model})" for device in description.devices)
        click.echo(
            f"{name}: {description.model}, {description.arch} "
            f"{description.kernel_bits}-bit, {description.ram_size >> 20} MiB; {devices}"
        )


@main.command()
def devices() -> None:
    """List the device models machine files can use, with their parameters, and the
    SCSI targets a host bus adapter can have."""
    for name, model in DeviceCatalog.with_installed_plugins().models():
        click.echo(f"{name}: {model.summary}")
        for key, parameter in model.parameters.items():
            click.echo(f"    {key}: {parameter.help} ({parameter.describe()})")
    click.echo()
    click.echo("SCSI targets ([[device.target]] of a host bus adapter; id and type, then):")
    for kind, schema in TARGET_PARAMETERS.items():
        click.echo(f"  {kind}:")
        for key, parameter in schema.items():
            click.echo(f"    {key}: {parameter.help} ({parameter.describe()})")


def _add_kext_commands() -> None:
    # The kext tools live in their own module, which builds on the helpers above
    # (booted, fail, the options); it is imported once they exist.
    from kextlab.userland.disk_commands import COMMANDS as DISK_COMMANDS
    from kextlab.userland.kext_commands import COMMANDS
    from kextlab.userland.kextmatch_command import kextmatch

    for command in (*COMMANDS, kextmatch, *DISK_COMMANDS):
        main.add_command(command)


if __name__ == "__main__":
    # ``python -m kextlab.userland.cli``: run the package's own copy of this module,
    # the one the kext commands (which import it) register on.
    from kextlab.userland.cli import main as package_main

    package_main()
else:
    _add_kext_commands()
