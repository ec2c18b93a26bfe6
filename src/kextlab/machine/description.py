"""Machine descriptions: the TOML files that say what a machine is made of.

A description fixes the architecture and boot options, the RAM, the PCI host
bridge's windows and interrupt routing, and the devices with their slots and
parameters.  ``kextlab`` embeds a default machine (``machines/default.toml``, read
it as the reference); users write their own and pass ``--machine FILE``.

Layout::

    [machine]
    name = "lab"                 # default: the file name without .toml
    model = "KextLab1,1"         # the model the firmware publishes
    arch = "x86"                 # "ppc", "x86" or "arm64": the kernel's architecture
    [boot]
    kernel_bits = 64             # 32 or 64 (x86 only offers both)
    args = ""                    # boot-args
    [memory]
    size = "3G"                  # RAM; what does not fit below the PCI hole goes above 4 GiB
    below_4g = "2G"              # optional: RAM placed below 4 GiB
    [pci]
    memory_window = { base = 0x80000000, size = "1G" }
    prefetchable_window = { base = 0x1000000000, size = "16G" }     # optional
    io_window = { cpu_base = 0xF2000000, size = "64K" }
    config_registers = { address = 0xF2800000, data = 0xF2C00000 }   # optional
    interrupt_inputs = [16, 17, 18, 19]                             # INTA#..INTD# routing

    [[device]]
    name = "bridge0"             # default: model + number
    model = "dec21154"
    slot = 13                    # device number on its bus
    bus = "pci"                  # the root bus, or the name of a bridge device
    function = 0
    [device.params]              # the model's parameters (``kextlab devices``)
    [[device.target]]            # a host bus adapter's SCSI targets (disk, cdrom, tape)
    [scsi_faults]                # scsi_debug-style fault injection on the SCSI buses
    [scheduler]                  # optional: seeded preemption, to make races show
    preemption = "off"           # "off" or "seeded"
    preemption_probability = 0.05  # chance a thread's preemption point ends its slice
    max_slice_ns = 1000000       # a preempted thread's longest wait (log-uniform from 1 ns)
    max_wakeup_latency_ns = 1000 # a woken thread's longest delay before it runs

Targets and faults are described in ``kextlab.machine.scsi.attach``; the scheduler's
options in ``kextlab.sim.preemption`` (the parameters are kept with ``preemption =
"off"`` too, for ``Machine(..., preemption="seeded")`` to use).

Every error names the file, the key and what was expected, and raises
``MachineDescriptionError``; a description that loads is consistent (no overlapping
windows or slots, every bus exists, every parameter is typed and in range).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kextlab.errors import MachineDescriptionError
from kextlab.machine.device import DeviceModel, ParameterError
from kextlab.machine.devices import DeviceCatalog
from kextlab.machine.memory import FOUR_GIB, RamRange
from kextlab.machine.pci.bridge import PCIBridge
from kextlab.machine.pci.host import AddressWindow, HostBridgeLayout
from kextlab.machine.scsi.attach import (
    SCSIFaultDescription,
    SCSITargetDescription,
    check_fault_settings,
    check_target,
    rule_from_table,
)
from kextlab.machine.scsi.faults import FaultError
from kextlab.machine.sizes import format_size, parse_size
from kextlab.sim.preemption import PREEMPTION_MODES, PreemptionPolicy

ROOT_BUS = "pci"
ARCHITECTURES = ("ppc", "x86", "arm64")
KERNEL_BITS = {"ppc": (32,), "x86": (32, 64), "arm64": (64,)}
#: Fixed platform addresses (the interrupt controller's register block).
INTERRUPT_CONTROLLER_BASE = 0xF804_0000
INTERRUPT_CONTROLLER_SIZE = 0x1000
#: The emulated machine's page size: RAM comes in whole pages whatever the host's is.
PAGE_SIZE = 0x1000
ADDRESS_SPACE_END = 1 << 64
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_EMBEDDED = "kextlab.machine.machines"


@dataclass(frozen=True)
class DeviceDescription:
    """One ``[[device]]`` entry, checked."""

    index: int
    name: str
    model: str
    model_class: type[DeviceModel]
    bus: str
    slot: int
    function: int
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: SCSI targets on the device's bus (host bus adapters only).
    targets: tuple[SCSITargetDescription, ...] = ()

    @property
    def is_bridge(self) -> bool:
        return issubclass(self.model_class, PCIBridge)


@dataclass(frozen=True)
class MachineDescription:
    """A checked machine description."""

    name: str
    source: str
    model: str
    arch: str
    kernel_bits: int
    boot_args: str
    ram: tuple[RamRange, ...]
    host_bridge: HostBridgeLayout
    devices: tuple[DeviceDescription, ...]
    scsi_faults: SCSIFaultDescription = field(
        default_factory=lambda: SCSIFaultDescription(check_fault_settings({}), ())
    )
    #: ``[scheduler]``: "off" or "seeded", and the seeded policy's parameters.
    preemption: str = "off"
    preemption_policy: PreemptionPolicy = field(default_factory=PreemptionPolicy)

    @property
    def ram_size(self) -> int:
        return sum(ram.size for ram in self.ram)


# -- finding and reading descriptions ------------------------------------------------------------


def embedded_machine_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(_EMBEDDED).iterdir()
        if entry.name.endswith(".toml")
    )


def load_machine_description(
    spec: str = "default", catalog: DeviceCatalog | None = None
) -> MachineDescription:
    """Read the embedded machine called ``spec``, or the TOML file at path ``spec``.

    ``spec`` is a path when it ends in ``.toml`` or contains a directory separator
    (``./lab``), so that nothing in the working directory can shadow an embedded
    machine.
    """
    catalog = catalog or DeviceCatalog()
    path = Path(spec)
    looks_like_path = spec.endswith(".toml") or "/" in spec or "\\" in spec
    if not looks_like_path:
        if spec not in embedded_machine_names():
            names = ", ".join(embedded_machine_names())
            raise MachineDescriptionError(
                spec,
                None,
                f"no embedded machine has this name; expected one of: {names}, "
                f"or the path of a .toml machine file",
            )
        folder = resources.files(_EMBEDDED)
        text = folder.joinpath(f"{spec}.toml").read_text(encoding="utf-8")
        # The media an embedded machine names (the default machine's CD) ship beside it.
        return parse_machine_description(
            text, f"<embedded machine {spec}>", spec, catalog, base=Path(str(folder))
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MachineDescriptionError(str(path), None, "machine file not found") from None
    except IsADirectoryError:
        raise MachineDescriptionError(
            str(path), None, "is a directory, not a machine file"
        ) from None
    except UnicodeDecodeError as error:
        raise MachineDescriptionError(str(path), None, f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise MachineDescriptionError(str(path), None, f"cannot read: {error.strerror}") from None
    return parse_machine_description(text, str(path), path.stem, catalog)


def parse_machine_description(
    text: str,
    source: str,
    default_name: str,
    catalog: DeviceCatalog | None = None,
    *,
    base: Path | None = None,
) -> MachineDescription:
    """Check a machine description given as TOML text; ``source`` names it in errors,
    and relative image paths resolve against ``base`` (by default the directory of
    ``source`` when it is a path, else the working directory)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MachineDescriptionError(source, None, f"not valid TOML: {error}") from None
    return _Parser(source, catalog or DeviceCatalog(), base).parse(document, default_name)


