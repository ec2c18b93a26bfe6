"""Media polling for removable-medium peripheral drivers: a thread call, once a second.

Mirrors the polling machinery Apple's ``IOSCSIBlockCommandsDevice`` and
``IOSCSIMultimediaCommandsDevice`` each carry (``fPollingThread``, ``fPollingMode``,
``EnablePolling``, ``DisablePolling``, ``sProcessPoll``): a ``thread_call`` entered with
a deadline one second ahead, which runs the driver's poll (TEST UNIT READY and what
follows) on a callout thread and enters itself again unless the driver set the
polling mode to ``kPollingMode_Suspended`` (a medium was found and locked in).  As in
Apple's, a pending or running poll holds a retain on the driver, so the driver cannot
be freed under it.

The polling window (ours).  A SCSI drive cannot say that a medium arrived: the
initiator has to ask, and Apple's drivers ask every second for as long as they are
not suspended.  A kextlab machine runs "until nothing is left to do", and a poll that
re-arms itself forever would leave something to do forever (``kextlab boot`` of a
machine with an empty CD drive would never end).  So ``MediumPoller`` polls for at
most ``MEDIA_POLL_LIMIT`` seconds from the moment polling is (re)started: the driver's
start, an eject, a medium found gone.  A drive left empty longer goes quiet; the
driver restarts the window (``EnablePolling``) whenever a client asks about the medium
(``reportMediaState``), so whoever looks for a disc still finds one inserted later.
Open question for the lead: background events that do not keep ``Scheduler.run``
going would let the poll run forever as on a Mac.

Balance: ``thread_call_enter_delayed`` on a call that is already pending replaces
it; the retain taken for the new entry is then given back at once, so there is one
retain per pending invocation (Apple's driver takes one per entry and, in the one
path that enters twice, keeps an extra one).

Threading rules: ``enable``/``disable`` never block and may be called from any
context; ``free`` needs no invocation pending (it cancels one) and lets a running one
finish.  The poll function runs on a callout thread and may block (it sends commands).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from kextlab.families.scsi.peripheral_definitions import kPollingMode_Suspended
from kextlab.kernel.clock import clock_interval_to_deadline, kMillisecondScale
from kextlab.kernel.service.service import IOService
from kextlab.kernel.threads import (
    thread_call_allocate,
    thread_call_cancel,
    thread_call_enter_delayed,
    thread_call_free,
    thread_call_isactive,
    thread_call_t,
)

#: Apple's drivers poll once a second.
POLL_INTERVAL_MS: Final = 1000
#: Polls after each (re)start before a drive that found nothing goes quiet (ours).
MEDIA_POLL_LIMIT: Final = 60


class MediumPoller:
    """The polling thread call of one driver (``fPollingThread`` and its mode)."""

    def __init__(self, owner: IOService, poll: Callable[[], None]) -> None:
        self.owner = owner
        self.poll = poll
        #: ``fPollingMode``: ``kPollingMode_Suspended``, ``_NewMedia`` or ``_MediaRemoval``.
        self.mode = kPollingMode_Suspended
        self.polls_left = 0
        self.polls_run = 0
        self._call: thread_call_t | None = thread_call_allocate(MediumPoller._fire, self)

    def enable(self, *, restart: bool = True) -> None:
        """``EnablePolling``: poll again in a second, unless the driver is terminated,
        polling is suspended, or (``restart`` False) the window is used up."""
        call = self._call
        if call is None or self.owner.isInactive() or self.mode == kPollingMode_Suspended:
            return
        if restart:
            self.polls_left = MEDIA_POLL_LIMIT
        if self.polls_left <= 0:
            return
        self.polls_left -= 1
        self.owner.retain()
        deadline = clock_interval_to_deadline(POLL_INTERVAL_MS, kMillisecondScale)
        if thread_call_enter_delayed(call, deadline):
            self.owner.release()  # it replaced a pending poll, which held its own retain

    def disable(self) -> None:
        """``DisablePolling``: suspend, and withdraw a poll that has not run yet."""
        self.mode = kPollingMode_Suspended
        call = self._call
        if call is not None and thread_call_cancel(call):
            self.owner.release()

    @property
    def pending(self) -> bool:
        """Whether a poll is pending or running."""
        call = self._call
        return call is not None and thread_call_isactive(call)

    def free(self) -> None:
        """Withdraw a pending poll and free the thread call (``thread_call_free``)."""
        call, self._call = self._call, None
        if call is None:
            return
        if thread_call_cancel(call):
            self.owner.release()
        thread_call_free(call)

    @staticmethod
    def _fire(poller: MediumPoller, _: Any) -> None:
        """``sProcessPoll``: poll, poll again unless suspended, drop this poll's retain."""
        try:
            poller.polls_run += 1
            poller.poll()
            if poller.mode != kPollingMode_Suspended:
                poller.enable(restart=False)
        finally:
            poller.owner.release()


__all__ = ["MEDIA_POLL_LIMIT", "POLL_INTERVAL_MS", "MediumPoller"]


class PolledMediumDevice:
    """The polling half of a removable-medium peripheral driver, shared by the SBC and
    MMC layers (Apple repeats it in both): ``fPoller`` is made by the driver's
    ``InitializeDeviceSupport``; stopping disables it and terminating frees it."""

    fPoller: MediumPoller | None

    def EnablePolling(self) -> None:
        if self.fPoller is not None:
            self.fPoller.enable()

    def DisablePolling(self) -> None:
        if self.fPoller is not None:
            self.fPoller.disable()

    def StopDeviceSupport(self) -> None:
        self.DisablePolling()

    def TerminateDeviceSupport(self) -> None:
        poller, self.fPoller = self.fPoller, None
        if poller is not None:
            poller.free()
