"""``kextload``, ``kextunload``, ``kextstat`` and ``kextutil`` on the command line.

Apple's kext tools, acting through ``iokitlib``'s KextManager calls on a machine
booted for the command.  Until kextlab has its daemon, what a command changes lasts
for that run only: ``--kext PATH`` (repeatable, on every command here and on
``ioreg``/``ioclasscount``) loads kexts first, so one run can load, inspect and
unload::

    kextlab kextstat --kext MyDriver.kext
    kextlab kextunload --kext MyDriver.kext -b com.example.driver.MyDriver

Messages and statuses: a bad kext (unreadable or malformed Info.plist, a missing
key, an unknown ``IOClass``, an import error, a dependency missing, incompatible or
circular) gets one message naming the kext and the problem, and exit status 2; the
machine is left as it was.  ``kextunload`` refused because the kext is in use
prints the kernel's words and Apple's ``Failed to unload ...`` line, with status 1.

The commands only ever call ``iokitlib``, so a daemon can take them over as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from kextlab.userland import iokitlib as io
from kextlab.userland.cli import (
    booted,
    fail,
    kext_option,
    load_kext_or_fail,
    machine_option,
    seed_option,
    write_tool_output,
)
from kextlab.userland.tools.kextstat import kextstat as run_kextstat

EXIT_REFUSED = 1


@contextmanager
def kernel_port(
    machine_spec: str, seed: int, preloaded: tuple[Path, ...], dependencies: tuple[Path, ...] = ()
) -> Iterator[io.mach_port_t]:
    """A main port onto a booted machine with ``preloaded`` kexts loaded."""
    with booted(machine_spec, seed) as (_, _, kernel):
        port = io.IOMainPort(kernel.registry, kernel)
        for path in preloaded:
            load_kext_or_fail(port, path, dependencies)
        yield port


dependency_option = click.option(
    "-d",
    "--dependency",
    "dependencies",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="KEXT",
    help="A kext (or folder of kexts) to resolve dependencies from.",
)


@click.command()
@click.option(
    "-t",
    "--print-diagnostics",
    "diagnose",
    is_flag=True,
    help="Check the kext and say whether it can be loaded.",
)
@click.option(
    "-n", "--no-load", "no_load", is_flag=True, help="Do not load (with -t: only diagnose)."
)
@dependency_option
@click.argument(
    "kexts", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@machine_option
@seed_option
def kextload(
    kexts: tuple[Path, ...],
    diagnose: bool,
    no_load: bool,
    dependencies: tuple[Path, ...],
    machine_spec: str,
    seed: int,
) -> None:
    """Load kexts: their classes are registered, their personalities added, and
    matching runs (Apple's `kextload`)."""
    with kernel_port(machine_spec, seed, ()) as port:
        for path in kexts:
            if not no_load:
                load_kext_or_fail(port, path, dependencies)
            if diagnose:
                click.echo(
                    f"{path} appears to be loadable (not including linkage for on-disk libraries)."
                )


@click.command()
@click.option(
    "-b",
    "--bundle-identifier",
    "bundle_ids",
    multiple=True,
    metavar="ID",
    help="Unload the kext with this identifier.",
)
@click.option(
    "-c",
    "--class",
    "class_names",
    multiple=True,
    metavar="CLASS",
    help="Terminate instances of CLASS and remove its personalities.",
)
@click.argument("kexts", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@kext_option
@machine_option
@seed_option
def kextunload(
    kexts: tuple[Path, ...],
    bundle_ids: tuple[str, ...],
    class_names: tuple[str, ...],
    preloaded: tuple[Path, ...],
    machine_spec: str,
    seed: int,
) -> None:
    """Terminate a kext's drivers, then unload it unless other kexts link against it or
    its classes still have instances (Apple's `kextunload`)."""
    from kextlab.kernel.kext.bundle import KextBundle
    from kextlab.kernel.kext.errors import KextError

    if not (kexts or bundle_ids or class_names):
        fail("kextunload: name a kext, a bundle identifier (-b) or a class (-c)")
    identifiers = list(bundle_ids)
    for path in kexts:
        try:
            identifiers.append(KextBundle.read(path).bundle_id)
        except KextError as error:
            fail(str(error))
    with kernel_port(machine_spec, seed, preloaded) as port:
        if class_names:
            io.KextManagerTerminateClasses(port, class_names)
        refused = False
        for identifier in identifiers:
            result = io.KextManagerUnloadKextWithIdentifier(port, identifier)
            if not result.ok:
                refused = True
                for message in result.messages:
                    click.echo(message, err=True)
                reason = io.KEXT_RETURN_STRINGS.get(result.status, f"{result.status:#x}")
                click.echo(f"Failed to unload {identifier} - {reason}.", err=True)
        if refused:
            sys.exit(EXIT_REFUSED)


@click.command()
@click.option("-l", "--list-only", "no_header", is_flag=True, help="Leave out the header.")
@click.option(
    "-b",
    "--bundle-id",
    "bundle_ids",
    multiple=True,
    metavar="ID",
    help="Show only this kext (repeatable).",
)
@click.option(
    "-k", "--no-kernel", "no_kernel", is_flag=True, help="Leave out the kernel's own components."
)
@kext_option
@machine_option
@seed_option
def kextstat(
    no_header: bool,
    bundle_ids: tuple[str, ...],
    no_kernel: bool,
    preloaded: tuple[Path, ...],
    machine_spec: str,
    seed: int,
) -> None:
    """The loaded kexts: Index Refs Address Size Wired Name (Version) <Linked Against>."""
    with kernel_port(machine_spec, seed, preloaded) as port:
        write_tool_output(
            run_kextstat(
                port, bundle_ids=bundle_ids, no_header=no_header, no_kernel_components=no_kernel
            )
        )


@click.command()
@click.option(
    "-t",
    "--print-diagnostics",
    "diagnose",
    is_flag=True,
    help="Check the kext and print what was found.",
)
@click.option("-n", "--no-load", "no_load", is_flag=True, help="Neither load nor match.")
@click.option(
    "-l", "--load-only", "load_only", is_flag=True, help="Load the kext but do not start matching."
)
@click.option(
    "-m",
    "--match-only",
    "match_only",
    is_flag=True,
    help="Do not load the code; send the personalities to start matching.",
)
@dependency_option
@click.argument("kext", type=click.Path(exists=True, file_okay=False, path_type=Path))
@kext_option
@machine_option
@seed_option
def kextutil(
    kext: Path,
    diagnose: bool,
    no_load: bool,
    load_only: bool,
    match_only: bool,
    dependencies: tuple[Path, ...],
    preloaded: tuple[Path, ...],
    machine_spec: str,
    seed: int,
) -> None:
    """Apple's `kextutil`: diagnose, load without matching, or match without loading."""
    from kextlab.kernel.kext.bundle import KextBundle
    from kextlab.kernel.kext.dependencies import resolve_dependencies
    from kextlab.kernel.kext.errors import KextError

    with kernel_port(machine_spec, seed, preloaded) as port:
        kernel = port.kernel
        assert kernel is not None
        try:
            with kernel.entered():
                bundle = KextBundle.read(kext)
                if diagnose or no_load:
                    resolution = resolve_dependencies(bundle, kernel.kexts.index)
        except KextError as error:
            fail(str(error))
        if diagnose:
            for warning in (*bundle.warnings, *resolution.warnings):
                click.echo(f"Warning: {warning}")
            click.echo(
                f"{kext} appears to be loadable (not including linkage for on-disk libraries)."
            )
        if no_load:
            return
        if match_only:
            with kernel.entered():
                from kextlab.kernel.kext.personalities import copy_personalities

                tables = copy_personalities(bundle)
                kernel.services.catalogue.addDrivers(tables)
                for table in tables:
                    table.release()
            kernel.machine.run()
            return
        load_kext_or_fail(port, kext, dependencies, start_matching=not load_only)


COMMANDS = (kextload, kextunload, kextstat, kextutil)
