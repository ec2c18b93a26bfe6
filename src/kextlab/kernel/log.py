"""``IOLog`` and the kernel's message buffer (msgbuf), read by ``dmesg``.

Mirrors ``IOLog`` of ``iokit/Kernel/IOLib.cpp``, the kernel's printf formatter
``__doprnt`` of ``osfmk/kern/printf.c``, and the message buffer of
``bsd/kern/subr_log.c``.

The message buffer
------------------
Each kernel has one ``MessageBuffer``: a ring of ``LogRecord`` lines
(``kextlab.sim.log.LogRing``, ``MSGBUF_RECORDS`` of them) stamped with the virtual
time they were written.  Kernel printf (``Kernel.log``: the boot messages, the
matching diagnostics) and ``IOLog`` share it, as they share ``msgbuf`` on macOS, and
both are echoed to the machine's console (the boot log), as xnu echoes them to the
console.  A message is split into lines on ``\\n``, each line a record; a message
that does not end in a newline is still a record of its own (xnu would glue the next
message onto it).  When the ring is full the oldest lines go, and are counted
(``dropped``).  ``render`` is the buffer as text, one ``[seconds.micros] line`` per
record, which is what user space gets (``kextlab.userland.libproc.proc_kmsgbuf``)
and ``dmesg`` prints.

Formatting
----------
``IOLog(format, *args)`` formats like the kernel's printf, ``__doprnt``, which differs
from user space's ``printf`` in ways a driver author may see:

* flags ``#``, ``-``, ``+``, space and ``0``; a width and a precision, either of
  which may be ``*`` (taken from the arguments; a negative width left-adjusts);
* length modifiers ``hh`` (char), ``h`` (short), ``l`` (long: 64 bits on a 64-bit
  kernel, 32 on a 32-bit one), ``ll``, ``q`` and ``L`` (64 bits), then ``z``, ``t``
  (the width of a pointer) and ``j`` (64 bits).  A Python int is cut to that width,
  as the C argument would be: ``IOLog("%u", -1)`` prints ``4294967295`` and
  ``IOLog("%hhd", 0x1ff)`` prints ``-1``;
* ``%d %i`` signed, ``%u`` unsigned, ``%o`` octal, ``%x %X`` hexadecimal (``#`` adds
  ``0`` or ``0x``, never ``0X``, and only to non-zero values), ``%p`` a pointer
  (``0x``-prefixed hexadecimal, plain ``0`` for NULL), ``%c`` one character (width
  ignored), ``%s`` a string (``None`` prints nothing; bytes are read up to a NUL),
  ``%r``/``%n`` signed/unsigned in radix 16 (``IOLog``'s radix), ``%%``;
* precision is ignored for numbers; for ``%s`` it limits the length, and so does the
  *width*: ``%5s`` prints at most five characters (``__doprnt`` does this);
* there is no floating point in the kernel: ``%f``, ``%e``, ``%g`` and any other
  unknown conversion print their letter and take no argument, as ``__doprnt`` does.
  Format a float with Python first and log it with ``%s``;
* ``%b``/``%B`` (bit-field decoding) and ``%D`` (hex dump) are not supported
  (``ValueError``);
* too few arguments raise ``TypeError`` (C would read garbage), an argument of the
  wrong type for its conversion raises ``TypeError``; extra arguments are ignored.

xnu hides kernel addresses printed through ``IOLog`` in release kernels
(``<ptr>``); kextlab prints them.

Threading rules: ``IOLog`` never blocks and may be called from any context,
interrupt handlers included (allowed on macOS, though discouraged there).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from kextlab.errors import InternalError
from kextlab.sim.log import LogRecord, LogRing
from kextlab.sim.scheduler import Scheduler, current_scheduler
from kextlab.sim.time import format_log_stamp

__all__ = [
    "MSGBUF_RECORDS",
    "IOLog",
    "MessageBuffer",
    "format_kernel_printf",
    "message_buffer",
]

#: How many lines the message buffer keeps.
MSGBUF_RECORDS: Final = 4096
#: The radix of ``%r`` and ``%n`` (``IOLog`` passes 16 to ``__doprnt``).
IOLOG_RADIX: Final = 16

_MSGBUF_EXTENSION: Final = "kextlab.kernel.msgbuf"


class MessageBuffer:
    """The kernel's message buffer: lines with their virtual times, newest last."""

    def __init__(self, scheduler: Scheduler, capacity: int = MSGBUF_RECORDS) -> None:
        self.ring = LogRing(lambda: scheduler.now, capacity)
        self.capacity = capacity
        #: Where lines are echoed (the machine's console), set by the kernel.
        self.console: Callable[[str, str], object] | None = None

    def write(self, source: str, text: str) -> None:
        """Append ``text``, one record per line, each also echoed to the console."""
        if not text:
            return
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        ring = self.ring
        console = self.console
        for line in lines:
            ring.append(source, line)
            if console is not None:
                console(source, line)

    @property
    def dropped(self) -> int:
        """Lines lost because the buffer was full."""
        return self.ring.dropped

    def records(self) -> list[LogRecord]:
        """The lines kept, oldest first (immutable records)."""
        return list(self.ring)

    def __len__(self) -> int:
        return len(self.ring)

    def render(self, limit: int | None = None) -> str:
        """The newest ``limit`` lines (all by default) as text:
        ``[    0.001234] message``, each ending in a newline."""
        records = self.records()
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return "".join(f"{format_log_stamp(r.time_ns)} {r.message}\n" for r in records)


