"""The driver's own kernel thread: bus scans, firmware events and controller resets.

Mirrors what Linux ``mvumi`` does outside its I/O path: the ``mvumi_rescan_bus``
kthread (woken by ``DRBL_BUS_CHANGE``, sleeping a second to let a burst of changes
settle, then ``mvumi_probe_devices``: INQUIRY to every target ID,
``scsi_add_device``/``scsi_remove_device``), the ``mvumi_get_event`` work item
(``DRBL_EVENT_NOTIFY``: read the event list, log it) and the host reset of the SCSI
error handler (``mvumi_host_reset`` -> ``mvumi_reset`` + ``mvumi_start``).  Seed 000
says the same in I/O Kit terms: with ``DoesHBAPerformDeviceManagement`` true,
"create a thread in StartController to scan device from id 0 to (max target id -
1) with INQUIRY command", again on each bus-change doorbell, ``CreateTargetForID``
on GOOD, ``DestroyTargetForID`` otherwise.

Design
------
*One thread, asked.*  Everything here may block for long (a scan is an INQUIRY per
target ID, creating a target runs the family's own probe commands, a reset waits
for the firmware to boot), so none of it may run in the work loop, whose thread
must stay free to take the completions these very commands wait for.  The
interrupt and timeout handlers only *ask*: ``request(work)`` sets bits under an
``IOLock`` and wakes the thread.  Requests coalesce: ten bus changes before the
thread wakes are one scan, as Linux's ``pnp_count``.  The thread takes every
pending bit at once and works in a fixed order: a reset first (nothing works until
the firmware runs again), then the scan (a reset or a bus change may have changed
the bus), then the events.  A scan that a bus change asked for waits
``BUS_CHANGE_SETTLE_MS`` first; the initial scan and one after a reset do not.

*Scan.*  One INQUIRY (6-byte CDB, 44 bytes, as Linux) per target ID, one at a time.
GOOD with a connected device (peripheral qualifier 0) creates the target if it is
not there yet; anything else destroys it if it was.  No answer at all (the command
timed out, or a reset ended it) leaves the target as it was: silence is not
absence, and the timeout path has already asked for a reset.  Linux compares a
"wwid" (``id + 1`` on the 9143, INQUIRY bytes 36-43 on the 9580) to notice a device
swapped between two scans; the emulated firmware puts nothing at those bytes, so
the driver follows the 9143 rule for both chips, where presence is all that counts.
Linux also leaves the 9580's last ID out of the scan (its firmware's virtual
management device); the emulated 9580 runs the 9143's firmware and has none, so
every ID is scanned on both chips.

*Reset.*  In the gate: the command path stops sending and taking (``resetting``),
the chip's causes are masked, every command the firmware held is abandoned (tasks
fail with ``DeliveryFailure``: whether the firmware ran them is unknown, so it is
for the client to retry, not for the driver to replay).  Outside the gate, since it
sleeps: memory decoding and bus mastering on again, the reset (``DRBL_SOFT_RESET``
to a running 9143, the reset registers of the 9580), Linux's 100 ms, the handshake;
up to ``RESET_ATTEMPTS`` times.  In the gate again: causes unmasked,
``NotifyClientsOfBusReset``, the waiting tasks go out; then a rescan.  A controller
that does not come back is out of service: every task fails from then on.

``stop`` asks the thread to finish and waits until it has: it finishes the step it is
in (scans check ``stopping`` between targets) and exits.

Threading rules: ``request`` never blocks for long (an ``IOLock``) and may be called
from the work loop with the gate held, not from interrupt context; ``start`` and
``stop`` from a kernel thread that may block, without the gate (``stop`` waits for a
thread that takes the gate).  The work runs on the thread, without the gate.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final

from kextlab.kernel.clock import IOSleep, mach_absolute_time
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.locks import (
    THREAD_UNINT,
    IOLockAlloc,
    IOLockFree,
    IOLockLock,
    IOLockSleep,
    IOLockSleepDeadline,
    IOLockUnlock,
    IOLockWakeup,
)
from kextlab.kernel.log import IOLog
from kextlab.kernel.threads import IOCreateThread

from . import registers as mv
from .command_path import InternalCommand
from .frames import EVENT_NAMES, SEVERITY_NAMES, decode_events

if TYPE_CHECKING:
    from .command_path import CommandPath
    from .driver import MarvellUMI

#: How long a scan asked for by DRBL_BUS_CHANGE waits for the bus to settle (Linux
#: ``mvumi_rescan_bus``: ``msleep(1000)``).
BUS_CHANGE_SETTLE_MS: Final = 1000
#: Tries of reset + handshake before the controller is given up.
RESET_ATTEMPTS: Final = 3
#: Linux ``mvumi_start`` sleeps this long after kicking the firmware (ms).
FIRMWARE_SETTLE_MS: Final = 100
INQUIRY_TIMEOUT_MS: Final = 10_000
EVENT_TIMEOUT_MS: Final = 10_000
_MILLISECOND_NS: Final = 1_000_000

INQUIRY_CDB: Final = bytes([0x12, 0, 0, 0, mv.MVUMI_INQUIRY_LENGTH, 0])
GET_EVENTS_CDB: Final = bytes([mv.APICDB0_EVENT, mv.APICDB1_EVENT_GETEVENT]) + bytes(14)


class Work(enum.IntFlag):
    """What the thread is asked to do."""

    NONE = 0
    SCAN = enum.auto()  # the initial scan, or after a reset: at once
    BUS_CHANGE = enum.auto()  # DRBL_BUS_CHANGE: scan once the bus settles
    EVENTS = enum.auto()  # DRBL_EVENT_NOTIFY: read the event list
    RESET = enum.auto()  # reset and handshake again


def _text(data: bytes) -> str:
    return data.decode("ascii", "replace").strip()


class DeviceManagement:
    """The management thread of one controller."""

    def __init__(self, driver: MarvellUMI, path: CommandPath) -> None:
        self._driver = driver
        self._path = path
        self._lock = IOLockAlloc()
        self._pending = Work.NONE
        self._stopping = False
        self._running = False
        self._reset_reason = ""
        #: Steps done: scans, event reads, resets (for tests and statistics).
        self.scans = 0
        self.event_reads = 0
        self.resets = 0

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def _wake_event(self) -> tuple[str, int]:
        return ("MarvellUMI work", id(self))

    @property
    def _exit_event(self) -> tuple[str, int]:
        return ("MarvellUMI thread exit", id(self))

    # -- the other threads' side ----------------------------------------------------------

    def start(self) -> None:
        """Start the thread with an initial scan (``StartController``)."""
        IOLockLock(self._lock)
        self._stopping = False
        self._pending |= Work.SCAN
        already = self._running
        self._running = True
        IOLockUnlock(self._lock)
        if not already:
            IOCreateThread(self._main, None)

    def request(self, work: Work, reason: str = "") -> None:
        """Ask for ``work``; the thread does it soon (coalesced with other requests)."""
        IOLockLock(self._lock)
        if work & Work.RESET and not self._pending & Work.RESET:
            self._reset_reason = reason
        self._pending |= work
        IOLockWakeup(self._lock, self._wake_event, True)
        IOLockUnlock(self._lock)

    def request_scan(self, *, bus_change: bool = False) -> None:
        """A scan: after the bus settles for a bus-change doorbell, else at once."""
        self.request(Work.BUS_CHANGE if bus_change else Work.SCAN)

    def request_events(self) -> None:
        """Read the firmware's event list (DRBL_EVENT_NOTIFY)."""
        self.request(Work.EVENTS)

    def request_reset(self, reason: str) -> None:
        """Reset the controller, for ``reason`` (logged)."""
        self.request(Work.RESET, reason)

    def stop(self) -> None:
        """Ask the thread to exit and wait until it has."""
        IOLockLock(self._lock)
        self._stopping = True
        IOLockWakeup(self._lock, self._wake_event, True)
        while self._running:
            IOLockSleep(self._lock, self._exit_event, THREAD_UNINT)
        IOLockUnlock(self._lock)

    def free(self) -> None:
        IOLockFree(self._lock)

    # -- the thread -----------------------------------------------------------------------

    def _take(self) -> tuple[Work, str] | None:
        """Wait for work; None when the thread is to exit."""
        IOLockLock(self._lock)
        try:
            while not self._pending and not self._stopping:
                IOLockSleep(self._lock, self._wake_event, THREAD_UNINT)
            if self._stopping:
                return None
            settle = self._pending & Work.BUS_CHANGE and not self._pending & (
                Work.SCAN | Work.RESET
            )
            if settle and not self._settle():
                return None
            work, self._pending = self._pending, Work.NONE
            reason, self._reset_reason = self._reset_reason, ""
            return work, reason
        finally:
            IOLockUnlock(self._lock)

    def _settle(self) -> bool:
        """Let a burst of bus changes settle into one scan (lock held): requests that
        come meanwhile join it; a reset ends the wait.  False if asked to stop."""
        deadline = mach_absolute_time() + BUS_CHANGE_SETTLE_MS * _MILLISECOND_NS
        while mach_absolute_time() < deadline and not self._stopping:
            IOLockSleepDeadline(self._lock, self._wake_event, deadline, THREAD_UNINT)
            if self._pending & Work.RESET:
                break
        return not self._stopping

    def _main(self, _argument: object) -> None:
        try:
            while True:
                taken = self._take()
                if taken is None:
                    return
                work, reason = taken
                if work & Work.RESET and self.reset(reason):
                    work |= Work.SCAN
                if work & (Work.SCAN | Work.BUS_CHANGE) and not self._stopping:
                    self.scan()
                if work & Work.EVENTS and not self._stopping:
                    self.read_events()
        finally:
            IOLockLock(self._lock)
            self._running = False
            IOLockWakeup(self._lock, self._exit_event, False)
            IOLockUnlock(self._lock)

    # -- the work -------------------------------------------------------------------------

    def scan(self) -> None:
        """INQUIRY to every target ID: create what answers, destroy what no longer
        does (Linux ``mvumi_probe_devices``)."""
        driver, path = self._driver, self._path
        self.scans += 1
        for target in range(path.capabilities.max_devices_support):
            if self._stopping or path.failed or driver.isInactive():
                return
            command = InternalCommand(target, INQUIRY_CDB, mv.MVUMI_INQUIRY_LENGTH)
            answered = path.run_internal(command, INQUIRY_TIMEOUT_MS)
            if command.status is None:
                continue  # no answer at all: leave the target as it is
            data = path.internal_data(mv.MVUMI_INQUIRY_LENGTH) if answered else b""
            if answered and not data[0] >> 5:
                if target not in driver.present and driver.CreateTargetForID(target):
                    driver.present.add(target)
                    IOLog(
                        "%s: target %u: %s %s %s\n",
                        driver.getName(),
                        target,
                        _text(data[8:16]),
                        _text(data[16:32]),
                        _text(data[32:36]),
                    )
            elif target in driver.present:
                driver.present.discard(target)
                driver.DestroyTargetForID(target)
                IOLog("%s: target %u is gone\n", driver.getName(), target)

    def read_events(self) -> None:
        """``F4 00``: read the firmware's event list and log it (``mvumi_get_event``)."""
        driver, path = self._driver, self._path
        self.event_reads += 1
        command = InternalCommand(0, GET_EVENTS_CDB, mv.EVENT_REQUEST_SIZE)
        if not path.run_internal(command, EVENT_TIMEOUT_MS):
            return
        for event in decode_events(path.internal_data(mv.EVENT_REQUEST_SIZE)):
            path.statistics["Events"] += 1
            IOLog(
                "%s: event %u: %s (%#x) on device %u, %s\n",
                driver.getName(),
                event.sequence_no,
                EVENT_NAMES.get(event.event_id, "event"),
                event.event_id,
                event.device_id,
                SEVERITY_NAMES.get(event.severity, f"severity {event.severity}"),
            )

    def reset(self, reason: str) -> bool:
        """Reset and handshake again (see the module docstring); True when the
        controller runs again."""
        driver, path = self._driver, self._path
        gate = driver.GetCommandGate()
        if gate is None or path.failed:
            return False
        self.resets += 1
        path.statistics["Resets"] += 1
        IOLog("%s: resetting the controller: %s\n", driver.getName(), reason)
        gate.runAction(self._gated_begin_reset)
        capabilities = None
        for _ in range(RESET_ATTEMPTS):
            driver.kick_firmware()
            IOSleep(FIRMWARE_SETTLE_MS)
            capabilities = driver.bring_up()
            if capabilities is not None:
                break
        gate.runAction(self._gated_end_reset, capabilities is not None)
        if capabilities is None:
            IOLog("%s: the controller did not come back; it is out of service\n", driver.getName())
            return False
        IOLog(
            "%s: the controller is back (firmware %s)\n",
            driver.getName(),
            capabilities.firmware_version,
        )
        return True

    def _gated_begin_reset(self, *_: object) -> int:
        path = self._path
        path.resetting = True
        self._driver.mask_interrupts()
        path.pending_causes = path.pending_doorbells = 0
        path.abandon(including_waiting=False)
        return kIOReturnSuccess

    def _gated_end_reset(self, _owner: object, running: Any, *_: object) -> int:
        path, driver = self._path, self._driver
        path.resetting = False
        if not running:
            path.failed = True
            path.abandon(including_waiting=True)
            return kIOReturnSuccess
        if path.accepting:
            driver.unmask_interrupts()
        driver.NotifyClientsOfBusReset()
        path.refire()
        return kIOReturnSuccess
