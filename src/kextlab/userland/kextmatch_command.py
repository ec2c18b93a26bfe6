"""``kextlab kextmatch``: which drivers would attach to which PCI devices.

::

    kextlab kextmatch [--ioreg DUMP | --machine NAME|FILE | --host]
                      [--kexts PATH]... [--catalogue-from-dump]
                      [--arch ppc|i386|x86_64|arm64] [--json]

Runs I/O Kit matching with no driver code (``kextlab.families.pci.offline``): the
PCI functions of one source are published as ``IOPCIDevice`` nubs in a kernel of
their own, the catalogue holds the personalities of the kexts given (``--kexts``: a
``.kext`` bundle, with its plug-ins, or a folder of them; repeat the option for
more, in load order) and, with ``--catalogue-from-dump``, those of the drivers the
source itself shows attached, and every nub is matched with ``probe`` and ``start``
taken to succeed.  The sources:

* ``--ioreg DUMP``: a real Mac's ``ioreg -l`` dump (gzip or plain); the architecture
  is the dump's own (``OSKernelCPUType``);
* ``--machine NAME|FILE``: a kextlab machine, booted as ``kextlab boot`` boots it
  (the default, with the default machine, as for the other commands);
* ``--host``: this Linux host's ``/sys/bus/pci/devices`` (the architecture is the
  host's).

``--arch`` replaces the source's architecture: it decides IOPCIFamily's +1000
vendor/device bonus (arm64 only).  The output is a table, one block per nub in
registry order (its path in the ``IOService`` plane, then one line per category:
class, final ``IOProbeScore``, ``IONameMatched``, ``CFBundleIdentifier``), or with
``--json`` the report's JSON form.  Bad input (an unreadable dump, a bad kext, an
unknown architecture, two sources) gets one message naming the file or flag, and
exit status 2; a kernel panic in matching prints its report and exits with status 1.
Warnings about kexts (Xcode settings left unexpanded) and the offline kernel's log
(``Couldn't alloc class``...) go to standard error.  A hidden ``--sysfs-root`` points
``--host`` at another sysfs tree (a copy, or a test's fake one).

This is output code: the only place (with ``cli``) that prints.  The command is a
plain ``click.Command``; ``kextlab.userland.cli`` adds it to the ``kextlab`` group.
Threading rules: runs on the host; each run builds the offline kernel it needs (and,
for ``--machine``, boots a machine) and shuts it down before printing.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from kextlab.errors import KernelPanic
from kextlab.families.pci.offline import (
    MatchReport,
    OfflineMatchError,
    OfflineSource,
    arch_for_host_machine,
    match_offline,
    source_from_dump,
    source_from_registry,
    source_from_sysfs,
)
from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.discovery import bundles_in
from kextlab.kernel.kext.errors import KextError
from kextlab.userland.tools.ioreg_dump import IORegDumpError, read_ioreg_dump_file

#: The architectures ``--arch`` accepts.
ARCHITECTURES = ("ppc", "i386", "x86_64", "arm64")
EXIT_PANIC = 1


def _fail(message: str) -> NoReturn:
    """``cli.fail``: the message on standard error, exit status 2.  (Imported here:
    ``cli`` imports this module to add the command to its group.)"""
    from kextlab.userland.cli import fail

    fail(message)


@click.command(name="kextmatch")
@click.option(
    "--ioreg",
    "dump_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Match the PCI devices a real Mac's `ioreg -l` dump recorded (gzip or plain).",
)
@click.option(
    "--machine",
    "machine_spec",
    metavar="NAME|FILE",
    help="Match the PCI devices of a kextlab machine (default: the default machine).",
)
@click.option("--host", is_flag=True, help="Match this Linux host's PCI devices (/sys/bus/pci).")
@click.option(
    "--kexts",
    "kext_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="A .kext bundle or a folder of them whose personalities join the catalogue "
    "(repeat for more, in load order).",
)
@click.option(
    "--catalogue-from-dump",
    is_flag=True,
    help="Also rebuild a personality from every driver the source shows attached to a "
    "PCI device (a dump, or a booted machine's registry).",
)
@click.option(
    "--arch",
    metavar="ppc|i386|x86_64|arm64",
    help="The kernel's architecture (default: the source's); arm64 gets IOPCIFamily's "
    "+1000 vendor/device bonus.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--sysfs-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/sys"),
    hidden=True,
    help="Where --host reads sysfs (a copy of another host's, or a test's fake tree).",
)
def kextmatch(
    dump_path: Path | None,
    machine_spec: str | None,
    host: bool,
    kext_paths: tuple[Path, ...],
    catalogue_from_dump: bool,
    arch: str | None,
    as_json: bool,
    sysfs_root: Path,
) -> None:
    """Which drivers would attach to which PCI devices: I/O Kit matching with no
    driver code run (probe and start assumed to succeed)."""
    given = (("--ioreg", dump_path is not None), ("--machine", machine_spec is not None))
    chosen = [flag for flag, present in (*given, ("--host", host)) if present]
    if len(chosen) > 1:
        _fail(f"{' and '.join(chosen)} choose two sources; give one")
    if arch is not None and arch not in ARCHITECTURES:
        _fail(f"--arch {arch}: unknown architecture; expected one of {', '.join(ARCHITECTURES)}")
    if host and catalogue_from_dump:
        _fail("--catalogue-from-dump: a Linux host records no I/O Kit drivers; use --ioreg")
    kexts = read_kexts(kext_paths)
    try:
        if dump_path is not None:
            report = match_dump(dump_path, kexts, catalogue_from_dump, arch)
            described = f"dump {dump_path}"
        elif host:
            source = source_from_sysfs(sysfs_root, arch_for_host_machine(platform.machine()))
            report = run(source, kexts, catalogue_from_dump, arch)
            described = source.description
        else:
            spec = machine_spec or "default"
            report = match_machine(spec, kexts, catalogue_from_dump, arch)
            described = f"machine {spec}"
    except OfflineMatchError as error:
        _fail(str(error))
    except KernelPanic as panic:
        click.echo(panic.report, err=True)
        sys.exit(EXIT_PANIC)
    for line in report.log:
        click.echo(f"kextlab: kernel: {line}", err=True)
    if as_json:
        click.echo(report.to_json(indent=2))
    else:
        for line in format_report(report, described):
            click.echo(line)


def read_kexts(paths: Sequence[Path]) -> list[KextBundle]:
    """The bundles of every ``--kexts`` path, in order (plug-ins after their kext)."""
    bundles: list[KextBundle] = []
    for path in paths:
        try:
            found = bundles_in(path)
        except KextError as error:
            _fail(f"--kexts {path}: {error}")
        for bundle in found:
            for warning in bundle.warnings:
                click.echo(f"kextlab: warning: {warning}", err=True)
        bundles.extend(found)
    return bundles


def run(
    source: OfflineSource, kexts: Sequence[KextBundle], from_source: bool, arch: str | None
) -> MatchReport:
    """Offline matching; a personality libkern cannot hold is bad input too."""
    try:
        return match_offline(source, kexts=kexts, catalogue_from_source=from_source, arch=arch)
    except KextError as error:
        _fail(f"--kexts: {error}")


def match_dump(
    path: Path, kexts: Sequence[KextBundle], from_source: bool, arch: str | None
) -> MatchReport:
    try:
        root = read_ioreg_dump_file(path)
    except IORegDumpError as error:
        _fail(f"--ioreg: {error}")
    return run(source_from_dump(root, f"dump {path}"), kexts, from_source, arch)


def match_machine(
    spec: str, kexts: Sequence[KextBundle], from_source: bool, arch: str | None
) -> MatchReport:
    """Boot the machine as ``kextlab boot`` does, and match its PCI nubs."""
    from kextlab.userland.cli import booted

    with booted(spec, 0) as (_, _, kernel):
        source = source_from_registry(kernel.registry, kernel.services.arch, f"machine {spec}")
        return run(source, kexts, from_source, arch)


def format_report(report: MatchReport, described: str) -> list[str]:
    """The table: a summary, a column header, then each nub's path and its drivers."""
    blocks = [
        (
            nub.path,
            [
                (
                    match.category,
                    match.IOClass,
                    str(match.IOProbeScore),
                    match.IONameMatched or "-",
                    match.CFBundleIdentifier or "-",
                )
                for match in nub.matches
            ],
        )
        for nub in report.nubs
    ]
    header = ("CATEGORY", "CLASS", "SCORE", "IONameMatched", "CFBundleIdentifier")
    rows = [header, *(row for _, block in blocks for row in block)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]

    def format_row(row: tuple[str, str, str, str, str]) -> str:
        category, driver, score, matched, bundle = row
        return (
            f"    {category:<{widths[0]}}  {driver:<{widths[1]}}  {score:>{widths[2]}}  "
            f"{matched:<{widths[3]}}  {bundle}"
        )

    started = len(rows) - 1
    lines = [
        f"{described}: arch {report.arch}, "
        f"{_count(report.personalities, 'personality', 'personalities')}, "
        f"{_count(len(report.nubs), 'PCI device', 'PCI devices')}, "
        f"{_count(started, 'driver', 'drivers')} started",
        "",
        format_row(header),
    ]
    for path, block in blocks:
        lines.append(path)
        lines.extend(format_row(row) for row in block)
        if not block:
            lines.append("    (no driver)")
    return lines


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
