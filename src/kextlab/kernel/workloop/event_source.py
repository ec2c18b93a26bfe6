"""IOEventSource: the abstract work a work loop serialises.

Mirrors ``IOEventSource.h``/``IOEventSource.cpp`` (xnu).  An event source belongs
to one owner (the driver), carries an *action* (a function called with the owner
first, as ``OSMemberFunctionCast`` makes a member function callable), and, once
added to an ``IOWorkLoop``, reaches the loop's gate and its "work available"
signal.  Subclasses that produce work asynchronously (interrupts, timers)
override ``checkForWork``, which the loop's thread calls with the gate closed;
sources that only borrow the gate (``IOCommandGate``) do not, and the loop keeps
them on its *passive* chain, out of the dispatch path.

Actions are plain Python callables called as ``action(owner, ...)``: pass an
unbound method (``MyDriver.handleInterrupt``) or the result of
``OSMemberFunctionCast``.  Apple's block variants (``setActionBlock``) take a
callable of no arguments.

Threading rules: ``enable``/``disable`` and the gate calls may be made from any
kernel thread; ``signalWorkAvailable`` also from interrupt context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kextlab.kernel.libkern.object import OSObject

if TYPE_CHECKING:
    from kextlab.kernel.workloop.work_loop import IOWorkLoop

#: ``IOEventSource::Action``: ``action(owner, ...)``; each subclass fixes the rest.
Action = Callable[..., Any]

F = TypeVar("F", bound=Callable[..., Any])


def OSMemberFunctionCast(cast_type: object, obj: object, function: F) -> F:
    """libkern's ``OSMemberFunctionCast(type, this, &Class::method)``.

    In C++ it turns a member function into a plain function taking the object
    first.  A Python function defined in a class already is one, so this returns
    ``function`` unchanged; it exists so that code ported from C++ reads the same.
    ``obj`` is accepted for that reason only.
    """
    del cast_type, obj
    return function


class IOEventSource(OSObject):
    """The abstract base of every event source."""

    #: Flags (``IOEventSource.h``): how ``IOWorkLoop`` files the source.
    kPassive = 0x0001
    kActive = 0x0002
    kActionBlock = 0x0004

    def __init__(self) -> None:
        super().__init__()
        self.owner: OSObject | None = None
        self.action: Action | None = None
        self.enabled = False
        self.workLoop: IOWorkLoop | None = None
        self.eventChainNext: IOEventSource | None = None
        self.refcon: object = None
        self.flags = 0

    def init(self, inOwner: OSObject | None, inAction: Action | None = None) -> bool:
        """Fails without an owner, as Apple's does."""
        if inOwner is None:
            return False
        self.owner = inOwner
        self.setAction(inAction)
        self.enabled = True
        return True

    def __repr__(self) -> str:
        owner = self.owner.getClassName() if self.owner is not None else "no owner"
        state = "enabled" if self.enabled else "disabled"
        return f"<{self.getClassName()} of {owner} {state}>"

    # -- the work -----------------------------------------------------------------------

    def checkForWork(self) -> bool:
        """Called by the work loop's thread with the gate closed: do pending work,
        return True if more may be pending.  The base class has none."""
        return False

    def signalWorkAvailable(self) -> None:
        if self.workLoop is not None:
            self.workLoop.signalWorkAvailable()

    # -- action and refcon ------------------------------------------------------------------

    def setAction(self, inAction: Action | None) -> None:
        self.action = inAction
        self.flags &= ~self.kActionBlock

    def getAction(self) -> Action | None:
        return None if self.flags & self.kActionBlock else self.action

    def setActionBlock(self, block: Callable[[], Any]) -> None:
        """A block action: called with no arguments."""
        self.action = block
        self.flags |= self.kActionBlock

    def getActionBlock(self) -> Callable[[], Any] | None:
        return self.action if self.flags & self.kActionBlock else None

    def setRefcon(self, newrefcon: object) -> None:
        self.refcon = newrefcon

    def getRefcon(self) -> object:
        return self.refcon

    def invoke_action(self, *args: object) -> Any:
        """Call the action as Apple does: ``action(owner, *args)``, or a block with
        no arguments."""
        action = self.action
        if action is None:
            return None
        if self.flags & self.kActionBlock:
            return action()
        return action(self.owner, *args)

    # -- the chain ------------------------------------------------------------------------

    def getNext(self) -> IOEventSource | None:
        return self.eventChainNext

    def setNext(self, inNext: IOEventSource | None) -> None:
        self.eventChainNext = inNext

    # -- enabling -------------------------------------------------------------------------

    def enable(self) -> None:
        self.enabled = True
        if self.workLoop is not None:
            self.signalWorkAvailable()

    def disable(self) -> None:
        self.enabled = False

    def isEnabled(self) -> bool:
        return self.enabled

    # -- the work loop ----------------------------------------------------------------------

    def setWorkLoop(self, inWorkLoop: IOWorkLoop | None) -> None:
        if inWorkLoop is None:
            self.disable()
        self.workLoop = inWorkLoop

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.workLoop

    def onThread(self) -> bool:
        return self.workLoop is not None and self.workLoop.onThread()

    # -- the gate, through the work loop -------------------------------------------------------

    def closeGate(self) -> None:
        assert self.workLoop is not None, "closeGate on an event source without a work loop"
        self.workLoop.closeGate()

    def openGate(self) -> None:
        assert self.workLoop is not None, "openGate on an event source without a work loop"
        self.workLoop.openGate()

    def tryCloseGate(self) -> bool:
        assert self.workLoop is not None, "tryCloseGate on an event source without a work loop"
        return self.workLoop.tryCloseGate()

    def sleepGate(self, event: object, *arguments: int) -> int:
        """``sleepGate(event, type)`` or ``sleepGate(event, deadline, type)``."""
        assert self.workLoop is not None, "sleepGate on an event source without a work loop"
        return self.workLoop.sleepGate(event, *arguments)

    def wakeupGate(self, event: object, oneThread: bool) -> None:
        assert self.workLoop is not None, "wakeupGate on an event source without a work loop"
        self.workLoop.wakeupGate(event, oneThread)
