"""IOCommandPool: pre-allocated commands, handed out under the work loop's gate.

Mirrors ``IOCommandPool.h``/``IOCommandPool.cpp`` (xnu).  A driver fills the pool
with its ``IOCommand`` objects at start; ``getCommand`` takes one (waiting for
one to come back when ``blockForCommand`` is true, failing at once otherwise) and
``returnCommand`` gives it back.  Both run through the pool's own command gate on
the driver's work loop, so they are serialised with everything else the driver
does.  As in xnu, the pool is a LIFO: the command returned last is handed out first
(it is the one most likely still in the cache).

Threading rules: ``getCommand(True)`` may block (kernel threads only); neither
call may be made in interrupt context.
"""

from __future__ import annotations

from collections import deque

from kextlab.kernel.ioreturn import kIOReturnNoResources, kIOReturnSuccess
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.workloop.command import IOCommand
from kextlab.kernel.workloop.command_gate import IOCommandGate
from kextlab.kernel.workloop.work_loop import IOWorkLoop


class IOCommandPool(OSObject):
    """A pool of commands, serialised by a command gate on a work loop."""

    def __init__(self) -> None:
        super().__init__()
        self.fSerializer: IOCommandGate | None = None
        self.fQueueHead: deque[IOCommand] = deque()
        self.fSleepers = 0

    @classmethod
    def withWorkLoop(cls, inWorkLoop: IOWorkLoop) -> IOCommandPool | None:
        pool = cls()
        if not pool.initWithWorkLoop(inWorkLoop):
            pool.release()
            return None
        return pool

    @classmethod
    def commandPool(
        cls, inOwner: OSObject | None, inWorkLoop: IOWorkLoop, inSize: int = 0
    ) -> IOCommandPool | None:
        """The older factory: owner and size are ignored, as in xnu."""
        del inOwner, inSize
        return cls.withWorkLoop(inWorkLoop)

    def initWithWorkLoop(self, inWorkLoop: IOWorkLoop | None) -> bool:
        if inWorkLoop is None:
            return False
        gate = IOCommandGate.commandGate(self)
        if gate is None:
            return False
        self.fSerializer = gate
        return inWorkLoop.addEventSource(gate) == kIOReturnSuccess

    def free(self) -> None:
        gate = self.fSerializer
        if gate is not None:
            loop = gate.getWorkLoop()
            if loop is not None:
                loop.removeEventSource(gate)
            gate.release()
            self.fSerializer = None
        self.fQueueHead.clear()
        super().free()

    def _gate(self) -> IOCommandGate:
        assert self.fSerializer is not None, "IOCommandPool used after free"
        return self.fSerializer

    def getCommand(self, blockForCommand: bool = True) -> IOCommand | None:
        """A command from the pool, or None (only when not blocking and empty)."""
        taken: list[IOCommand] = []
        result = self._gate().runAction(IOCommandPool.gatedGetCommand, taken, blockForCommand)
        return taken[0] if result == kIOReturnSuccess and taken else None

    def gatedGetCommand(
        self, command: object, blockForCommand: object, _arg2: object = None, _arg3: object = None
    ) -> int:
        assert isinstance(command, list)
        while not self.fQueueHead:
            if not blockForCommand:
                return kIOReturnNoResources
            self.fSleepers += 1
            self._gate().commandSleep(("IOCommandPool sleepers", id(self)), THREAD_UNINT)
        command.append(self.fQueueHead.popleft())
        return kIOReturnSuccess

    def returnCommand(self, command: IOCommand) -> None:
        self._gate().runAction(IOCommandPool.gatedReturnCommand, command)

    def gatedReturnCommand(
        self, command: object, _arg1: object = None, _arg2: object = None, _arg3: object = None
    ) -> int:
        assert isinstance(command, IOCommand)
        self.fQueueHead.appendleft(command)
        if self.fSleepers:
            self._gate().commandWakeup(("IOCommandPool sleepers", id(self)), True)
            self.fSleepers -= 1
        return kIOReturnSuccess

    def command_count(self) -> int:
        """Commands in the pool now (ours: for statistics and tests)."""
        return len(self.fQueueHead)
