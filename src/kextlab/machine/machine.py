"""The machine: one scheduler, RAM, address spaces, interrupts, PCI and devices.

A ``Machine`` owns everything its description asks for and nothing global: two
machines in one process never see each other.  Construction builds the hardware in
its power-on state; nothing runs until someone drives it, through

* the firmware (``kextlab.firmware``), which probes PCI and builds the device tree;
* CPU accesses (``read``/``write`` for memory-mapped registers and RAM, ``io_read``/
  ``io_write`` for ports, ``config_read``/``config_write`` for configuration cycles),
  each of which costs virtual time (``BusTiming``) and is a preemption point: events
  that fall due meanwhile run, so a polled device makes progress;
* the scheduler (``machine.scheduler``): ``run``, ``run_for``, kernel threads.

The ``console`` ring collects the machine's own messages (the boot log) with their
virtual times; ``guest_errors`` collects every misprogramming of a device.

SCSI targets a description gives a host bus adapter are built and plugged in (or
scheduled to be, for hot-plug) when the adapter is realized; ``scsi_faults`` is the
machine's one fault injector, installed on every SCSI bus (scsi_debug counts the
commands of all its hosts together), configured from ``[scsi_faults]`` and open to
tests at run time.  Closing the machine closes the targets' media.

``preemption`` chooses the schedule (``kextlab.sim.preemption``): by default the
description's ``[scheduler]`` table decides; ``"off"`` or ``"seeded"`` override its
mode (``"seeded"`` with the table's parameters), and a ``PreemptionPolicy`` gives the
parameters outright.  Tests hunting races pass ``preemption="seeded"`` and a seed.

Threading rules: a machine belongs to the OS thread that created it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from kextlab.errors import MachineDescriptionError
from kextlab.machine.address_space import AddressSpace, MmioRegion
from kextlab.machine.description import (
    INTERRUPT_CONTROLLER_BASE,
    ROOT_BUS,
    DeviceDescription,
    MachineDescription,
    load_machine_description,
)
from kextlab.machine.device import DeviceModel
from kextlab.machine.guest_errors import GuestErrorLog
from kextlab.machine.interrupts import InterruptController
from kextlab.machine.memory import PhysicalMemory, RamRegion
from kextlab.machine.pci.bridge import PCIBridge
from kextlab.machine.pci.bus import PCIBus
from kextlab.machine.pci.function import PCIFunction
from kextlab.machine.pci.host import PCIHostBridge
from kextlab.machine.scsi.attach import build_fault_injector, build_target
from kextlab.machine.scsi.bus import SCSIBus
from kextlab.machine.scsi.faults import FaultError, FaultInjector
from kextlab.sim.log import LogRing
from kextlab.sim.preemption import PreemptionPolicy
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.trace import TraceRecorder


@dataclass(frozen=True)
class BusTiming:
    """Virtual time a CPU access costs, typical of a 33 MHz PCI bus."""

    memory_read_ns: int = 250  # a non-posted read across the host bridge
    memory_write_ns: int = 50  # a posted write
    io_ns: int = 500  # port I/O is non-posted both ways
    config_ns: int = 1000  # a configuration cycle


class Machine:
    """An emulated machine built from a ``MachineDescription``."""

    def __init__(
        self,
        description: MachineDescription,
        *,
        seed: int = 0,
        trace: TraceRecorder | None = None,
        timing: BusTiming | None = None,
        preemption: PreemptionPolicy | Literal["off", "seeded"] | None = None,
    ) -> None:
        self.description = description
        self._timing = timing or BusTiming()
        policy = _preemption_policy(description, preemption)
        self.scheduler = Scheduler(seed=seed, trace=trace, preemption=policy)
        self.guest_errors = GuestErrorLog(self.scheduler)
        self.console = LogRing(lambda: self.scheduler.now)
        self.memory = PhysicalMemory(list(description.ram), self.guest_errors)
        consume = self.scheduler.consume
        timing = self._timing
        self.memory_space = AddressSpace(
            "memory",
            self.guest_errors,
            consume=consume,
            cpu_read_ns=timing.memory_read_ns,
            cpu_write_ns=timing.memory_write_ns,
        )
        self.io_space = AddressSpace(
            "io",
            self.guest_errors,
            address_bits=32,
            consume=consume,
            cpu_read_ns=timing.io_ns,
            cpu_write_ns=timing.io_ns,
        )
        # The CPU's loads and stores are the spaces' CPU accessors themselves: every
        # register access of every driver is one call (see "the CPU's accesses").
        self.read = self.memory_space.cpu_read
        self.write = self.memory_space.cpu_write
        self.io_read = self.io_space.cpu_read
        self.io_write = self.io_space.cpu_write
        for region in self.memory.regions:
            self.memory_space.map_fixed(region.base, _ram_region(region))
        self.interrupt_controller = InterruptController(self.scheduler, self.guest_errors)
        self.memory_space.map_fixed(INTERRUPT_CONTROLLER_BASE, self.interrupt_controller.region)
        self.pci = PCIHostBridge(
            description.host_bridge,
            scheduler=self.scheduler,
            memory_space=self.memory_space,
            io_space=self.io_space,
            interrupt_controller=self.interrupt_controller,
            guest_errors=self.guest_errors,
        )
        self.devices: dict[str, DeviceModel] = {}
        self.scsi_faults = FaultInjector(self.scheduler)
        self._media: list[Callable[[], None]] = []
        # Power-on heads the trace: building devices (plugging in targets, settling
        # interrupt lines) is already the powered machine's doing.
        self.scheduler.trace_point(
            "machine.power-on", f"{description.name} seed {seed} ram {self.memory.size:#x}"
        )
        if policy is not None:
            self.scheduler.trace_point("machine.preemption", f"seeded {policy.describe()}")
        try:
            self._build_devices()
            build_fault_injector(
                self.scsi_faults,
                description.scsi_faults,
                {name: bus.name for name, bus in self.scsi_buses().items()},
            )
        except FaultError as error:
            self.close()
            raise MachineDescriptionError(description.source, None, str(error)) from None
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_name(
        cls,
        spec: str = "default",
        *,
        seed: int = 0,
        trace: TraceRecorder | None = None,
        preemption: PreemptionPolicy | Literal["off", "seeded"] | None = None,
    ) -> Machine:
        """Build the embedded machine ``spec`` or the one in the TOML file at ``spec``."""
        return cls(load_machine_description(spec), seed=seed, trace=trace, preemption=preemption)

    def _build_devices(self) -> None:
        pending = list(self.description.devices)
        buses: dict[str, PCIBus] = {ROOT_BUS: self.pci.root_bus}
        while pending:
            ready = [device for device in pending if device.bus in buses]
            assert ready, "the description's topology check guarantees progress"
            for entry in ready:
                pending.remove(entry)
                device = entry.model_class(entry.name, entry.parameters)
                if isinstance(device, PCIFunction):
                    buses[entry.bus].attach(device, entry.slot, entry.function)
                device.realize(self)
                self.devices[entry.name] = device
                if isinstance(device, PCIBridge):
                    buses[entry.name] = device.secondary_bus
                if device.has_scsi_bus:
                    self.scsi_faults.install(device.scsi_bus)
                    self._attach_targets(entry, device.scsi_bus)

    def _attach_targets(self, entry: DeviceDescription, bus: SCSIBus) -> None:
        for target in entry.targets:
            try:
                built, close = build_target(target, f"{entry.name}.t{target.target_id}")
            except OSError as error:
                raise MachineDescriptionError(
                    self.description.source,
                    f"{target.key}.image",
                    f"{error.filename or target.image}: {error.strerror or error}",
                ) from None
            except ValueError as error:  # the image modules' errors name the file
                raise MachineDescriptionError(
                    self.description.source, f"{target.key}.image", str(error)
                ) from None
            self._media.append(close)
            parameters = target.parameters
            try:
                bus.attach(
                    target.target_id,
                    built,
                    timing=target.timing,
                    queue_depth=parameters["queue_depth"],
                    at=parameters["attach_at_ns"] or None,
                )
            except ValueError as error:
                raise MachineDescriptionError(
                    self.description.source, f"{target.key}.id", str(error)
                ) from None
            if parameters["detach_at_ns"]:
                bus.detach(target.target_id, at=parameters["detach_at_ns"])

    # -- lookup -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def timing(self) -> BusTiming:
        """What CPU accesses cost; fixed at construction (the address spaces charge it)."""
        return self._timing

    def device(self, name: str) -> DeviceModel:
        try:
            return self.devices[name]
        except KeyError:
            known = ", ".join(self.devices) or "none"
            raise KeyError(
                f"machine {self.name!r} has no device {name!r} (devices: {known})"
            ) from None

    def pci_function(self, name: str) -> PCIFunction:
        device = self.device(name)
        if not isinstance(device, PCIFunction):
            raise TypeError(f"device {name!r} is not a PCI function")
        return device

    def scsi_buses(self) -> dict[str, SCSIBus]:
        """The SCSI bus of every host bus adapter, by device name."""
        return {
            name: device.scsi_bus for name, device in self.devices.items() if device.has_scsi_bus
        }

    def pci_functions(self) -> list[PCIFunction]:
        """Every PCI function, depth first in bus order."""
        return self.pci.root_bus.walk()

    # -- the CPU's accesses ---------------------------------------------------------------------

    #: ``read(address, size)``: a load from physical memory or a memory-mapped register
    #: (little-endian), ``memory_space.cpu_read``: it costs ``timing.memory_read_ns``.
    read: Callable[[int, int], int]
    #: ``write(address, size, value)``: a store, ``memory_space.cpu_write``
    #: (``timing.memory_write_ns``).
    write: Callable[[int, int, int], None]
    #: ``io_read(port, size)`` and ``io_write(port, size, value)``: port I/O,
    #: ``io_space.cpu_read``/``cpu_write`` (``timing.io_ns`` each).
    io_read: Callable[[int, int], int]
    io_write: Callable[[int, int, int], None]

    def config_read(self, bus: int, device: int, function: int, offset: int, size: int) -> int:
        value = self.pci.config_read(bus, device, function, offset, size)
        self.scheduler.consume(self._timing.config_ns)
        return value

    def config_write(
        self, bus: int, device: int, function: int, offset: int, size: int, value: int
    ) -> None:
        self.pci.config_write(bus, device, function, offset, size, value)
        self.scheduler.consume(self._timing.config_ns)

    # -- running --------------------------------------------------------------------------------

    def log(self, source: str, message: str) -> None:
        """A console message (the boot log), stamped with the virtual time."""
        self.console.append(source, message)
        self.scheduler.trace_point("console", f"{source}: {message}")

    def run(self, until: int | None = None) -> None:
        self.scheduler.run(until)

    def run_for(self, duration: int) -> None:
        self.scheduler.run_for(duration)

    def close(self) -> None:
        """Stop the machine: unwind its threads, close its media, release its RAM."""
        self.scheduler.shutdown()
        media, self._media = self._media, []
        try:
            for close in media:
                close()
        finally:
            self.memory.close()

    def __enter__(self) -> Machine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _preemption_policy(
    description: MachineDescription, preemption: PreemptionPolicy | str | None
) -> PreemptionPolicy | None:
    """The policy a machine runs with: the ``preemption`` keyword over ``[scheduler]``."""
    if isinstance(preemption, PreemptionPolicy):
        return preemption
    mode = description.preemption if preemption is None else preemption
    if mode == "seeded":
        return description.preemption_policy
    if mode == "off":
        return None
    raise ValueError(
        f'preemption: expected "off", "seeded" or a PreemptionPolicy, not {preemption!r}'
    )


def _ram_region(region: RamRegion) -> MmioRegion:
    def read(offset: int, size: int) -> int:
        return int.from_bytes(region.view[offset : offset + size], "little")

    def write(offset: int, size: int, value: int) -> None:
        region.view[offset : offset + size] = value.to_bytes(size, "little")

    return MmioRegion(
        f"ram@{region.base:#x}", region.size, read, write, access_sizes=(1, 2, 4, 8), owner="memory"
    )