def message_buffer(scheduler: Scheduler | None = None) -> MessageBuffer:
    """The message buffer of ``scheduler``'s kernel (the running one by default),
    made on first use."""
    if scheduler is None:
        scheduler = current_scheduler()
        if scheduler is None:
            raise InternalError("the kernel message buffer used outside a running machine")
    buffer = scheduler.extensions.get(_MSGBUF_EXTENSION)
    if buffer is None:
        buffer = scheduler.extensions[_MSGBUF_EXTENSION] = MessageBuffer(scheduler)
    assert isinstance(buffer, MessageBuffer)
    return buffer


# -- formatting ------------------------------------------------------------------------------

#: One conversion, in ``__doprnt``'s order: flags, a zero, width, precision, length
#: modifiers (``l``/``ll``, ``h``/``hh``, ``q``/``L``, then ``z``/``Z``/``t``/``j``) and
#: the conversion character (none at the end of the format).
_CONVERSION: Final = re.compile(
    r"%(?P<flags>[-+ #]*)(?P<zero>0?)(?P<width>\d+|\*)?(?:\.(?P<precision>\d+|\*)?)?"
    r"(?P<length>ll|l|hh|h|q|L)?(?P<size>[zZtj])?(?P<conversion>.?)",
    re.DOTALL,
)
_SIGNED: Final = {"d": 10, "i": 10, "r": IOLOG_RADIX, "R": IOLOG_RADIX}
_UNSIGNED: Final = {
    "u": 10,
    "U": 10,
    "o": 8,
    "O": 8,
    "x": 16,
    "X": 16,
    "p": 16,
    "n": IOLOG_RADIX,
    "N": IOLOG_RADIX,
}
_UNSUPPORTED: Final = frozenset("bBD")
_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def _integer(value: object, conversion: str) -> int:
    if value is None and conversion == "p":
        return 0
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"IOLog: %{conversion} needs an integer, not {type(value).__name__} {value!r}"
        ) from None


def _string(value: object) -> str:
    if value is None:
        return ""  # __doprnt prints NULL as nothing
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value)


def _digits(value: int, base: int, capitals: bool) -> str:
    if value == 0:
        return "0"
    digits = []
    while value:
        value, digit = divmod(value, base)
        digits.append(_DIGITS[digit])
    text = "".join(reversed(digits))
    return text.upper() if capitals else text


