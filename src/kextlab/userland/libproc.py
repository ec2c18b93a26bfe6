"""``proc_kmsgbuf``: the kernel message buffer, as ``dmesg`` reads it.

A rendering of ``proc_kmsgbuf(buffer, buffersize)`` of Apple's ``libproc``, which
asks the kernel (``log_dmesg`` in ``bsd/kern/subr_log.c``) for the newest contents of
its message buffer.  A door from user space into the kernel, like IOKitLib: it takes
the main port of the kernel to read and returns a copy of the text, as bytes (C's
``char`` buffer), never the kernel's records.

Departures, both because kextlab's message buffer keeps whole lines stamped with
their virtual times (``kextlab.kernel.log``): each line arrives as
``[seconds.micros] message\\n``, and ``buffersize`` counts lines, not bytes (size it
with ``sysctlbyname(port, "kern.msgbuf")``, which counts lines too).  The C function
returns the byte count, 0 on failure; here the bytes are returned, and their length
is the count.

Threading rules: host code (tools, tests), with the machine stopped.
"""

from __future__ import annotations

from kextlab.userland.iokitlib import mach_port_t

__all__ = ["proc_kmsgbuf"]


def proc_kmsgbuf(port: mach_port_t, buffersize: int) -> bytes:
    """The newest ``buffersize`` lines of the kernel's message buffer, UTF-8."""
    if port.kernel is None:
        raise ValueError("proc_kmsgbuf needs a live kernel, not a registry from a dump")
    return port.kernel.message_buffer.render(buffersize).encode("utf-8", "surrogateescape")
