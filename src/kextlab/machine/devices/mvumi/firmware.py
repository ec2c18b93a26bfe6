"""The firmware of the emulated Marvell UMI controller: states, doorbells, resets, events.

Design
------
A Marvell UMI chip is an ARM core running RAID firmware behind a PCIe endpoint; the
host sees only the endpoint's registers and the structures in its own memory.  This
class is that firmware, as far as a driver can observe it (``shared/spec/scsi.md``
§2; the Linux ``mvumi`` driver is the reference for the protocol):

* **States.**  ``BOOTING`` (``arm_to_pciea_msg1`` is 0) until ``boot_time_ns``
  after power-on or a soft reset; ``READY`` (HANDSHAKE_READYSTATE) waiting for a
  handshake; ``HANDSHAKING``; ``RUNNING`` (HANDSHAKE_DONESTATE) taking commands.
* **Doorbells.**  The host sets bits in ``pciea_to_arm_drbl_reg``; the firmware
  notices them ``firmware_latency_ns`` later, in one scheduler event that also
  serves the lists (``_service``), so a driver polling a register sees the firmware
  progress in virtual time.  DRBL_SOFT_RESET reboots the firmware; DRBL_MU_RESET
  resets the message unit to READY at once (and is ignored while booting, since the
  driver rings it while it waits for READYSTATE).  Both end every command and reset
  the SCSI bus, and both require a new handshake.  DRBL_HANDSHAKE runs one handshake
  step (``handshake.py``) and rings DRBL_HANDSHAKE back with the step echoed in
  ``arm_to_pciea_msg0``.
* **Running.**  HS_S_END creates a ``MessageUnit`` (``message_unit.py``) over the
  lists of page 4: it takes commands from the inbound list, hands them to the SCSI
  bus and writes responses to the outbound list.  Any reset, or a new HS_S_RESET,
  stops it; commands it started are forgotten (their completions dropped) and the
  bus is reset, so no target moves data for a command nobody waits for.
* **Hot-plug and events.**  A target attached to or detached from the bus is
  logged as an event (``events.py``); a running firmware rings DRBL_BUS_CHANGE and
  DRBL_EVENT_NOTIFY, and the ``F4 00`` command returns the log.  ``post_event`` lets
  a fault injector add events of its own.

Errors never raise: every misprogramming is reported on the guest-error channel
and answered the way firmware must (``registers`` lists the response encodings).

Threading rules: register hooks run in whatever context did the MMIO access and
only record and schedule; everything else runs in scheduler events (the service,
bus completions, boot).  Nothing blocks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.events import EventLog
from kextlab.machine.devices.mvumi.handshake import FirmwareCapabilities, Handshake
from kextlab.machine.devices.mvumi.message_unit import Counters, FirmwarePort, MessageUnit
from kextlab.machine.devices.mvumi.rings import InboundList, OutboundList
from kextlab.sim.time import SECOND

if TYPE_CHECKING:
    from kextlab.machine.scsi.bus import SCSIBus
    from kextlab.machine.scsi.target import SCSITarget
    from kextlab.sim.scheduler import Event, Scheduler

_D = mv.Doorbell
#: The doorbell bits as plain integers (the service event tests them every time).
_HANDSHAKE = int(_D.DRBL_HANDSHAKE)
_SOFT_RESET = int(_D.DRBL_SOFT_RESET)
_MU_RESET = int(_D.DRBL_MU_RESET)
#: The host may ring HANDSHAKE, SOFT_RESET and MU_RESET.  A service reports the other
#: defined doorbells (BUS_CHANGE, EVENT_NOTIFY) as meaningless: inverting the
#: ``IntFlag`` stays within its defined bits, so undefined bits pass silently.
_MEANINGLESS_DOORBELLS = int(~(_D.DRBL_HANDSHAKE | _D.DRBL_SOFT_RESET | _D.DRBL_MU_RESET))


class FirmwareState(enum.Enum):
    BOOTING = "booting"
    READY = "ready"
    HANDSHAKING = "handshaking"
    RUNNING = "running"


@dataclass(frozen=True)
class FirmwareSettings:
    capabilities: FirmwareCapabilities
    latency_ns: int  # from a doorbell to the firmware acting on it
    boot_ns: int  # from power-on or soft reset to READYSTATE


#: Registers a firmware reset returns to zero: mailboxes, doorbells, the message unit.
_FIRMWARE_REGISTERS = (
    "pciea_to_arm_drbl_reg",
    "arm_to_pciea_drbl_reg",
    "pciea_to_arm_msg0",
    "pciea_to_arm_msg1",
    "arm_to_pciea_msg0",
    "arm_to_pciea_msg1",
    "inb_aval_count_basel",
    "inb_aval_count_baseh",
    "inb_write_pointer",
    "inb_read_pointer",
    "outb_copy_basel",
    "outb_copy_baseh",
    "outb_copy_pointer",
    "outb_read_pointer",
    "outb_isr_cause",
    "outb_coal_cfg",
)


class Firmware:
    """The controller's firmware, driving the chip through ``port``."""

    def __init__(
        self,
        port: FirmwarePort,
        scheduler: Scheduler,
        bus: SCSIBus,
        settings: FirmwareSettings,
    ) -> None:
        self._port = port
        self._registers = port.registers
        self._scheduler = scheduler
        self.bus = bus
        self.settings = settings
        self.capabilities = settings.capabilities
        self.handshake = Handshake(settings.capabilities, port)
        self.events = EventLog()
        self.counters = Counters()
        self.state = FirmwareState.BOOTING
        #: The message unit while RUNNING (None otherwise).
        self.unit: MessageUnit | None = None
        self._service_event: Event | None = None
        self._boot_event: Event | None = None
        self._host_clock: tuple[int, int] | None = None  # (seconds_since1970, received at)
        self.resets = 0
        self._values = port.registers.values
        self._service_label = f"{port.name}.firmware"
        bus.on_change.append(self._bus_changed)

    def __repr__(self) -> str:
        return f"<Firmware of {self._port.name} {self.state.value}>"

    @property
    def settings(self) -> FirmwareSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: FirmwareSettings) -> None:
        """New settings (tests slow the firmware down) apply from the next event on;
        the latency every doorbell schedules with is kept as a plain attribute."""
        self._settings = settings
        self._latency_ns = settings.latency_ns

    # -- what is observable (for tests and tools) ---------------------------------------------

    @property
    def inbound(self) -> InboundList | None:
        return self.unit.inbound if self.unit is not None else None

    @property
    def outbound(self) -> OutboundList | None:
        return self.unit.outbound if self.unit is not None else None

    @property
    def in_flight(self) -> int:
        """Commands taken from the inbound list whose response is not yet in host memory."""
        return self.unit.in_flight if self.unit is not None else 0

    @property
    def commands_accepted(self) -> int:
        return self.counters.commands_accepted

    @property
    def responses_posted(self) -> int:
        return self.counters.responses_posted

    # -- power, resets and boot ------------------------------------------------------------------

    def power_on(self) -> None:
        """Start booting with the chip's registers at their reset values."""
        self._stop(FirmwareState.BOOTING)
        self._boot()

    def soft_reset(self, reason: str) -> None:
        """Reboot: every command ends, the SCSI bus is reset, then BOOTING -> READY."""
        self.resets += 1
        self._port.trace("reset", f"soft reset ({reason})")
        self._stop(FirmwareState.BOOTING)
        self.events.clear()
        self.bus.reset()
        self._boot()

    def message_unit_reset(self) -> None:
        """DRBL_MU_RESET: back to READY at once; commands end, the bus is reset."""
        self.resets += 1
        self._port.trace("reset", "message unit reset")
        self._stop(FirmwareState.READY)
        self._registers["arm_to_pciea_msg1"] = mv.HANDSHAKE_READYSTATE
        self.bus.reset()

    def _stop(self, state: FirmwareState) -> None:
        """Forget every command and list; the firmware's registers back to zero."""
        self.state = state
        self._stop_unit()
        self.handshake.restart()
        for event in (self._service_event, self._boot_event):
            if event is not None:
                event.cancel()
        self._service_event = self._boot_event = None
        registers = self._registers
        for name in _FIRMWARE_REGISTERS:
            registers[name] = 0
        self._port.update_interrupt()

    def _stop_unit(self) -> None:
        if self.unit is not None:
            self.unit.stop()
            self.unit = None

    def _boot(self) -> None:
        self._boot_event = self._scheduler.after(
            self.settings.boot_ns, self._booted, f"{self._port.name}.firmware boot"
        )

    def _booted(self) -> None:
        self._boot_event = None
        self.state = FirmwareState.READY
        self._registers["arm_to_pciea_msg1"] = mv.HANDSHAKE_READYSTATE
        self._port.trace("state", "ready")

    # -- what the register hooks call -------------------------------------------------------

    def host_doorbell(self, bits: int) -> None:
        """The host set ``bits`` in pciea_to_arm_drbl_reg."""
        values = self._values
        values["pciea_to_arm_drbl_reg"] |= bits  # both fit the 32-bit register
        self._kick()

    def inbound_doorbell(self, old: int, pointer: int) -> None:
        """The host wrote inb_write_pointer (a malformed value is not latched)."""
        unit = self.unit
        if unit is None:
            self._port.guest_error(
                f"inb_write_pointer written ({pointer:#x}) while the firmware is "
                f"{self.state.value}, before the handshake completed; ignored"
            )
        elif unit.accept_write_pointer(pointer):
            if self._service_event is None:  # self._kick(), inlined: once per command
                self._service_event = self._scheduler.after(
                    self._latency_ns, self._service, self._service_label
                )
        else:
            self._registers["inb_write_pointer"] = old

    def outbound_taken(self, old: int, pointer: int) -> None:
        """The host wrote outb_read_pointer: it took the responses up to ``pointer``."""
        unit = self.unit
        if unit is None:
            self._port.guest_error(
                f"outb_read_pointer written ({pointer:#x}) while the firmware is "
                f"{self.state.value}; ignored"
            )
        elif not unit.host_took(pointer):
            self._registers["outb_read_pointer"] = old

    def _kick(self) -> None:
        """Have the firmware look at its doorbells and lists after its latency."""
        if self._service_event is None:
            self._service_event = self._scheduler.after(
                self._latency_ns, self._service, self._service_label
            )

    # -- the service event ----------------------------------------------------------------------

    def _service(self) -> None:
        self._service_event = None
        values = self._values
        doorbells = values["pciea_to_arm_drbl_reg"]
        if doorbells:
            values["pciea_to_arm_drbl_reg"] = 0
            if doorbells & _MEANINGLESS_DOORBELLS:
                self._port.guest_error(
                    f"host rang doorbell bits {doorbells & _MEANINGLESS_DOORBELLS:#x}, which "
                    f"mean nothing to the firmware; ignored"
                )
            if doorbells & _SOFT_RESET:
                self.soft_reset("DRBL_SOFT_RESET")
                return
            if doorbells & _MU_RESET and self.state is not FirmwareState.BOOTING:
                self.message_unit_reset()
                return
            if doorbells & _HANDSHAKE:
                self._handshake_step()
        unit = self.unit
        if unit is not None:
            unit.serve()
        self._port.update_interrupt()

    def _ring(self, bits: int) -> None:
        """Set doorbell ``bits`` for the host (arm_to_pciea_drbl_reg)."""
        registers = self._registers
        # A plain integer in the register: an IntFlag there would make every later
        # interrupt computation and host access a Python-level enum operation.
        registers["arm_to_pciea_drbl_reg"] = registers["arm_to_pciea_drbl_reg"] | int(bits)
        self._port.update_interrupt()

    # -- the handshake ----------------------------------------------------------------------------

    def _handshake_step(self) -> None:
        registers = self._registers
        if self.state is FirmwareState.BOOTING:
            self._port.guest_error("DRBL_HANDSHAKE rung while the firmware boots; ignored")
            return
        message0 = registers["pciea_to_arm_msg0"]
        requested = mv.handshake_state(message0)
        result = self.handshake.step(
            message0, registers["pciea_to_arm_msg1"], registers["arm_to_pciea_msg1"]
        )
        ok = result.status == mv.HandshakeStatus.HS_STATUS_OK
        if ok and requested == mv.HandshakeState.HS_S_RESET:
            if self.unit is not None:  # a new handshake while running: start over
                self._stop_unit()
                self.bus.reset()
            self.state = FirmwareState.HANDSHAKING
            registers["arm_to_pciea_msg1"] = mv.HANDSHAKE_READYSTATE
        elif ok and requested == mv.HandshakeState.HS_S_ABORT:
            self.state = FirmwareState.READY
            registers["arm_to_pciea_msg1"] = mv.HANDSHAKE_READYSTATE
        elif result.finished:
            self._start()
        registers["arm_to_pciea_msg0"] = mv.handshake_message(result.status, requested)
        self._port.trace("handshake", f"step {requested} status {int(result.status)}")
        self._ring(_D.DRBL_HANDSHAKE)

    def _start(self) -> None:
        """HS_S_END: a message unit over the lists of page 4; DONESTATE."""
        handshake = self.handshake
        lists = handshake.lists
        assert lists is not None  # the handshake ends only after page 4
        self.unit = MessageUnit(
            self._port,
            self.bus,
            self.capabilities,
            lists,
            events=self.events,
            counters=self.counters,
            trace=self._scheduler.trace,
            kick=self._kick,
            ring=self._ring,
        )
        self._registers["arm_to_pciea_msg1"] = mv.HANDSHAKE_DONESTATE
        if handshake.host_info is not None:
            self._host_clock = (handshake.host_info.seconds_since1970, self._scheduler.now)
        self.state = FirmwareState.RUNNING
        self._port.trace("state", f"running: {self.unit!r}")

    # -- hot-plug and events -------------------------------------------------------------------

    def post_event(
        self,
        event_id: int,
        severity: int,
        device_id: int,
        *,
        params: tuple[int, ...] = (),
        sense_data: bytes = b"",
    ) -> None:
        """Log an event; a running firmware rings DRBL_EVENT_NOTIFY for it."""
        self.events.post(
            event_id,
            severity,
            device_id,
            time_stamp=self._time_stamp(),
            params=params,
            sense_data=sense_data,
        )
        self._notify(_D.DRBL_EVENT_NOTIFY)

    def _time_stamp(self) -> int:
        """Seconds since 1970 by the host's clock of page 2 (virtual seconds before it)."""
        now = self._scheduler.now
        if self._host_clock is None:
            return now // SECOND
        seconds, received = self._host_clock
        return seconds + (now - received) // SECOND

    def _bus_changed(self, target_id: int, target: SCSITarget | None) -> None:
        event_id = mv.EventId.DEVICE_ARRIVAL if target is not None else mv.EventId.DEVICE_REMOVAL
        self.events.post(event_id, mv.EventSeverity.INFO, target_id, time_stamp=self._time_stamp())
        self._notify(_D.DRBL_BUS_CHANGE | _D.DRBL_EVENT_NOTIFY)

    def _notify(self, bits: int) -> None:
        """Ring ``bits`` after the firmware latency, if the same message unit still runs."""
        unit = self.unit
        if unit is None:
            return

        def ring() -> None:
            if self.unit is unit:
                self._ring(bits)

        self._scheduler.after(self.settings.latency_ns, ring, f"{self._port.name}.notify")
