"""registerService: publishing a service, the config threads, and doServiceMatch.

Mirrors ``IOService::registerService``, ``startMatching``, ``doServiceMatch``,
``_IOServiceJob`` and ``_IOConfigThread`` (xnu ``IOService.cpp`` l.1040-1130,
l.5140-5470; spec §3.1).

* ``registerService`` needs the service attached up to the root of the service
  plane; it marks the service as needing configuration, makes it busy, and either
  matches at once (synchronous: ``kIOServiceSynchronous``, or a provider that is
  itself being registered synchronously) or queues a *match-nub job*.
* Jobs run on config threads, kernel threads started on demand (at most 32, as
  xnu's ``kMaxConfigThreads``).  A thread that takes a job while others are still
  queued and no spare thread is on its way starts one more, so a driver whose
  ``start`` blocks (waiting for a resource, say) never stalls everyone else's
  matching.  Threads exit when the queue is empty, so a quiet machine has none.
  ``IOResources`` jobs go to the head of the queue.
* ``doServiceMatch`` finds the candidates, sets *registered*, adds the publish
  notifiers, runs ``probeCandidates``, repeats while the service was re-registered
  or the catalogue changed meanwhile, then sets *matched* and sends the matched
  notifications; the busy count taken by ``registerService`` is given back last.

Threading rules: ``register_service`` may be called from any kernel thread or the
entered host; synchronous registration blocks the caller until matching is done.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import kIOReturnSuccess, kIOReturnTimeout
from kextlab.kernel.libkern.collections import OSArray
from kextlab.kernel.libkern.values import OSString
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service import debug
from kextlab.kernel.service.matching import probe_candidates
from kextlab.kernel.service.notification import (
    gIOFirstMatchNotification,
    gIOFirstPublishNotification,
    gIOMatchedNotification,
    gIOPublishNotification,
)
from kextlab.kernel.service.service import (
    IOService,
    kIOServiceAsynchronous,
    kIOServiceConfigRunning,
    kIOServiceConfigState,
    kIOServiceFirstMatchState,
    kIOServiceFirstPublishState,
    kIOServiceMatchedState,
    kIOServiceModuleStallState,
    kIOServiceNeedConfigState,
    kIOServiceRegisteredState,
    kIOServiceSynchronous,
    kIOServiceSynchronousState,
)

if TYPE_CHECKING:
    from kextlab.kernel.service.globals import ServiceGlobals
    from kextlab.sim.thread import KernelThread

#: xnu's ``kMaxConfigThreads`` (``CONFIG_MAX_THREADS``).
MAX_CONFIG_THREADS: Final = 32


@dataclass
class MatchNubJob:
    """``_IOServiceJob`` of type ``kMatchNubJob``."""

    nub: IOService
    options: int


class ConfigQueue:
    """The config threads and their job queue (xnu's ``gJobs``)."""

    def __init__(self, globals_: ServiceGlobals) -> None:
        self.globals = globals_
        self._jobs: deque[MatchNubJob] = deque()
        self._threads: list[KernelThread] = []
        self._spare = 0  # threads started that have not taken a job yet
        self._thread_names = 0

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def start_job(self, nub: IOService, options: int) -> None:
        """Queue a match-nub job (``_IOServiceJob::startJob``)."""
        nub.retain()
        job = MatchNubJob(nub, options)
        if nub is self.globals.resources:
            self._jobs.appendleft(job)
        else:
            self._jobs.append(job)
        if self._spare == 0:
            self._start_thread()

    def _start_thread(self) -> None:
        self._threads = [thread for thread in self._threads if thread.is_alive]
        if len(self._threads) >= MAX_CONFIG_THREADS:
            return
        self._spare += 1
        self._thread_names += 1
        thread = self.globals.scheduler.spawn(
            self._main, name=f"IOConfigThread {self._thread_names}"
        )
        self._threads.append(thread)

    def _main(self) -> None:
        self._spare -= 1
        while self._jobs:
            job = self._jobs.popleft()
            if self._jobs and self._spare == 0:
                self._start_thread()
            try:
                do_service_match(job.nub, job.options)
            finally:
                job.nub.release()


def register_service(service: IOService, options: int = 0) -> None:
    """``IOService::registerService``."""
    globals_ = service.globals
    if not _in_service_plane(service):
        globals_.log(f"{service.getName()}: not registry member at registerService()")
        return
    if debug.enabled(debug.kIOLogRegister):
        plane = globals_.registry.plane(kIOServicePlane)
        debug.log(f"Registering: {service.getPath(plane)}")
    start_matching(service, options)


def _in_service_plane(service: IOService) -> bool:
    registry = service.registry
    if registry is None:
        return False
    plane = registry.plane(kIOServicePlane)
    root = registry.getRoot()
    entry = service
    while entry is not root:
        parent = entry.getParentEntry(plane)
        if parent is None:
            return False
        entry = parent  # type: ignore[assignment]
    return True


def start_matching(service: IOService, options: int = 0) -> None:
    """``IOService::startMatching``: match now (synchronous) or on a config thread."""
    provider = service.getProvider()
    sync = bool(options & kIOServiceSynchronous) or (
        provider is not None and provider.has_internal_state(kIOServiceSynchronousState)
    )
    if options & kIOServiceAsynchronous:
        sync = False
    need_config = (
        not service.has_internal_state(kIOServiceNeedConfigState | kIOServiceConfigRunning)
        and not service.isInactive()
    )
    service.set_internal_state(kIOServiceNeedConfigState)
    if sync:
        service.set_internal_state(kIOServiceSynchronousState)
    else:
        service.set_internal_state(0, clear=kIOServiceSynchronousState)
    if not need_config:
        return
    service.adjustBusy(1)
    if sync:
        do_service_match(service, options)
        wait_quiet(service, None)
    else:
        service.globals.config.start_job(service, options)


def do_service_match(service: IOService, options: int) -> None:
    """``IOService::doServiceMatch``: match until nothing changed meanwhile."""
    globals_ = service.globals
    catalogue = globals_.catalogue
    notifications = globals_.notifications
    keep_guessing = True
    re_registered = True
    resource_keys: list[str] | None = None
    while keep_guessing:
        matches, generation = catalogue.findDrivers(service)
        first_publish = []
        if not service.getState() & kIOServiceFirstPublishState:
            first_publish = notifications.copy_notifiers(
                service, gIOFirstPublishNotification, kIOServiceFirstPublishState
            )
        service.set_internal_state(
            kIOServiceConfigState | kIOServiceConfigRunning, clear=kIOServiceNeedConfigState
        )
        service.set_state_bits(kIOServiceRegisteredState)
        keep_guessing = not service.isInactive()
        if re_registered and keep_guessing:
            for notifier in notifications.enabled(gIOPublishNotification):
                if service.matchPassive(notifier.matching, 0):
                    matches.setObject(notifier)
        notifications.invoke(service, first_publish)
        try:
            if keep_guessing and matches.getCount():
                if service is globals_.resources:
                    resource_keys = service.getPropertyTable().keys()
                probe_candidates(service, matches)
        finally:
            matches.release()
        re_registered = service.has_internal_state(kIOServiceNeedConfigState)
        keep_guessing = (
            re_registered or generation != catalogue.getGenerationCount()
        ) and not service.isInactive()
    matched = []
    first_match = []
    if not service.isInactive() and not service.has_internal_state(kIOServiceModuleStallState):
        if resource_keys is not None:
            keys = OSArray([OSString(key) for key in resource_keys])
            service.getPropertyTable().setObject("IOResourceMatched", keys)
            keys.release()
        matched = notifications.copy_notifiers(
            service, gIOMatchedNotification, kIOServiceMatchedState
        )
        if not service.getState() & kIOServiceFirstMatchState:
            first_match = notifications.copy_notifiers(
                service, gIOFirstMatchNotification, kIOServiceFirstMatchState
            )
    service.set_internal_state(0, clear=kIOServiceConfigRunning)
    notifications.invoke(service, matched)
    notifications.invoke(service, first_match)
    service.set_internal_state(0, clear=kIOServiceConfigState)
    service.scheduleTerminatePhase2()
    service.adjustBusy(-1)


def wait_quiet(service: IOService, timeout: int | None) -> int:
    """``IOService::waitQuiet``: until the busy count is zero, or ``timeout`` ns."""
    globals_ = service.globals
    scheduler = globals_.scheduler
    deadline = None if timeout is None else scheduler.now + timeout
    while service.getBusyState():
        remaining = None if deadline is None else deadline - scheduler.now
        if remaining is not None and remaining <= 0:
            return kIOReturnTimeout
        globals_.quiet.wait(remaining, operation=f"waitQuiet {service.getName()}")
    return kIOReturnSuccess


__all__ = [
    "MAX_CONFIG_THREADS",
    "ConfigQueue",
    "do_service_match",
    "register_service",
    "start_matching",
    "wait_quiet",
]