def format_kernel_printf(format: str, args: tuple[Any, ...], long_bits: int = 64) -> str:
    """``format`` with ``args`` as xnu's ``__doprnt`` prints them; ``long_bits`` is the
    kernel's ``long`` (and pointer) width, 64 or 32."""
    arguments: Iterator[Any] = iter(args)

    def argument() -> Any:
        try:
            return next(arguments)
        except StopIteration:
            raise TypeError(
                f"IOLog: {format!r} needs more arguments than the {len(args)} given"
            ) from None

    out: list[str] = []
    position = 0
    for match in _CONVERSION.finditer(format):
        out.append(format[position : match.start()])
        position = match.end()
        flags = match["flags"]
        ladjust = "-" in flags
        altfmt = "#" in flags
        plus_sign = "+" if "+" in flags else (" " if " " in flags else "")
        padc = "0" if match["zero"] else " "
        width_text = match["width"]
        length = 0
        if width_text == "*":
            length = _integer(argument(), "*")
            if length < 0:
                ladjust = not ladjust
                length = -length
        elif width_text:
            length = int(width_text)
        precision_text = match["precision"]
        precision = -1
        if precision_text == "*":
            precision = _integer(argument(), "*")
        elif precision_text:
            precision = int(precision_text)
        conversion = match["conversion"]
        if conversion == "":  # a lone '%' ends the format: nothing is printed
            continue
        if conversion in _UNSUPPORTED:
            raise ValueError(f"IOLog: %{conversion} is not supported by kextlab's kernel printf")
        if conversion == "c":
            value = argument()
            out.append(value[:1] if isinstance(value, str) else chr(_integer(value, "c") & 0xFF))
            continue
        if conversion == "s":
            text = _string(argument())
            limit = precision if precision >= 0 else len(text)
            if length > 0:
                limit = min(limit, length)
            text = text[:limit]
            padding = " " * (length - len(text))
            out.append(text + padding if ladjust else padding + text)
            continue
        signed = conversion in _SIGNED
        if not signed and conversion not in _UNSIGNED:
            out.append(conversion)  # __doprnt's default: the character itself
            continue
        base = _SIGNED[conversion] if signed else _UNSIGNED[conversion]
        modifier = match["length"] or ""
        size = match["size"] or ""
        wide = (
            modifier in ("ll", "q", "L")
            or (modifier == "l" and long_bits == 64)
            or size == "j"
            or (size in ("z", "Z", "t") and long_bits == 64)
            or (conversion == "p" and long_bits == 64)
        )
        bits = 64 if wide else 32
        if modifier == "h":
            bits = 16
        elif modifier == "hh":
            bits = 8
        number = _integer(argument(), conversion) & ((1 << bits) - 1)
        sign = ""
        if signed:
            if number >= 1 << (bits - 1):
                number -= 1 << bits
            sign = plus_sign if number >= 0 else "-"
            number = abs(number)
        if conversion == "p":
            altfmt = True
        prefix = ""
        if number and altfmt:
            prefix = {8: "0", 16: "0x"}.get(base, "")
        digits = _digits(number, base, conversion == "X")
        pad = length - len(digits) - len(sign) - len(prefix)
        if padc == " " and not ladjust:
            out.append(" " * pad)
        out.append(sign + prefix)
        if padc == "0":
            out.append("0" * pad)
            pad = 0
        out.append(digits)
        if ladjust:
            out.append(" " * pad)
    out.append(format[position:])
    return "".join(out)


def _long_bits(scheduler: Scheduler) -> int:
    """The running kernel's ``long`` width: its machine's kernel bits (64 without one)."""
    from kextlab.kernel.kernel import Kernel

    kernel = scheduler.extensions.get("kernel")
    return kernel.machine.description.kernel_bits if isinstance(kernel, Kernel) else 64


def IOLog(format: str, *args: Any) -> None:
    """Log a message to the kernel's message buffer (and the console), formatted
    as the kernel's printf does."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise InternalError("IOLog called outside a running machine")
    text = format_kernel_printf(format, args, _long_bits(scheduler))
    message_buffer(scheduler).write("IOLog", text)
