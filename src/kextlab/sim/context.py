"""Execution contexts: who is running on the virtual CPU (see ``scheduler``)."""

from __future__ import annotations

import enum


class Context(enum.Enum):
    """Who is running on the virtual CPU right now.

    * ``HOST``: no scheduler loop is running (tests, tools, the command line);
    * ``EVENT``: an event callback (device models, timers), instantaneous, may not block;
    * ``THREAD``: a kernel thread, may block;
    * ``INTERRUPT``: an interrupt handler, may not block.
    """

    HOST = "host"
    EVENT = "event"
    THREAD = "thread"
    INTERRUPT = "interrupt"


#: The greenlet attribute naming the scheduler whose machine that greenlet runs
#: (see ``kextlab.sim.scheduler.current_scheduler``).
CURRENT_SCHEDULER_ATTRIBUTE = "kextlab_scheduler"
