"""The ``kextlab`` command.

::

    kextlab boot [--machine NAME|FILE] [--seed N] [--trace FILE] [--properties]
    kextlab of ls [PATH]               Apple's ``ls`` of the device tree
    kextlab of properties PATH         ``.properties`` of one node (a path or an alias)
    kextlab machines                   the embedded machines
    kextlab devices                    the device models and their parameters

Every command that builds a machine takes ``--machine`` (an embedded machine's name
or a TOML file) and ``--seed``.  Bad input (an unknown flag, a bad machine file, a
path that names no node) gets one message on standard error naming what is wrong,
and exit status 2; a kernel panic prints its report and exits with status 1.

This is output code: the only place that prints.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from kextlab import __version__
from kextlab.errors import KernelPanic, MachineDescriptionError
from kextlab.firmware.devicetree import DeviceTree
from kextlab.firmware.display import format_properties, list_tree
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.description import embedded_machine_names, load_machine_description
from kextlab.machine.devices import DeviceCatalog
from kextlab.machine.machine import Machine
from kextlab.sim.trace import TraceRecorder

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


def fail(message: str) -> NoReturn:
    click.echo(f"kextlab: error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def trace_recorder(path: Path | None) -> Iterator[TraceRecorder]:
    if path is None:
        yield TraceRecorder()
        return
    try:
        stream = path.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        fail(f"--trace {path}: cannot write the trace file: {error.strerror}")
    with stream:
        recorder = TraceRecorder(stream)
        yield recorder
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
    with (
        trace_recorder(trace) as recorder,
        Machine(description, seed=seed, trace=recorder) as machine,
    ):
        try:
            tree = OpenFirmware(machine).power_on()
            machine.run()
        except KernelPanic as panic:
            click.echo(panic.report, err=True)
            sys.exit(EXIT_PANIC)
        yield machine, tree


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
def boot(machine_spec: str, seed: int, trace_path: Path | None, show_properties: bool) -> None:
    """Power on a machine, run its firmware, print the boot log and the device tree."""
    with powered_on(machine_spec, seed, trace_path) as (machine, tree):
        for line in machine.console.lines():
            click.echo(line)
        click.echo()
        click.echo("Device tree:")
        if not show_properties:
            for line in list_tree(tree.root):
                click.echo(line)
            return
        for node in tree.nodes():
            click.echo(f"{node.phandle:08x}: {node.path}")
            for line in format_properties(node):
                click.echo(f"    {line}")


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
    """List the device models machine files can use, with their parameters."""
    for name, model in DeviceCatalog.with_installed_plugins().models():
        click.echo(f"{name}: {model.summary}")
        for key, parameter in model.parameters.items():
            click.echo(f"    {key}: {parameter.help} ({parameter.describe()})")


if __name__ == "__main__":
    main()
