"""``dmesg``: the kernel message buffer.

A rendering of Apple's ``system_cmds/dmesg.tproj/dmesg.c``: size the buffer with
``sysctlbyname("kern.msgbuf")``, read it with ``proc_kmsgbuf``, and print it through
``strvis`` (``vis(3)`` with no flags, in the C locale: a control character becomes
``\\^C``, a byte with the high bit set ``\\M-`` and the rest, a backslash ``\\\\``;
tabs, newlines and spaces pass), so that what a driver logged cannot drive the
terminal.  Non-ASCII text logged as UTF-8 therefore shows as ``\\M-`` sequences, as it
does on a Mac.  Each line carries its virtual time (``[seconds.micros]``, see
``kextlab.kernel.log``).

An empty buffer is the C tool's failure: "Unable to obtain kernel buffer", its usage
line, exit status 1.
"""

from __future__ import annotations

from kextlab.userland.iokitlib import mach_port_t
from kextlab.userland.libproc import proc_kmsgbuf
from kextlab.userland.sysctl import sysctlbyname
from kextlab.userland.tools import ToolOutput

__all__ = ["USAGE", "dmesg", "strvis"]

USAGE = "usage: sudo dmesg"


def _vis(byte: int) -> str:
    """One byte as ``vis(3)`` encodes it with no flags (C locale)."""
    if 0x21 <= byte <= 0x7E or byte in (0x20, 0x09, 0x0A):  # isgraph, space, tab, newline
        return "\\\\" if byte == 0x5C else chr(byte)
    if (byte & 0x7F) == 0x20:  # a space with the high bit set: octal
        return f"\\{byte:03o}"
    encoded = "\\"
    if byte & 0x80:
        byte &= 0x7F
        encoded += "M"
    if byte < 0x20 or byte == 0x7F:  # iscntrl
        return encoded + ("^?" if byte == 0x7F else "^" + chr(byte + 0x40))
    return encoded + "-" + chr(byte)


_VIS = tuple(_vis(byte) for byte in range(256))


def strvis(data: bytes) -> str:
    """``strvis(dst, src, 0)``: ``data`` with every byte made visible."""
    return "".join(_VIS[byte] for byte in data)


def dmesg(port: mach_port_t) -> ToolOutput:
    """What ``dmesg`` prints for the port's kernel."""
    size = sysctlbyname(port, "kern.msgbuf")
    assert isinstance(size, int)
    data = proc_kmsgbuf(port, size)
    if not data:
        return ToolOutput(stderr=["Unable to obtain kernel buffer", USAGE], status=1)
    text = strvis(data)
    return ToolOutput(stdout=text.removesuffix("\n").split("\n"))
