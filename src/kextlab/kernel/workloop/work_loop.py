"""IOWorkLoop: a driver's thread, its gate, and the chain of event sources.

Mirrors ``IOWorkLoop.h``/``IOWorkLoop.cpp`` (xnu).

Design
------
A work loop is two things a driver needs to be single-threaded without a lock
per field (seed 003: "keeps you from having to have tons of little locks"):

* **The gate**, a recursive lock (``IORecursiveLock``).  Whoever holds it is the
  only code touching the driver's state: the loop's own thread while it runs
  event-source actions, or a client thread inside ``IOCommandGate::runAction``,
  or a timer's callout.  ``sleepGate`` releases it while waiting for an event and
  takes it back; ``wakeupGate`` wakes such sleepers.
* **The thread**, a kernel thread that sleeps until some event source signals
  work (``signalWorkAvailable``: an interrupt arrived, a timer fired), then closes
  the gate and asks every *active* event source, in the order they were added,
  to ``checkForWork``; it goes round again while any says more may be pending or
  the chain changed under it (``kLoopRestart``), and sleeps when all is done.

The thread's sleep is xnu's ``assert_wait(&workToDo)``: the flag is tested and
the wait entered with no preemption point in between, so a signal from an
interrupt handler can never fall between them and be lost.

Adding and removing event sources goes through the loop's own control gate
(``controlG``), so the chain only changes with the gate closed; a removal made
while the thread walks the chain makes it restart from the head.

Freeing a work loop whose thread runs is done in two steps, as in xnu: the last
``release`` disables every source and tells the thread to terminate; the thread
leaves its loop, and its last act is the second ``free`` that releases the chains.

Threading rules: ``runAction``, ``closeGate``/``openGate``, ``addEventSource`` and
``removeEventSource`` block (they take the gate) and may not be called in
interrupt context; ``signalWorkAvailable`` may be called from anywhere,
including interrupt context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kextlab.errors import InternalError
from kextlab.kernel.ioreturn import kIOReturnBadArgument, kIOReturnSuccess, kIOReturnUnsupported
from kextlab.kernel.libkern.object import OSDynamicCast, OSObject
from kextlab.kernel.locks import (
    IORecursiveLock,
    IORecursiveLockAlloc,
    IORecursiveLockFree,
    IORecursiveLockHaveLock,
    IORecursiveLockLock,
    IORecursiveLockSleep,
    IORecursiveLockSleepDeadline,
    IORecursiveLockTryLock,
    IORecursiveLockUnlock,
    IORecursiveLockWakeup,
)
from kextlab.kernel.workloop.event_source import IOEventSource
from kextlab.sim.scheduler import Scheduler, current_scheduler
from kextlab.sim.sync import WaitQueue
from kextlab.sim.thread import KernelThread

if TYPE_CHECKING:
    from kextlab.kernel.workloop.command_gate import IOCommandGate

#: ``IOWorkLoop::Action``: ``action(target, arg0, arg1, arg2, arg3) -> IOReturn``.
Action = Callable[..., Any]

#: ``maintCommandEnum``: what the control gate is asked to do.
mAddEvent = 0
mRemoveEvent = 1


class IOWorkLoop(OSObject):
    """A thread and a gate serialising a driver's event sources."""

    #: Options of ``workLoopWithOptions`` (``IOWorkLoop.h``).
    kPreciousStack = 0x00000001
    kTimeLockPanics = 0x00000002

    def __init__(self) -> None:
        super().__init__()
        self.gateLock: IORecursiveLock | None = None
        self.eventChain: IOEventSource | None = None
        self.passiveEventChain: IOEventSource | None = None
        self.controlG: IOCommandGate | None = None
        self.workThread: KernelThread | None = None
        self.workToDo = False
        self.options = 0
        self._scheduler: Scheduler | None = None
        self._work_available: WaitQueue | None = None
        self._terminate = False
        self._restart = False
        #: Passes the thread made over the event chain (for statistics and tests).
        self.dispatch_passes = 0

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def workLoop(cls) -> IOWorkLoop | None:
        return cls.workLoopWithOptions(0)

    @classmethod
    def workLoopWithOptions(cls, options: int) -> IOWorkLoop | None:
        loop = cls()
        loop.options = options
        if not loop.init():
            loop.release()
            return None
        return loop

    def init(self) -> bool:
        """Allocate the gate, the control gate and the thread (which starts at once)."""
        from kextlab.kernel.workloop.command_gate import IOCommandGate

        scheduler = current_scheduler()
        if scheduler is None:
            raise InternalError("IOWorkLoop created outside a running machine")
        self._scheduler = scheduler
        if self.gateLock is None:
            self.gateLock = IORecursiveLockAlloc()
        if self._work_available is None:
            self._work_available = WaitQueue(scheduler, "IOWorkLoop workToDo")
        if self.controlG is None:
            gate = IOCommandGate.commandGate(self, IOWorkLoop._maintRequest)
            if gate is None:
                return False
            gate.setWorkLoop(self)
            self.controlG = gate
            if self.addEventSource(gate) != kIOReturnSuccess:
                return False
        if self.workThread is None:
            self.workThread = scheduler.spawn(self.threadMain, name=self._thread_name())
        return True

    def _thread_name(self, owner: OSObject | None = None) -> str:
        return f"IOWorkLoop {owner.getClassName()}" if owner is not None else "IOWorkLoop"

    # -- the thread -------------------------------------------------------------------------

    def threadMain(self) -> None:
        """The loop's thread: run the event sources whenever work is signalled."""
        waiting = self._work_available
        assert waiting is not None
        while self.runEventSources():
            # assert_wait: test and wait with no preemption point in between.
            while not self.workToDo and not self._terminate:
                waiting.wait(operation="IOWorkLoop workToDo")
            if self._terminate:
                # runEventSources sees the flag, returns False and ends the loop.
                continue
        self.closeGate()
        self.workThread = None
        self.openGate()
        self.free()

    def runEventSources(self) -> bool:
        """One visit of the thread: every active source checks for work, with the
        gate closed, until none has more.  False once the loop is terminating."""
        self.closeGate()
        try:
            if self.terminating():
                return False
            more = True
            while more:
                self._restart = False
                more = False
                self.workToDo = False
                self.dispatch_passes += 1
                source = self.eventChain
                while source is not None:
                    more |= source.checkForWork()
                    if self._terminate:  # terminating(), read directly
                        return False
                    if self._restart:
                        more = True
                        break
                    # getNext(), read directly (IOEventSource, this package).
                    source = source.eventChainNext
            return True
        finally:
            self.openGate()

    def terminating(self) -> bool:
        """Whether the loop was told to end (``kLoopTerminate``; ours)."""
        return self._terminate

    def signalWorkAvailable(self) -> None:
        """Wake the thread (callable from interrupt context)."""
        if self._work_available is None or self.workThread is None:
            return
        self.workToDo = True
        self._work_available.wakeup_one()

    def getThread(self) -> KernelThread | None:
        return self.workThread

    def onThread(self) -> bool:
        thread = self.workThread
        scheduler = self._scheduler
        return thread is not None and scheduler is not None and scheduler.current_thread is thread

    # -- the gate -------------------------------------------------------------------------------

    # The gate calls run several times per I/O, so each reads ``gateLock`` itself and
    # calls ``_gate`` (which raises) only when the loop has been freed.

    def _gate(self) -> IORecursiveLock:
        gate = self.gateLock
        if gate is None:
            raise InternalError("the work loop's gate is used after the loop was freed")
        return gate

    def inGate(self) -> bool:
        gate = self.gateLock
        return IORecursiveLockHaveLock(gate if gate is not None else self._gate())

    def closeGate(self) -> None:
        gate = self.gateLock
        IORecursiveLockLock(gate if gate is not None else self._gate())

    def openGate(self) -> None:
        gate = self.gateLock
        IORecursiveLockUnlock(gate if gate is not None else self._gate())

    def tryCloseGate(self) -> bool:
        gate = self.gateLock
        return IORecursiveLockTryLock(gate if gate is not None else self._gate())

    def sleepGate(self, event: object, *arguments: int) -> int:
        """``sleepGate(event, interuptibleType)`` or
        ``sleepGate(event, deadline, interuptibleType)`` (a deadline in AbsoluteTime)."""
        if len(arguments) == 1:
            return IORecursiveLockSleep(self._gate(), event, arguments[0])
        if len(arguments) == 2:
            deadline, interuptible_type = arguments
            return IORecursiveLockSleepDeadline(self._gate(), event, deadline, interuptible_type)
        raise TypeError("sleepGate(event, type) or sleepGate(event, deadline, type)")

    def wakeupGate(self, event: object, oneThread: bool) -> None:
        IORecursiveLockWakeup(self._gate(), event, oneThread)

    def runAction(
        self,
        inAction: Action,
        target: OSObject | None,
        arg0: object = None,
        arg1: object = None,
        arg2: object = None,
        arg3: object = None,
    ) -> Any:
        """Call ``inAction(target, arg0..arg3)`` with the gate closed, on the caller's
        thread."""
        self.closeGate()
        try:
            return inAction(target, arg0, arg1, arg2, arg3)
        finally:
            self.openGate()

    def runActionBlock(self, action: Callable[[], Any]) -> Any:
        self.closeGate()
        try:
            return action()
        finally:
            self.openGate()

    # -- the event sources ------------------------------------------------------------------------

    def addEventSource(self, newEvent: IOEventSource) -> int:
        if self.workThread is not None and newEvent.owner is not None:
            from kextlab.kernel.workloop.command_pool import IOCommandPool

            if (
                self.workThread.name == "IOWorkLoop"
                and OSDynamicCast(IOCommandPool, newEvent.owner) is None
            ):
                self.workThread.name = self._thread_name(newEvent.owner)
        result: int = self._control_gate().runCommand(mAddEvent, newEvent)
        return result

    def removeEventSource(self, toRemove: IOEventSource) -> int:
        result: int = self._control_gate().runCommand(mRemoveEvent, toRemove)
        return result

    def _control_gate(self) -> IOCommandGate:
        gate = self.controlG
        if gate is None:
            raise InternalError("the work loop's control gate is gone")
        return gate

    def eventSourcePerformsWork(self, inEventSource: IOEventSource) -> bool:
        """Active (on the dispatch chain) if the source says so or overrides
        ``checkForWork``; passive otherwise (``IOCommandGate``)."""
        if inEventSource.flags & IOEventSource.kPassive:
            return False
        if inEventSource.flags & IOEventSource.kActive:
            return True
        return type(inEventSource).checkForWork is not IOEventSource.checkForWork

    def _maintRequest(self, command: object, event: object, _arg2: object, _arg3: object) -> int:
        source = event if isinstance(event, IOEventSource) else None
        if source is None:
            return kIOReturnBadArgument
        if command == mAddEvent:
            if source.getWorkLoop() is None:
                self._restart = True
                source.retain()
                source.setWorkLoop(self)
                source.setNext(None)
                if self.eventSourcePerformsWork(source):
                    self.eventChain = _append(self.eventChain, source)
                else:
                    self.passiveEventChain = _append(self.passiveEventChain, source)
            return kIOReturnSuccess
        if command == mRemoveEvent:
            if source.getWorkLoop() is not None:
                if self.eventSourcePerformsWork(source):
                    chain, found = _remove(self.eventChain, source)
                    if not found:
                        return kIOReturnBadArgument
                    self.eventChain = chain
                else:
                    chain, found = _remove(self.passiveEventChain, source)
                    if not found:
                        return kIOReturnBadArgument
                    self.passiveEventChain = chain
                source.setWorkLoop(None)
                source.setNext(None)
                source.release()
                self._restart = True
            return kIOReturnSuccess
        return kIOReturnUnsupported

    def event_sources(self) -> list[IOEventSource]:
        """Every source on the loop, active chain first (ours: for tools and tests)."""
        sources = []
        for chain in (self.eventChain, self.passiveEventChain):
            while chain is not None:
                sources.append(chain)
                chain = chain.getNext()
        return sources

    def enableAllEventSources(self) -> None:
        for source in self.event_sources():
            source.enable()

    def disableAllEventSources(self) -> None:
        for source in self.event_sources():
            if source is not self.controlG:
                source.disable()

    def _interrupt_sources(self) -> list[IOEventSource]:
        from kextlab.kernel.workloop.interrupt_event_source import IOInterruptEventSource

        sources = []
        source = self.eventChain
        while source is not None:
            if OSDynamicCast(IOInterruptEventSource, source) is not None:
                sources.append(source)
            source = source.getNext()
        return sources

    def enableAllInterrupts(self) -> None:
        for source in self._interrupt_sources():
            source.enable()

    def disableAllInterrupts(self) -> None:
        for source in self._interrupt_sources():
            source.disable()

    # -- freeing ----------------------------------------------------------------------------------

    def free(self) -> None:
        if self.workThread is not None:
            # First step: stop the sources and tell the thread to end; it frees us.
            self.closeGate()
            self.disableAllEventSources()
            self._terminate = True
            if self._work_available is not None:
                self._work_available.wakeup_all()
            self.openGate()
            return
        _release_chain(self.eventChain)
        self.eventChain = None
        _release_chain(self.passiveEventChain)
        self.passiveEventChain = None
        if self.controlG is not None:
            self.controlG.workLoop = None
            self.controlG.release()
            self.controlG = None
        if self.gateLock is not None:
            IORecursiveLockFree(self.gateLock)
            self.gateLock = None
        super().free()


def _append(chain: IOEventSource | None, source: IOEventSource) -> IOEventSource:
    if chain is None:
        return source
    last = chain
    while (following := last.getNext()) is not None:
        last = following
    last.setNext(source)
    return chain


def _remove(
    chain: IOEventSource | None, source: IOEventSource
) -> tuple[IOEventSource | None, bool]:
    if chain is source:
        return source.getNext(), True
    previous = chain
    while previous is not None:
        following = previous.getNext()
        if following is source:
            previous.setNext(source.getNext())
            return chain, True
        previous = following
    return chain, False


def _release_chain(chain: IOEventSource | None) -> None:
    while chain is not None:
        following = chain.getNext()
        chain.setWorkLoop(None)
        chain.setNext(None)
        chain.release()
        chain = following
