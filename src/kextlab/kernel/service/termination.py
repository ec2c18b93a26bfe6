"""terminate: taking a service and what depends on it out, in three phases.

Mirrors ``IOService::terminatePhase1``, ``scheduleTerminatePhase2``,
``terminateWorker``, ``actionWillTerminate``/``actionDidTerminate``,
``actionStop``, ``actionFinalize`` and ``finalize`` (xnu ``IOService.cpp``
l.2528-3510; spec §3.4).

Design
------
**Phase 1** runs on the caller's thread, breadth first from the victim: each
victim becomes inactive (its registered and matched bits cleared), busy, and its
terminated notifications go out; then each client is asked ``requestTerminate``,
whose default says yes only when the victim is its *only* provider, so a client
with another provider survives.  The victims are queued for phase 2.

**Phase 2** runs on the terminate thread (or, for ``kIOServiceSynchronous``, on the
caller's).  A victim waits while it is still in phase 1 or in matching, or while
a client is inside ``start``.  Then, top down, each client hears ``willTerminate``
(will-terminate notifications first); then deepest first each victim's clients hear
``didTerminate``, whose default schedules the client's ``stop`` unless it still
holds the victim open (it is asked to close; closing a terminated provider stops
the client later).  A victim with no clients left is scheduled for finalize.

**Phase 3**: finalize and stop, until neither list has work.  A stop waits while
its client, itself terminated, has not been finalized, so stops run bottom up.
``actionStop`` calls ``stop``, closes the provider if the client still has it
open, and detaches; the last client detaching from a terminated provider
schedules the provider's finalize.  ``finalize`` of a victim whose provider is
not itself being terminated schedules the victim's own stop there.

Work loops arrive with the driver runtime; until then the actions run directly on
the terminate thread.

Threading rules: ``terminate`` may be called from any kernel thread or the entered
host, not from interrupt context.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from kextlab.kernel.service import debug
from kextlab.kernel.service.notification import (
    gIOTerminatedNotification,
    gIOWillTerminateNotification,
)
from kextlab.kernel.service.service import (
    IOService,
    kIOMessageServiceIsTerminated,
    kIOServiceConfigState,
    kIOServiceFinalized,
    kIOServiceFirstMatchState,
    kIOServiceFirstPublishState,
    kIOServiceInactiveState,
    kIOServiceMatchedState,
    kIOServiceRecursing,
    kIOServiceRegisteredState,
    kIOServiceRematchOnDetach,
    kIOServiceStartState,
    kIOServiceSynchronous,
    kIOServiceTerminate,
    kIOServiceTerminateWithRematch,
    kIOServiceTermPhase1State,
    kIOServiceTermPhase2State,
    kIOServiceTermPhase3State,
)

if TYPE_CHECKING:
    from kextlab.kernel.service.globals import ServiceGlobals
    from kextlab.sim.thread import KernelThread


class TerminationWork:
    """The terminate lists of one kernel and the thread that works them."""

    def __init__(self, globals_: ServiceGlobals) -> None:
        self.globals = globals_
        self._phase2: deque[tuple[IOService, int]] = deque()
        self._stops: list[tuple[IOService, IOService]] = []
        self._finalize: deque[IOService] = deque()
        self._thread: KernelThread | None = None
        self._working = False

    @property
    def idle(self) -> bool:
        return not (self._phase2 or self._stops or self._finalize)

    def queue_phase2(self, victim: IOService, options: int) -> None:
        victim.retain()
        self._phase2.append((victim, options))

    def schedule_stop(self, client: IOService, provider: IOService) -> None:
        client.retain()
        provider.retain()
        self._stops.append((client, provider))
        self.wake()

    def schedule_finalize(self, victim: IOService) -> None:
        victim.retain()
        self._finalize.append(victim)
        self.wake()

    def wake(self) -> None:
        """Make sure someone works the lists (``scheduleTerminatePhase2``)."""
        if self._working or self.idle:
            return
        thread = self._thread
        if thread is not None and thread.is_alive:
            return
        self._thread = self.globals.scheduler.spawn(self.run, name="IOTerminateThread")

    def run(self) -> None:
        """``terminateWorker``: work every list until all are empty."""
        if self._working:
            return
        self._working = True
        try:
            progress = True
            while progress and not self.idle:
                progress = self._phase2_all() | self._phase3()
        finally:
            self._working = False

    # -- phase 2 ----------------------------------------------------------------------------------

    def _phase2_all(self) -> bool:
        """Phase 2 of every victim ready for it; whether any was."""
        progress = False
        deferred: list[tuple[IOService, int]] = []
        while self._phase2:
            victim, options = self._phase2.popleft()
            try:
                if _ready_for_phase2(victim):
                    self._phase2_tree(victim, options)
                    progress = True
                else:
                    victim.retain()
                    deferred.append((victim, options))
            finally:
                victim.release()
        self._phase2.extend(deferred)
        return progress

    def _phase2_tree(self, top: IOService, options: int) -> None:
        notifications = self.globals.notifications
        did_phase2: deque[IOService] = deque()
        pending = deque([top])
        while pending:
            victim = pending.popleft()
            victim.set_internal_state(kIOServiceTermPhase2State)
            notifiers = notifications.copy_notifiers(victim, gIOWillTerminateNotification, 0)
            notifications.invoke(victim, notifiers)
            for client in victim.getClients():
                if debug.enabled(debug.kIOLogServiceTree):
                    debug.log(
                        f"{client.describe()}::willTerminate({victim.describe()}, {options:08x})"
                    )
                client.willTerminate(victim, options)
                if client.isInactive() and not client.has_internal_state(kIOServiceTermPhase2State):
                    pending.append(client)
            did_phase2.appendleft(victim)  # headQ: deepest first
        for victim in did_phase2:
            victim.set_internal_state(kIOServiceTermPhase3State)
            finalize = victim.getClient() is None
            victim.messageClients(kIOMessageServiceIsTerminated, options)
            for client in victim.getClients():
                defer = [False]
                client.didTerminate(victim, options, defer)
            if finalize:
                self.schedule_finalize(victim)

    # -- phase 3 ----------------------------------------------------------------------------------

    def _phase3(self) -> bool:
        """Finalize and stop until neither has work; whether anything was done."""
        worked = False
        progress = True
        while progress:
            progress = False
            while self._finalize:
                worked = True
                victim = self._finalize.popleft()
                try:
                    if not victim.has_internal_state(kIOServiceFinalized):
                        victim.set_internal_state(kIOServiceFinalized)
                        victim.finalize(0)
                finally:
                    victim.release()
            index = 0
            while index < len(self._stops):
                client, provider = self._stops[index]
                if provider.isChild(client, client._service_plane(provider)):
                    if client.isInactive() and not client.has_internal_state(kIOServiceFinalized):
                        index += 1  # a terminated client stops after its own clients
                        continue
                    del self._stops[index]
                    try:
                        _action_stop(provider, client)
                    finally:
                        client.release()
                        provider.release()
                    progress = worked = True
                    break
                del self._stops[index]  # queued twice, or already detached
                client.release()
                provider.release()
        return worked


def _ready_for_phase2(victim: IOService) -> bool:
    if not victim.isInactive():
        return False
    if victim.has_internal_state(
        kIOServiceTermPhase1State | kIOServiceTermPhase2State | kIOServiceConfigState
    ):
        return False
    for client in victim.getClients():
        if client.has_internal_state(kIOServiceStartState):
            if debug.enabled(debug.kIOLogServiceTree):
                debug.log(f"{victim.describe()}::defer phase2({client.describe()})")
            return False
    return True


def _action_stop(provider: IOService, client: IOService) -> None:
    """``actionStop``: stop, close what is still open, detach."""
    if debug.enabled(debug.kIOLogServiceTree):
        debug.log(f"{client.describe()}::stop({provider.describe()})")
    client.stop(provider)
    if provider.isOpen(client):
        provider.close(client)
    client.detach(provider)


def finalize_service(service: IOService, options: int) -> bool:
    """``IOService::finalize``: stop under each provider that is not itself in
    phase 3 (whose own termination schedules the stop otherwise)."""
    for provider in service.getProviders():
        if not provider.has_internal_state(kIOServiceTermPhase3State):
            service.scheduleStop(provider)
    return True


def terminate(service: IOService, options: int = 0) -> bool:
    """``IOService::terminate``: phase 1 here, then phases 2 and 3."""
    options |= kIOServiceTerminate
    globals_ = service.globals
    work = globals_.termination
    if debug.enabled(debug.kIOLogServiceTree):
        debug.log(f"{service.describe()}::terminatePhase1({options:08x})")
    victims = _make_inactive(service, options)
    for victim in victims:
        victim.set_internal_state(0, clear=kIOServiceTermPhase1State)
    if victims:  # the others are reached from it in phase 2
        work.queue_phase2(service, options)
    for victim in victims:
        victim.release()
    if options & kIOServiceSynchronous:
        work.run()
        service.waitQuiet()
    else:
        work.wake()
    return True


def _make_inactive(service: IOService, options: int) -> list[IOService]:
    """Phase 1, breadth first: mark the victims inactive, notify, ask the clients."""
    notifications = service.globals.notifications
    victims: list[IOService] = []
    queue = deque([service])
    while queue:
        victim = queue.popleft()
        if victim.isInactive():
            continue
        victim.set_state_bits(
            kIOServiceInactiveState,
            clear=kIOServiceRegisteredState
            | kIOServiceMatchedState
            | kIOServiceFirstPublishState
            | kIOServiceFirstMatchState,
        )
        victim.set_internal_state(kIOServiceTermPhase1State, clear=kIOServiceRecursing)
        if options & kIOServiceTerminateWithRematch:
            victim.set_internal_state(kIOServiceRematchOnDetach)
        victim.adjustBusy(1)
        victim.retain()
        victims.append(victim)
        notifiers = notifications.copy_notifiers(victim, gIOTerminatedNotification, 0)
        notifications.invoke(victim, notifiers)
        for client in victim.getClients():
            if client.isInactive():
                continue
            ok = client.requestTerminate(victim, options)
            if debug.enabled(debug.kIOLogServiceTree):
                debug.log(
                    f"{client.describe()}::requestTerminate({victim.describe()}, ok = {int(ok)})"
                )
            if ok:
                queue.append(client)
    return victims
