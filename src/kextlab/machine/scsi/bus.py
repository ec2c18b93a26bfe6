"""A SCSI bus: the targets behind one HBA port, command timing, queues and hot-plug.

The HBA model talks to its targets only through ``SCSIBus`` (QEMU's HBAs talk to
theirs through ``SCSIBusInfo``):

* ``submit(target_id, request)`` starts a command.  Nothing at that ID: the request
  completes with ``HostStatus.NO_TARGET`` after the selection timeout.  A target
  with ``queue_depth`` commands already in flight answers TASK SET FULL.  Otherwise
  the command is timed by the target's ``Timing`` and executed when its time comes,
  then handed back through ``request.complete()``;
* ``attach``/``detach`` plug targets in and out, now or at a virtual time, and tell
  the HBA through ``on_change`` (the Marvell firmware rings its BUS_CHANGE doorbell);
* ``abort``, ``reset_target`` and ``reset`` are the task-management functions: they
  end in-flight commands with ``ABORTED``/``RESET`` and leave unit attentions.

Timing model: each target has one command processor.  A command starts when the
target is free (``busy_until``), takes ``command_ns`` plus its data at
``bytes_per_second`` (plus seeded jitter), and the target executes it at the end,
moving the data then.  So queued commands complete in order, throughput is bounded
as on a real drive, and a run is reproducible from the seed.

Faults: a ``FaultPolicy`` (``kextlab.machine.scsi.faults``) sees every command before
it is timed and may drop it, delay it, replace its outcome, refuse it or take the
target off the bus; it is consulted again for task-management functions, which it
may make fail.  A dropped command stays in flight, never completing by itself, so
that an abort or a reset can still end it, as on a real target that went silent.

Threading rules: everything runs as scheduler events or in the submitting context;
nothing blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.request import HostStatus, SCSIRequest
from kextlab.machine.scsi.sense import SCSI_BUS_RESET
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.time import MICROSECOND, SECOND

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Event, Scheduler

#: A parallel SCSI selection timeout is 250 ms; a SAS/RAID firmware answers at once.
SELECTION_TIMEOUT_NS = 10 * MICROSECOND


@dataclass(frozen=True)
class Timing:
    """How long a target takes: a fixed cost per command plus its data at a rate."""

    command_ns: int = 20 * MICROSECOND
    bytes_per_second: int = 400 << 20
    jitter_ns: int = 0

    def duration(self, length: int, jitter: int = 0) -> int:
        return self.command_ns + -(-length * SECOND // self.bytes_per_second) + jitter


@dataclass
class FaultDecision:
    """What a fault policy decided for one command.

    ``drop``: never complete it (the initiator's timeout must fire; an abort or a
    reset still ends it);
    ``detach``: the target drops off the bus now; the command meets an empty ID;
    ``status``: answer with this status at once, without running the command
    (BUSY, TASK SET FULL), as a target that cannot take it;
    ``outcome``: replace the command's result with this function's doing, run
    instead of the target (None: the target executes normally);
    ``after``: let the target execute, then adjust the request;
    ``extra_delay_ns``: added to the command's time.
    """

    drop: bool = False
    detach: bool = False
    status: Status | None = None
    outcome: Callable[[SCSIRequest], None] | None = None
    after: Callable[[SCSIRequest], None] | None = None
    extra_delay_ns: int = 0


class FaultPolicy(Protocol):
    def on_command(
        self, bus: SCSIBus, target_id: int, target: SCSITarget, request: SCSIRequest
    ) -> FaultDecision | None: ...

    def on_task_management(
        self, bus: SCSIBus, target_id: int, function: str, request: SCSIRequest | None
    ) -> bool:
        """False makes the task-management function (``"abort"`` of ``request``,
        ``"reset"`` of the target) fail."""
        ...


@dataclass
class _Slot:
    """A target on the bus with its timing and in-flight commands."""

    target: SCSITarget
    timing: Timing
    queue_depth: int
    busy_until: int = 0
    #: Commands started and not yet ended, by submission key; a dropped one has no event.
    in_flight: dict[int, tuple[SCSIRequest, Event | None]] = field(default_factory=dict)


class SCSIBus:
    """Targets by ID behind one HBA port."""

    def __init__(self, scheduler: Scheduler, name: str, *, max_targets: int = 16) -> None:
        self.scheduler = scheduler
        self.name = name
        self.max_targets = max_targets
        self._slots: dict[int, _Slot] = {}
        self.faults: FaultPolicy | None = None
        self.on_change: list[Callable[[int, SCSITarget | None], None]] = []
        self._ids = 0
        self.commands_submitted = 0
        self.commands_completed = 0

    def __repr__(self) -> str:
        return f"<SCSIBus {self.name!r} {sorted(self._slots)}>"

    # -- plugging -------------------------------------------------------------------

    def targets(self) -> dict[int, SCSITarget]:
        return {target_id: slot.target for target_id, slot in sorted(self._slots.items())}

    def target(self, target_id: int) -> SCSITarget | None:
        slot = self._slots.get(target_id)
        return slot.target if slot is not None else None

    def attach(
        self,
        target_id: int,
        target: SCSITarget,
        *,
        timing: Timing | None = None,
        queue_depth: int = 32,
        at: int | None = None,
    ) -> None:
        """Plug ``target`` in at ``target_id`` now, or at virtual time ``at`` (an
        external event: the machine does not wait for it to go quiet)."""
        self._check_id(target_id)
        if at is not None and at > self.scheduler.now:
            self.scheduler.at_external(
                at,
                lambda: self.attach(target_id, target, timing=timing, queue_depth=queue_depth),
                f"{self.name}.hotplug attach {target_id} {target.name}",
            )
            return
        if target_id in self._slots:
            raise ValueError(
                f"{self.name}: target ID {target_id} is taken by "
                f"{self._slots[target_id].target.name}"
            )
        self._slots[target_id] = _Slot(target, timing or Timing(), queue_depth)
        self.scheduler.trace_point(f"{self.name}.attach", f"{target_id} {target.name}")
        for listener in self.on_change:
            listener(target_id, target)

    def detach(self, target_id: int, *, at: int | None = None) -> None:
        """Unplug the target at ``target_id`` now, or at virtual time ``at`` (an
        external event); its in-flight commands end ``NO_TARGET``."""
        self._check_id(target_id)
        if at is not None and at > self.scheduler.now:
            self.scheduler.at_external(
                at, lambda: self.detach(target_id), f"{self.name}.hotplug detach {target_id}"
            )
            return
        slot = self._slots.pop(target_id, None)
        if slot is None:
            return
        for request, event in list(slot.in_flight.values()):
            if event is not None:
                event.cancel()
            request.host_status = HostStatus.NO_TARGET
            self._finish(request)
        self.scheduler.trace_point(f"{self.name}.detach", f"{target_id} {slot.target.name}")
        for listener in self.on_change:
            listener(target_id, None)

    def _check_id(self, target_id: int) -> None:
        if not 0 <= target_id < self.max_targets:
            raise ValueError(
                f"{self.name}: target IDs are 0-{self.max_targets - 1}, not {target_id}"
            )

    # -- commands ------------------------------------------------------------------------

    def submit(self, target_id: int, request: SCSIRequest) -> None:
        """Start ``request`` on ``target_id``; it completes later, through ``request.complete``."""
        self.commands_submitted += 1
        scheduler = self.scheduler
        slot = self._slots.get(target_id)
        decision = (
            self.faults.on_command(self, target_id, slot.target, request)
            if self.faults is not None and slot is not None
            else None
        )
        if decision is not None and decision.detach:
            self.detach(target_id)
            slot = None
        if slot is None:
            request.host_status = HostStatus.NO_TARGET
            scheduler.after(
                SELECTION_TIMEOUT_NS,
                lambda: self._finish(request),
                f"{self.name}.selection-timeout {target_id}",
            )
            return
        key = self._ids
        self._ids += 1
        if decision is not None and decision.drop:
            scheduler.trace_point(f"{self.name}.dropped", f"{target_id} tag {request.tag}")
            slot.in_flight[key] = (request, None)
            return
        refused = decision.status if decision is not None else None
        if len(slot.in_flight) >= slot.queue_depth:
            refused = Status.TASK_SET_FULL
        if refused is not None:
            request.status = refused
            scheduler.after(
                slot.timing.command_ns,
                lambda: self._finish(request),
                f"{self.name}.refused {target_id} {request.status.name}",
            )
            return
        timing = slot.timing
        jitter = 0
        if timing.jitter_ns:
            jitter = scheduler.rng.stream(f"scsi:{self.name}:{target_id}").randrange(
                timing.jitter_ns + 1
            )
        now = scheduler.now
        start = now if now > slot.busy_until else slot.busy_until
        buffer = request.buffer  # request.expected_length, without the property call
        length = buffer.length if buffer is not None else 0
        # timing.duration(length, jitter), inlined: every command is timed.
        duration = timing.command_ns + -(-length * SECOND // timing.bytes_per_second) + jitter
        if decision is not None:
            duration += decision.extra_delay_ns
        slot.busy_until = start + duration
        event = scheduler.at(
            start + duration,
            partial(self._execute, target_id, key, decision),
            f"{self.name}.execute {target_id} tag {request.tag}",
        )
        slot.in_flight[key] = (request, event)

    def queue_occupancy(self, target_id: int) -> tuple[int, int]:
        """(commands in flight, queue depth) of the target at ``target_id``."""
        slot = self._slots.get(target_id)
        return (len(slot.in_flight), slot.queue_depth) if slot is not None else (0, 0)

    def _execute(self, target_id: int, key: int, decision: FaultDecision | None) -> None:
        slot = self._slots[target_id]
        request, _ = slot.in_flight.pop(key)
        if decision is not None and decision.outcome is not None:
            decision.outcome(request)
        else:
            slot.target.execute(request)
        if decision is not None and decision.after is not None:
            decision.after(request)
        self.commands_completed += 1  # self._finish(request), inlined
        request.complete()

    def _finish(self, request: SCSIRequest) -> None:
        self.commands_completed += 1
        request.complete()

    def in_flight(self, target_id: int) -> list[SCSIRequest]:
        slot = self._slots.get(target_id)
        return [request for request, _ in slot.in_flight.values()] if slot else []

    # -- task management -------------------------------------------------------------------

    def abort(self, target_id: int, tag: int) -> bool:
        """ABORT TASK: end the command with ``tag``; False if none or the abort failed."""
        slot = self._slots.get(target_id)
        if slot is None:
            return False
        for key, (request, event) in list(slot.in_flight.items()):
            if request.tag == tag:
                if self.faults is not None and not self.faults.on_task_management(
                    self, target_id, "abort", request
                ):
                    return False
                if event is not None:
                    event.cancel()
                del slot.in_flight[key]
                request.host_status = HostStatus.ABORTED
                self._finish(request)
                return True
        return False

    def reset_target(self, target_id: int) -> bool:
        """TARGET RESET: end every command of the target; its units report the reset."""
        slot = self._slots.get(target_id)
        if slot is None:
            return False
        if self.faults is not None and not self.faults.on_task_management(
            self, target_id, "reset", None
        ):
            return False
        self._end_all(slot, HostStatus.RESET)
        slot.target.reset()
        return True

    def reset(self) -> None:
        """A bus reset: every command ends, every unit reports SCSI BUS RESET OCCURRED."""
        for slot in self._slots.values():
            self._end_all(slot, HostStatus.RESET)
            slot.target.reset(SCSI_BUS_RESET)

    def _end_all(self, slot: _Slot, status: HostStatus) -> None:
        for request, event in list(slot.in_flight.values()):
            if event is not None:
                event.cancel()
            request.host_status = status
            self._finish(request)
        slot.in_flight.clear()
        slot.busy_until = self.scheduler.now
