"""``mach_absolute_time``: the machine's clock, as user space reads it.

A user program on a Mac times itself with ``mach_absolute_time()`` scaled by
``mach_timebase_info``.  In kextlab the clock is the machine's virtual time, whose
unit is already the nanosecond, so the timebase is 1/1.  The caller names the kernel
by its main port (``kextlab.userland.iokitlib``), as every door into the kernel does.

Threading rules: user code; reads a number.
"""

from __future__ import annotations

from typing import NamedTuple

from kextlab.userland.iokitlib import mach_port_t

__all__ = ["mach_absolute_time", "mach_timebase_info", "mach_timebase_info_data_t"]


class mach_timebase_info_data_t(NamedTuple):
    numer: int
    denom: int


def mach_timebase_info() -> mach_timebase_info_data_t:
    """Absolute-time units to nanoseconds: kextlab's clock counts nanoseconds."""
    return mach_timebase_info_data_t(1, 1)


def mach_absolute_time(port: mach_port_t) -> int:
    """The machine's virtual time since power-on, in absolute-time units."""
    if port.kernel is None:
        raise ValueError("mach_absolute_time needs a live kernel, not a registry from a dump")
    return port.kernel.scheduler.now
