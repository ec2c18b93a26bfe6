"""Work loops and event sources: how a driver serialises its work.

Mirrors xnu's ``IOWorkLoop``, ``IOEventSource`` and its subclasses, one module per
class (seed 003 describes each):

    IOWorkLoop                     work_loop.py        a thread, a gate, the event chain
    IOEventSource                  event_source.py     the abstract source
    IOInterruptEventSource         interrupt_event_source.py
    IOFilterInterruptEventSource   filter_interrupt_event_source.py
    IOTimerEventSource             timer_event_source.py
    IOCommandGate                  command_gate.py
    IOCommandPool, IOCommand       command_pool.py, command.py
"""

from kextlab.kernel.workloop.command import IOCommand
from kextlab.kernel.workloop.command_gate import IOCommandGate
from kextlab.kernel.workloop.command_pool import IOCommandPool
from kextlab.kernel.workloop.event_source import IOEventSource, OSMemberFunctionCast
from kextlab.kernel.workloop.filter_interrupt_event_source import IOFilterInterruptEventSource
from kextlab.kernel.workloop.interrupt_event_source import IOInterruptEventSource
from kextlab.kernel.workloop.timer_event_source import IOTimerEventSource
from kextlab.kernel.workloop.work_loop import IOWorkLoop

__all__ = [
    "IOCommand",
    "IOCommandGate",
    "IOCommandPool",
    "IOEventSource",
    "IOFilterInterruptEventSource",
    "IOInterruptEventSource",
    "IOTimerEventSource",
    "IOWorkLoop",
    "OSMemberFunctionCast",
]