# -- the parser -----------------------------------------------------------------------------------


class _Table:
    """A TOML table being read: typed getters, and an error for keys nobody read."""

    def __init__(self, parser: _Parser, key: str, values: Mapping[str, Any]) -> None:
        self.parser = parser
        self.key = key
        self.values = values
        self._read: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str | None, message: str) -> MachineDescriptionError:
        return MachineDescriptionError(
            self.parser.source, self.path(name) if name else self.key or None, message
        )

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> Any:
        self._read.add(name)
        return self.values[name]

    def string(self, name: str, default: str | None = None) -> str:
        if name not in self.values:
            if default is None:
                raise self.error(name, "missing; expected a string")
            return default
        value = self.raw(name)
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, not {value!r}")
        return value

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        minimum: int = 0,
        maximum: int = (1 << 64) - 1,
    ) -> int:
        if name not in self.values:
            if default is None:
                raise self.error(name, "missing; expected an integer")
            return default
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, not {value!r}")
        if not minimum <= value <= maximum:
            raise self.error(name, f"expected an integer from {minimum} to {maximum}, not {value}")
        return value

    def size(self, name: str, default: int | None = None) -> int:
        if name not in self.values:
            if default is None:
                raise self.error(name, 'missing; expected a size such as "512M"')
            return default
        try:
            return parse_size(self.raw(name))
        except ValueError as error:
            raise self.error(name, str(error)) from None

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        if name not in self.values:
            if required:
                raise self.error(name, "missing table")
            return None
        value = self.raw(name)
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table, not {value!r}")
        return _Table(self.parser, self.path(name), value)

    def finish(self) -> None:
        unknown = sorted(set(self.values) - self._read)
        if unknown:
            raise self.error(
                unknown[0], "unknown key; check its spelling against the machine description format"
            )


