"""``sysctlbyname``: the kernel's state variables, as user space reads them.

A rendering of ``sysctlbyname(3)`` for the few names kextlab's tools need.  Like
IOKitLib (``kextlab.userland.iokitlib``), it is a door from user space into the
kernel: the caller passes the main port of the kernel it talks to (there is no
process-wide kernel), and gets values, never kernel objects (ints and strings, which
are copies by nature).  xnu's C function fills a caller's buffer and returns 0, or
-1 with ``errno``; here the value is returned, and an unknown name raises
``FileNotFoundError`` (``ENOENT``), as Python's own system calls do.

Names:

* ``kern.ostype``: ``"Darwin"``;
* ``kern.version``: the kernel's version string (``kextlab Kernel Version ...``);
* ``kern.msgbuf``: the size of the kernel message buffer (``dmesg`` sizes its read
  with it).  xnu's buffer is a ring of bytes and this is its size in bytes; kextlab's
  keeps whole lines with their virtual times, so this counts lines
  (``kextlab.userland.libproc.proc_kmsgbuf`` takes the same unit);
* ``hw.memsize``: the machine's RAM in bytes;
* ``hw.ncpu``, ``hw.physicalcpu``, ``hw.logicalcpu``: 1 (kextlab emulates one CPU).

Threading rules: host code (tools, tests), with the machine stopped.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Final

from kextlab.kernel.kernel import Kernel
from kextlab.userland.iokitlib import mach_port_t

__all__ = ["SYSCTL_NAMES", "sysctlbyname"]

_VALUES: Final[dict[str, Callable[[Kernel], int | str]]] = {
    "kern.ostype": lambda kernel: "Darwin",
    "kern.version": lambda kernel: kernel.version,
    "kern.msgbuf": lambda kernel: kernel.message_buffer.capacity,
    "hw.memsize": lambda kernel: kernel.machine.description.ram_size,
    "hw.ncpu": lambda kernel: 1,
    "hw.physicalcpu": lambda kernel: 1,
    "hw.logicalcpu": lambda kernel: 1,
}
#: The names ``sysctlbyname`` knows, sorted.
SYSCTL_NAMES: Final = tuple(sorted(_VALUES))


def sysctlbyname(port: mach_port_t, name: str) -> int | str:
    """The value of the state variable ``name`` of the port's kernel."""
    if port.kernel is None:
        raise ValueError(f"sysctlbyname({name!r}) needs a live kernel, not a registry from a dump")
    value = _VALUES.get(name)
    if value is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return value(port.kernel)
