"""IOCommandGate: run a function as if on the work loop, on the caller's thread.

Mirrors ``IOCommandGate.h``/``IOCommandGate.cpp`` (xnu).  ``runAction`` closes the
work loop's gate, calls the action on the calling thread, and opens the gate: the
action is serialised against every other action of the loop (interrupt and timer
actions, other client threads), without a thread switch.  While the gate is
disabled, client threads (not the loop's own) wait in ``runAction`` until it is
enabled again; freeing a gate wakes them with ``kIOReturnAborted``.
``commandSleep``/``commandWakeup`` let an action wait for an event with the gate
released, optionally until a deadline, as a driver waits for its hardware.

Threading rules: ``runAction``/``runCommand`` block (kernel threads and the host
only, never interrupt context); ``attemptAction`` never blocks for the gate;
``commandSleep`` must be called with the gate held (from an action); Apple panics
otherwise, kextlab raises ``LockError`` (a kernel panic in a kernel thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kextlab.errors import LockError
from kextlab.kernel.ioreturn import (
    kIOReturnAborted,
    kIOReturnBadArgument,
    kIOReturnCannotLock,
    kIOReturnNotPermitted,
    kIOReturnNotReady,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.locks import THREAD_ABORTSAFE, THREAD_INTERRUPTIBLE, THREAD_UNINT
from kextlab.kernel.workloop.event_source import IOEventSource
from kextlab.kernel.workloop.work_loop import IOWorkLoop

#: ``IOCommandGate::Action``: ``action(owner, arg0, arg1, arg2, arg3) -> IOReturn``.
Action = Callable[..., Any]


class IOCommandGate(IOEventSource):
    """Single-threads calls with a work loop, on the caller's thread."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers_removed = False
        self._sleepers_wait_enabled = 0
        self._actions_running = 0

    @classmethod
    def commandGate(
        cls, owner: OSObject | None, action: Action | None = None
    ) -> IOCommandGate | None:
        gate = cls()
        if not gate.init(owner, action):
            gate.release()
            return None
        return gate

    # -- enabling ----------------------------------------------------------------------------

    def enable(self) -> None:
        if self.workLoop is not None:
            self.closeGate()
            super().enable()
            self.wakeupGate(self._enabled_event, False)  # unblock waiting clients
            self.openGate()

    def disable(self) -> None:
        super().disable()

    @property
    def _enabled_event(self) -> tuple[str, int]:
        return ("IOCommandGate enabled", id(self))

    @property
    def _sleepers_event(self) -> tuple[str, int]:
        return ("IOCommandGate sleepers", id(self))

    def setWorkLoop(self, inWorkLoop: IOWorkLoop | None) -> None:
        loop = self.workLoop
        if inWorkLoop is None and loop is not None:  # tearing down
            loop.closeGate()
            self._sleepers_removed = True
            while self._sleepers_wait_enabled:
                self.wakeupGate(self._enabled_event, False)
                self.sleepGate(self._sleepers_event, THREAD_UNINT)
            if not self._actions_running:
                super().setWorkLoop(None)
                self._sleepers_removed = False
            loop.openGate()
            return
        super().setWorkLoop(inWorkLoop)

    def free(self) -> None:
        if self.workLoop is not None:
            self.setWorkLoop(None)
        super().free()

    # -- running actions -----------------------------------------------------------------------

    def runCommand(
        self, arg0: object = None, arg1: object = None, arg2: object = None, arg3: object = None
    ) -> Any:
        """``runAction`` with the gate's own action."""
        if self.action is None:
            return kIOReturnBadArgument
        return self.runAction(self.action, arg0, arg1, arg2, arg3)

    def attemptCommand(
        self, arg0: object = None, arg1: object = None, arg2: object = None, arg3: object = None
    ) -> Any:
        if self.action is None:
            return kIOReturnBadArgument
        return self.attemptAction(self.action, arg0, arg1, arg2, arg3)

    def runAction(
        self,
        inAction: Action | None,
        arg0: object = None,
        arg1: object = None,
        arg2: object = None,
        arg3: object = None,
    ) -> Any:
        """Call ``inAction(owner, arg0..arg3)`` with the gate closed; its result, or
        ``kIOReturnBadArgument``/``kIOReturnNotReady``/``kIOReturnAborted``."""
        if inAction is None:
            return kIOReturnBadArgument
        loop = self.workLoop
        if loop is None:
            return kIOReturnNotReady
        loop.closeGate()
        # Only a client thread waits for a disabled gate, never the loop's own.
        if not self.enabled and not loop.onThread():
            while not self.enabled:
                self._sleepers_wait_enabled += 1
                result = loop.sleepGate(self._enabled_event, THREAD_INTERRUPTIBLE)
                self._sleepers_wait_enabled -= 1
                torn_down = self.workLoop is None or self._sleepers_removed
                if result != kIOReturnSuccess or torn_down:
                    loop.openGate()
                    if torn_down:
                        loop.wakeupGate(self._sleepers_event, False)
                    return kIOReturnAborted
        self._actions_running += 1
        try:
            return inAction(self.owner, arg0, arg1, arg2, arg3)
        finally:
            self._actions_running -= 1
            if self._sleepers_removed and not self._actions_running:
                self._sleepers_removed = False
                IOEventSource.setWorkLoop(self, None)
            loop.openGate()

    def runActionBlock(self, action: Callable[[], Any]) -> Any:
        """``runAction`` for a callable of no arguments (Apple's block variant)."""
        return self.runAction(lambda _owner, *_arguments: action())

    def attemptAction(
        self,
        inAction: Action | None,
        arg0: object = None,
        arg1: object = None,
        arg2: object = None,
        arg3: object = None,
    ) -> Any:
        """Like ``runAction`` but never waits for the gate: ``kIOReturnCannotLock``
        when it is closed by someone else, ``kIOReturnNotPermitted`` when disabled."""
        if inAction is None:
            return kIOReturnBadArgument
        loop = self.workLoop
        if loop is None:
            return kIOReturnNotReady
        if not loop.tryCloseGate():
            return kIOReturnCannotLock
        try:
            if not loop.onThread() and not self.enabled:
                return kIOReturnNotPermitted
            return inAction(self.owner, arg0, arg1, arg2, arg3)
        finally:
            loop.openGate()

    # -- sleeping in the gate --------------------------------------------------------------------

    def commandSleep(self, event: object, *arguments: int) -> int:
        """``commandSleep(event, interruptible=THREAD_ABORTSAFE)`` or
        ``commandSleep(event, deadline, interruptible)``: release the gate until
        ``commandWakeup(event)`` (or the deadline, in AbsoluteTime); returns
        ``THREAD_AWAKENED``, ``THREAD_TIMED_OUT`` or ``THREAD_INTERRUPTED``."""
        loop = self.workLoop
        if loop is None or not loop.inGate():
            raise LockError("invalid commandSleep while not holding the gate")
        if not arguments:
            arguments = (THREAD_ABORTSAFE,)
        return loop.sleepGate(event, *arguments)

    def commandWakeup(self, event: object, oneThread: bool = False) -> None:
        self.wakeupGate(event, oneThread)