@dataclass(frozen=True)
class _Region:
    """A fixed range of the physical address map, with the file key that placed it."""

    key: str | None
    label: str
    window: AddressWindow

    def describe(self) -> str:
        return f"{self.key or self.label} [{self.window.base:#x}, {self.window.end:#x})"


class _Parser:
    def __init__(self, source: str, catalog: DeviceCatalog, base: Path | None) -> None:
        self.source = source
        self.catalog = catalog
        #: Relative image paths in the file are relative to its directory.
        if base is None:
            base = Path(source).parent if not source.startswith("<") else Path()
        self.base = base
        self._platform: list[_Region] = []

    def error(self, key: str | None, message: str) -> MachineDescriptionError:
        return MachineDescriptionError(self.source, key, message)

    def parse(self, document: Mapping[str, Any], default_name: str) -> MachineDescription:
        top = _Table(self, "", document)
        machine = top.table("machine") or _Table(self, "machine", {})
        name = machine.string("name", default_name)
        model = machine.string("model", "KextLab1,1")
        arch = machine.string("arch", "x86")
        if arch not in ARCHITECTURES:
            raise machine.error("arch", f"expected one of {', '.join(ARCHITECTURES)}, not {arch!r}")
        machine.finish()

        boot = top.table("boot") or _Table(self, "boot", {})
        kernel_bits = boot.integer("kernel_bits", max(KERNEL_BITS[arch]), maximum=128)
        if kernel_bits not in KERNEL_BITS[arch]:
            allowed = " or ".join(str(bits) for bits in KERNEL_BITS[arch])
            raise boot.error(
                "kernel_bits", f"the {arch} kernel is {allowed}-bit, not {kernel_bits}"
            )
        boot_args = boot.string("args", "")
        boot.finish()

        host = self._host_bridge(top.table("pci") or _Table(self, "pci", {}))
        ram = self._memory(top.table("memory", required=True), host)
        devices = self._devices(top)
        scsi_faults = self._scsi_faults(top.table("scsi_faults"), devices)
        preemption, preemption_policy = self._scheduler(
            top.table("scheduler") or _Table(self, "scheduler", {})
        )
        top.finish()
        return MachineDescription(
            name=name,
            source=self.source,
            model=model,
            arch=arch,
            kernel_bits=kernel_bits,
            boot_args=boot_args,
            ram=ram,
            host_bridge=host,
            devices=devices,
            scsi_faults=scsi_faults,
            preemption=preemption,
            preemption_policy=preemption_policy,
        )

    # -- the scheduler ---------------------------------------------------------------------

    def _scheduler(self, table: _Table) -> tuple[str, PreemptionPolicy]:
        mode = table.string("preemption", "off")
        if mode not in PREEMPTION_MODES:
            expected = " or ".join(f'"{name}"' for name in PREEMPTION_MODES)
            raise table.error("preemption", f"expected {expected}, not {mode!r}")
        defaults = PreemptionPolicy()
        probability = defaults.probability
        if table.has("preemption_probability"):
            value = table.raw("preemption_probability")
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 1
            ):
                raise table.error(
                    "preemption_probability", f"expected a number from 0 to 1, not {value!r}"
                )
            probability = float(value)
        max_slice = table.integer("max_slice_ns", defaults.max_slice_ns, minimum=1)
        max_latency = table.integer("max_wakeup_latency_ns", defaults.max_wakeup_latency_ns)
        table.finish()
        return mode, PreemptionPolicy(probability, max_slice, max_latency)

    # -- PCI host bridge -------------------------------------------------------------------

    def _window(
        self,
        table: _Table,
        name: str,
        default: AddressWindow | None,
        *,
        base_key: str = "base",
        below_4g: bool = True,
        granularity: int = 1 << 20,
        required: bool = True,
    ) -> AddressWindow | None:
        window_table = table.table(name)
        if window_table is None:
            if required and default is None:
                raise table.error(name, "missing window")
            return default
        base = window_table.integer(base_key)
        size = window_table.size("size")
        window_table.finish()
        if size == 0 or size % granularity or base % granularity:
            raise window_table.error(
                None,
                f"base {base:#x} and size {format_size(size)} must be non-zero multiples "
                f"of {format_size(granularity)}",
            )
        if below_4g and base + size > FOUR_GIB:
            raise window_table.error(None, f"must lie below 4 GiB; it ends at {base + size:#x}")
        if base + size > ADDRESS_SPACE_END:
            raise window_table.error(
                None, f"ends at {base + size:#x}, beyond the 64-bit physical address space"
            )
        return AddressWindow(base, size)

    def _host_bridge(self, pci: _Table) -> HostBridgeLayout:
        memory = self._window(pci, "memory_window", AddressWindow(0x8000_0000, 0x6000_0000))
        prefetchable = self._window(
            pci, "prefetchable_window", None, below_4g=False, required=False
        )
        io = self._window(
            pci,
            "io_window",
            AddressWindow(0xF200_0000, 0x1_0000),
            base_key="cpu_base",
            granularity=0x1000,
        )
        assert memory is not None
        assert io is not None
        if io.size > 1 << 24:
            raise pci.error("io_window.size", "the PCI I/O space is at most 16 MiB")
        config = pci.table("config_registers")
        config_address = config_data = None
        if config is not None:
            config_address = config.integer("address", maximum=FOUR_GIB - 4)
            config_data = config.integer("data", maximum=FOUR_GIB - 4)
            config.finish()
            if config_address % 4 or config_data % 4:
                raise config.error(None, "register addresses must be multiples of 4")
        inputs = (16, 17, 18, 19)
        if pci.has("interrupt_inputs"):
            value = pci.raw("interrupt_inputs")
            if (
                not isinstance(value, list)
                or len(value) != 4
                or not all(
                    isinstance(item, int) and not isinstance(item, bool) and 0 <= item < 32
                    for item in value
                )
            ):
                raise pci.error(
                    "interrupt_inputs",
                    "expected four interrupt controller inputs "
                    f"(0-31) for INTA#..INTD#, not {value!r}",
                )
            inputs = (value[0], value[1], value[2], value[3])
        pci.finish()

        regions = [
            _Region("pci.memory_window", "the PCI memory window", memory),
            _Region("pci.io_window", "the PCI I/O window", io),
            _Region(
                None,
                "the interrupt controller",
                AddressWindow(INTERRUPT_CONTROLLER_BASE, INTERRUPT_CONTROLLER_SIZE),
            ),
        ]
        if prefetchable is not None:
            regions.append(
                _Region("pci.prefetchable_window", "the prefetchable window", prefetchable)
            )
        if config_address is not None and config_data is not None:
            regions.append(
                _Region(
                    "pci.config_registers.address",
                    "CONFIG_ADDRESS",
                    AddressWindow(config_address, 4),
                )
            )
            regions.append(
                _Region("pci.config_registers.data", "CONFIG_DATA", AddressWindow(config_data, 4))
            )
        self._check_disjoint(regions)
        self._platform = regions
        return HostBridgeLayout(
            memory, prefetchable, io.base, io.size, config_address, config_data, inputs
        )

    def _check_disjoint(self, regions: list[_Region]) -> None:
        for index, first in enumerate(regions):
            for second in regions[index + 1 :]:
                if first.window.overlaps(second.window):
                    key = second.key if second.key is not None else first.key
                    raise self.error(
                        key,
                        f"{second.describe()} overlaps {first.describe()}",
                    )

    # -- memory ----------------------------------------------------------------------------------

    def _memory(self, memory: _Table | None, host: HostBridgeLayout) -> tuple[RamRange, ...]:
        assert memory is not None
        size = memory.size("size")
        if size == 0 or size % PAGE_SIZE:
            raise memory.error(
                "size",
                f"expected a non-zero multiple of {PAGE_SIZE} bytes, not {format_size(size)}",
            )
        lowest = min(
            (region for region in self._platform if region.window.base < FOUR_GIB),
            key=lambda region: region.window.base,
        )
        hole = lowest.window.base - lowest.window.base % PAGE_SIZE
        below = memory.size("below_4g", min(size, hole))
        memory.finish()
        if below > size:
            raise memory.error(
                "below_4g", f"{format_size(below)} is more than the RAM ({format_size(size)})"
            )
        if below > hole:
            raise memory.error(
                "below_4g",
                f"{format_size(below)} would reach into the PCI hole at {hole:#x}; "
                f"at most {format_size(hole)} fits (below {lowest.describe()})",
            )
        if below % PAGE_SIZE:
            raise memory.error("below_4g", f"expected a multiple of {PAGE_SIZE} bytes")
        ranges = []
        if below:
            ranges.append(RamRange(0, below))
        if size > below:
            ranges.append(RamRange(FOUR_GIB, size - below))
        for ram in ranges:
            window = AddressWindow(ram.base, ram.size)
            for region in self._platform:
                if window.overlaps(region.window):
                    raise memory.error(
                        "size" if ram.base else "below_4g",
                        f"RAM {'above' if ram.base else 'below'} 4 GiB, [{ram.base:#x}, "
                        f"{ram.end:#x}), overlaps {region.describe()}",
                    )
        return tuple(ranges)

    # -- devices ----------------------------------------------------------------------------------

    def _devices(self, top: _Table) -> tuple[DeviceDescription, ...]:
        if not top.has("device"):
            return ()
        entries = top.raw("device")
        if not isinstance(entries, list):
            raise self.error("device", "expected an array of tables ([[device]] entries)")
        devices: list[DeviceDescription] = []
        counters: dict[str, int] = {}
        for index, entry in enumerate(entries):
            key = f"device[{index}]"
            if not isinstance(entry, dict):
                raise self.error(key, f"expected a table, not {entry!r}")
            devices.append(self._device(_Table(self, key, entry), index, counters))
        self._check_topology(devices)
        return tuple(devices)

    def _device(self, table: _Table, index: int, counters: dict[str, int]) -> DeviceDescription:
        model = table.string("model")
        if model not in self.catalog:
            raise table.error(
                "model",
                f"unknown device model {model!r}; expected one of: "
                f"{', '.join(self.catalog.names())}",
            )
        model_class = self.catalog.load(model)
        number = counters.get(model, 0)
        counters[model] = number + 1
        name = table.string("name", f"{model}{number}")
        if not _NAME.fullmatch(name) or name == ROOT_BUS:
            raise table.error(
                "name",
                f"{name!r} is not a device name: expected a letter, then up "
                f"to 31 letters, digits, '-' or '_' (and not {ROOT_BUS!r})",
            )
        bus = table.string("bus", ROOT_BUS)
        slot = table.integer("slot", maximum=31)
        function = table.integer("function", 0, maximum=7)
        params_table = table.table("params")
        given = dict(params_table.values) if params_table is not None else {}
        try:
            parameters = model_class.check_parameters(given)
        except ParameterError as error:
            if error.key not in model_class.parameters:
                known = ", ".join(model_class.parameters) or "none"
                raise table.error(
                    f"params.{error.key}",
                    f"model {model!r} has no such parameter; its parameters are: {known}",
                ) from None
            raise table.error(f"params.{error.key}", str(error)) from None
        targets = self._targets(table, model, model_class)
        table.finish()
        return DeviceDescription(
            index, name, model, model_class, bus, slot, function, parameters, targets
        )

    def _targets(
        self, table: _Table, model: str, model_class: type[DeviceModel]
    ) -> tuple[SCSITargetDescription, ...]:
        if not table.has("target"):
            return ()
        entries = table.raw("target")
        if not model_class.has_scsi_bus:
            raise table.error("target", f"model {model!r} has no SCSI bus to attach targets to")
        if not isinstance(entries, list):
            raise table.error("target", "expected an array of tables ([[device.target]] entries)")
        targets: list[SCSITargetDescription] = []
        taken: dict[int, int] = {}
        for index, entry in enumerate(entries):
            key = f"target[{index}]"
            if not isinstance(entry, dict):
                raise table.error(key, f"expected a table, not {entry!r}")
            try:
                target = check_target(entry, table.path(key), self.base)
            except ParameterError as error:
                raise table.error(f"{key}.{error.key}", str(error)) from None
            if target.target_id in taken:
                other = taken[target.target_id]
                raise table.error(
                    f"{key}.id", f"target ID {target.target_id} is already taken by target[{other}]"
                )
            taken[target.target_id] = index
            targets.append(target)
        return tuple(targets)

    def _scsi_faults(
        self, table: _Table | None, devices: tuple[DeviceDescription, ...]
    ) -> SCSIFaultDescription:
        if table is None:
            return SCSIFaultDescription(check_fault_settings({}), ())
        try:
            settings = check_fault_settings(table.values)
        except ParameterError as error:
            raise table.error(error.key, str(error)) from None
        hbas = {device.name for device in devices if device.model_class.has_scsi_bus}
        rules: list[tuple[str | None, Mapping[str, object]]] = []
        entries = table.values.get("rule", [])
        if not isinstance(entries, list):
            raise table.error("rule", "expected an array of tables ([[scsi_faults.rule]] entries)")
        for index, entry in enumerate(entries):
            key = f"rule[{index}]"
            if not isinstance(entry, dict):
                raise table.error(key, f"expected a table, not {entry!r}")
            values = dict(entry)
            hba = values.pop("hba", None)
            if hba is not None and hba not in hbas:
                known = ", ".join(sorted(hbas)) or "none"
                raise table.error(
                    f"{key}.hba",
                    f"no host bus adapter is called {hba!r}; the machine's are: {known}",
                )
            try:
                rule_from_table(values, table.path(key), None)
            except FaultError as error:
                raise MachineDescriptionError(self.source, None, str(error)) from None
            rules.append((hba, values))
        # check_fault_settings refused every key but its settings and "rule".
        return SCSIFaultDescription(settings, tuple(rules))

    def _check_topology(self, devices: list[DeviceDescription]) -> None:
        by_name: dict[str, DeviceDescription] = {}
        for device in devices:
            key = f"device[{device.index}]"
            if device.name in by_name:
                raise self.error(
                    f"{key}.name",
                    f"{device.name!r} is already the name of device[{by_name[device.name].index}]",
                )
            by_name[device.name] = device
        places: dict[tuple[str, int, int], DeviceDescription] = {}
        for device in devices:
            key = f"device[{device.index}]"
            if device.bus != ROOT_BUS:
                parent = by_name.get(device.bus)
                if parent is None or not parent.is_bridge:
                    bridges = [ROOT_BUS] + [other.name for other in devices if other.is_bridge]
                    raise self.error(
                        f"{key}.bus",
                        f"no bus called {device.bus!r}; expected one of: {', '.join(bridges)}",
                    )
            place = (device.bus, device.slot, device.function)
            if place in places:
                other = places[place]
                raise self.error(
                    f"{key}.slot",
                    f"slot {device.slot} function {device.function} on bus {device.bus!r} is "
                    f"already taken by device[{other.index}] ({other.name})",
                )
            places[place] = device
        for device in devices:
            if device.function and (device.bus, device.slot, 0) not in places:
                raise self.error(
                    f"device[{device.index}].function",
                    f"function {device.function} in slot {device.slot} on bus {device.bus!r} "
                    f"needs a function 0 in the same slot",
                )
            seen = {device.name}
            bus = device.bus
            while bus != ROOT_BUS:
                if bus in seen:
                    raise self.error(
                        f"device[{device.index}].bus", f"bridge {device.name!r} sits behind itself"
                    )
                seen.add(bus)
                bus = by_name[bus].bus
