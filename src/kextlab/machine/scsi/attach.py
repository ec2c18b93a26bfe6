"""SCSI targets and faults from a machine description: the schema and the builders.

A host bus adapter in a machine file lists its targets as ``[[device.target]]``
tables, and the machine's fault injection is the top-level ``[scsi_faults]`` table
(``kextlab.machine.description`` reads both; this module says what they may hold
and builds them)::

    [[device]]
    name = "hba0"
    model = "mvumi9143"
    slot = 4
    [[device.target]]
    id = 0                       # target ID on the HBA's bus (LUN 0 only, as the HBA)
    type = "disk"                # "disk", "cdrom" or "tape"
    image = "disk0.img"          # relative to the machine file; a disk's is created
    size = "64M"                 #   (sparse) or grown to this size; a disk with a size
                                 #   and no image is a scratch disk, gone at power-off
    queue_depth = 32             # commands the target takes at once (TASK SET FULL beyond)
    command_ns = 20000           # fixed cost per command
    mib_per_s = 400              # data rate
    attach_at_ns = 0             # hot-plug: appear at this virtual time (0: at power-on);
    detach_at_ns = 0             #   unplug at this one (0: never).  Both are external
                                 #   events: boot does not run on to them

    [scsi_faults]                # scsi_debug's injection (kextlab.machine.scsi.faults)
    every_nth = 0
    opts = 0x4
    [[scsi_faults.rule]]
    hba = "hba0"                 # optional: only this HBA's bus
    target = 0
    action = "medium-error"
    lba = 4096
    blocks = 8
    count = 3
    [[scsi_faults.rule]]
    scsi_debug = "2 -10 0x88 0 0 0x2 0x3 0x11 0x0"   # scsi_debug's own rule line

The per-type keys are in ``TARGET_PARAMETERS`` (``kextlab devices`` lists them).
A machine closes its targets' images when it is closed: a disk's write-back cache
is written back then, as an orderly shutdown would; ``DiskImage.power_loss`` first
models pulling the plug.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kextlab.machine.device import Parameter, ParameterError, check_schema
from kextlab.machine.scsi.bus import Timing
from kextlab.machine.scsi.cdrom import CDROMUnit
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.faults import FaultError, FaultInjector, FaultRule, Opts
from kextlab.machine.scsi.image import DiskImage
from kextlab.machine.scsi.tape import TapeUnit
from kextlab.machine.scsi.target import LogicalUnit, SCSITarget

_COMMON: dict[str, Parameter] = {
    "queue_depth": Parameter("int", 32, "commands the target takes at once", 1, 256),
    "command_ns": Parameter("int", 20_000, "fixed time per command, in ns", 0, 10**12),
    "mib_per_s": Parameter("int", 400, "data rate in MiB/s", 1, 1 << 20),
    "jitter_ns": Parameter("int", 0, "seeded random extra time per command, up to", 0, 10**12),
    "attach_at_ns": Parameter("int", 0, "virtual time the target appears (0: at power-on)", 0),
    "detach_at_ns": Parameter("int", 0, "virtual time the target leaves (0: never)", 0),
    "vendor": Parameter("str", "KEXTLAB", "INQUIRY vendor"),
    "serial": Parameter("str", "", "unit serial number (default: derived from the name)"),
}

TARGET_PARAMETERS: Mapping[str, Mapping[str, Parameter]] = {
    "disk": {
        "image": Parameter("str", "", "raw image file (empty: a scratch disk of `size`)"),
        "size": Parameter("size", 0, "create or grow the image to this size (0: as it is)"),
        "block_size": Parameter("int", 512, "logical block size", 512, 65536, power_of_two=True),
        "thin": Parameter("bool", False, "thin provisioned: UNMAP and WRITE SAME with UNMAP"),
        "write_protect": Parameter("bool", False, "refuse writes (DATA PROTECT)"),
        "write_cache": Parameter("bool", True, "write-back cache on at power-on (WCE)"),
        "product": Parameter("str", "KEXTLAB DISK", "INQUIRY product"),
        **_COMMON,
    },
    "cdrom": {
        "image": Parameter("str", "", "ISO image (empty: no disc in the tray)"),
        "product": Parameter("str", "KEXTLAB CD-ROM", "INQUIRY product"),
        **_COMMON,
    },
    "tape": {
        "image": Parameter("str", "", "AWSTAPE image, created if missing (empty: no tape)"),
        "read_only": Parameter("bool", False, "the cartridge is write-protected"),
        "capacity": Parameter("size", 0, "bytes the cartridge holds (0: unlimited)"),
        "block_size": Parameter("int", 0, "fixed block size at load (0: variable)", 0, 1 << 24),
        "product": Parameter("str", "KEXTLAB TAPE", "INQUIRY product"),
        **_COMMON,
    },
}
MAX_TARGET_ID = 255


@dataclass(frozen=True)
class SCSITargetDescription:
    """One ``[[device.target]]`` entry, checked."""

    key: str  # where it is in the machine file, for errors: "device[2].target[0]"
    target_id: int
    kind: str
    parameters: Mapping[str, Any]
    image: Path | None  # resolved against the machine file's directory

    @property
    def timing(self) -> Timing:
        return Timing(
            command_ns=self.parameters["command_ns"],
            bytes_per_second=self.parameters["mib_per_s"] << 20,
            jitter_ns=self.parameters["jitter_ns"],
        )


def check_target(table: Mapping[str, object], key: str, base: Path) -> SCSITargetDescription:
    """A target table checked against its type's schema; ``ParameterError`` names
    the offending key (relative to ``key``)."""
    values = dict(table)
    target_id = values.pop("id", None)
    if isinstance(target_id, bool) or not isinstance(target_id, int):
        raise ParameterError(f"expected a target ID from 0 to {MAX_TARGET_ID}", "id")
    if not 0 <= target_id <= MAX_TARGET_ID:
        raise ParameterError(
            f"expected a target ID from 0 to {MAX_TARGET_ID}, not {target_id}", "id"
        )
    kind = values.pop("type", None)
    if kind not in TARGET_PARAMETERS:
        raise ParameterError(
            f"expected one of {', '.join(TARGET_PARAMETERS)}, not {kind!r}", "type"
        )
    schema = TARGET_PARAMETERS[str(kind)]
    parameters = check_schema(
        schema,
        values,
        f"a {kind} target has no such key; its keys are: id, type, {', '.join(schema)}",
    )
    if kind == "disk" and not parameters["image"] and not parameters["size"]:
        raise ParameterError("a disk needs an image file, or a size for a scratch disk", "image")
    if kind == "disk" and parameters["size"] % parameters["block_size"]:
        raise ParameterError(
            f"expected a multiple of the {parameters['block_size']}-byte block size", "size"
        )
    if parameters["detach_at_ns"] and parameters["detach_at_ns"] <= parameters["attach_at_ns"]:
        raise ParameterError(
            f"expected a time after attach_at_ns ({parameters['attach_at_ns']})", "detach_at_ns"
        )
    image = base / parameters["image"] if parameters["image"] else None
    return SCSITargetDescription(key, target_id, str(kind), parameters, image)


def build_target(
    description: SCSITargetDescription, name: str
) -> tuple[SCSITarget, Callable[[], None]]:
    """The target a description asks for, and what closes its medium.

    Raises ``OSError`` or the image module's error when the image cannot be used;
    the machine reports it naming ``description.key``.
    """
    parameters = description.parameters
    serial = parameters["serial"] or None
    unit: LogicalUnit
    if description.kind == "disk":
        image = _disk_image(description)
        unit = DiskUnit(
            name,
            image,
            thin=parameters["thin"],
            write_protect=parameters["write_protect"],
            vendor=parameters["vendor"],
            product=parameters["product"],
            serial=serial,
        )
        close: Callable[[], None] = image.close
    elif description.kind == "cdrom":
        cdrom = CDROMUnit(
            name,
            description.image,
            vendor=parameters["vendor"],
            product=parameters["product"],
            serial=serial,
        )
        unit, close = cdrom, cdrom.close
    else:
        tape = TapeUnit(
            name,
            description.image,
            read_only=parameters["read_only"],
            capacity=parameters["capacity"] or None,
            block_size=parameters["block_size"],
            vendor=parameters["vendor"],
            product=parameters["product"],
            serial=serial,
        )
        unit, close = tape, tape.close
    return SCSITarget(name, {0: unit}), close


def _disk_image(description: SCSITargetDescription) -> DiskImage:
    """The disk's image: its file, or a scratch file (a disk with a size and no
    image) that lives as long as the machine and leaves nothing behind: it is
    unlinked as soon as it is open, so even a crash cannot leak it."""
    parameters = description.parameters
    scratch = description.image is None
    if scratch:
        handle, name = tempfile.mkstemp(prefix="kextlab-scratch-", suffix=".img")
        os.close(handle)
        path = Path(name)
    else:
        assert description.image is not None
        path = description.image
    try:
        return DiskImage(
            path,
            block_size=parameters["block_size"],
            size=parameters["size"] or None,
            read_only=parameters["write_protect"] and not scratch,
            write_cache=parameters["write_cache"],
        )
    finally:
        if scratch:
            path.unlink(missing_ok=True)


# -- faults ----------------------------------------------------------------------------------

FAULT_SETTINGS: Mapping[str, Parameter] = {
    "every_nth": Parameter(
        "int",
        0,
        "inject on every n-th command (negative: see scsi_debug)",
        -(1 << 31),
        (1 << 31) - 1,
    ),
    "opts": Parameter("int", 0, "scsi_debug's opts bits", 0, 0x1FFFF),
    "medium_error_start": Parameter("int", 0x1234, "first LBA of MEDIUM_ERR's range", 0),
    "medium_error_count": Parameter("int", 10, "blocks in MEDIUM_ERR's range", 1),
    "delay_ns": Parameter("int", 0, "extra latency of every command, in ns", 0, 10**12),
    "random_delay": Parameter("bool", False, "draw the delay uniformly from 0 to delay_ns"),
}


@dataclass(frozen=True)
class SCSIFaultDescription:
    """The ``[scsi_faults]`` table, checked: settings, and rules as (HBA, table)."""

    settings: Mapping[str, Any]
    rules: tuple[tuple[str | None, Mapping[str, object]], ...]


def check_fault_settings(table: Mapping[str, object]) -> dict[str, Any]:
    """The settings of ``[scsi_faults]`` (every key but ``rule``), typed."""
    settings = check_schema(
        FAULT_SETTINGS,
        {name: value for name, value in table.items() if name != "rule"},
        f"no such setting; the settings are: {', '.join(FAULT_SETTINGS)}, rule",
    )
    try:
        FaultInjector.check_opts(settings["opts"])
    except FaultError as error:
        raise ParameterError(str(error), "opts") from None
    return settings


def rule_from_table(table: Mapping[str, object], where: str, bus: str | None) -> FaultRule:
    """A fresh ``FaultRule`` from a ``[[scsi_faults.rule]]`` table (``hba`` already
    taken out and resolved to ``bus``): either ``scsi_debug = "<line>"`` with optional
    ``target``/``lun``, or the keys of ``FaultRule.from_table``."""
    values = dict(table)
    line = values.pop("scsi_debug", None)
    if line is None:
        rule = FaultRule.from_table(values, where)
    else:
        if not isinstance(line, str):
            raise FaultError(f"{where}.scsi_debug: expected a rule line string, not {line!r}")
        extra = set(values) - {"target", "lun"}
        if extra:
            raise FaultError(
                f"{where}.{sorted(extra)[0]}: a scsi_debug rule line takes only target and lun"
            )
        for key in ("target", "lun"):
            value = values.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise FaultError(f"{where}.{key}: expected a whole number, got {value!r}")
        try:
            rule = FaultRule.parse(
                line,
                target=values.get("target"),  # type: ignore[arg-type]
                lun=values.get("lun"),  # type: ignore[arg-type]
            )
        except FaultError as error:
            raise FaultError(f"{where}.scsi_debug: {error}") from None
    rule.bus = bus
    return rule


def build_fault_injector(
    injector: FaultInjector, description: SCSIFaultDescription, bus_names: Mapping[str, str]
) -> None:
    """Configure ``injector`` from the machine's ``[scsi_faults]``; ``bus_names`` maps
    HBA device names to their buses' names."""
    settings = description.settings
    injector.every_nth = settings["every_nth"]
    injector.set_opts(Opts(settings["opts"]))
    injector.medium_error_start = settings["medium_error_start"]
    injector.medium_error_count = settings["medium_error_count"]
    injector.delay_ns = settings["delay_ns"]
    injector.random_delay = settings["random_delay"]
    for index, (hba, table) in enumerate(description.rules):
        bus = bus_names[hba] if hba is not None else None
        injector.add_rule(rule_from_table(table, f"scsi_faults.rule[{index}]", bus))
