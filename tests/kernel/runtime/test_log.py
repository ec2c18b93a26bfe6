"""IOLog: the kernel printf's conversions, and the message buffer it shares with the kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kextlab.errors import InternalError
from kextlab.kernel.log import MSGBUF_RECORDS, IOLog, format_kernel_printf, message_buffer
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.time import MILLISECOND
from kextlab.testing.kernel import booted_kernel, default_machine_variant
from tests.kernel.runtime.conftest import Device

CONVERSIONS: list[tuple[str, tuple[Any, ...], str]] = [
    ("%d", (42,), "42"),
    ("%i", (-5,), "-5"),
    ("%d", (0xFFFF_FFFF,), "-1"),  # an int argument is 32 bits
    ("%u", (-1,), "4294967295"),
    ("%lu", (-1,), "18446744073709551615"),  # long: 64 bits on a 64-bit kernel
    ("%llx", (-1,), "ffffffffffffffff"),
    ("%qd", (-(2**40),), "-1099511627776"),
    ("%zu", (2**32,), "4294967296"),
    ("%jd", (-1,), "-1"),
    ("%hd", (0x12345,), "9029"),
    ("%hhd", (0x1FF,), "-1"),
    ("%hhu", (0x1FF,), "255"),
    ("%x", (0xBEEF,), "beef"),
    ("%X", (0xBEEF,), "BEEF"),
    ("%#x", (255,), "0xff"),
    ("%#X", (255,), "0xFF"),  # __doprnt's prefix is always lower case
    ("%#x", (0,), "0"),  # and only for values that are not zero
    ("%08x", (0xBEEF,), "0000beef"),
    ("%#010x", (0xBEEF,), "0x0000beef"),
    ("%8x|", (0xBEEF,), "    beef|"),
    ("%-8x|", (0xBEEF,), "beef    |"),
    ("%+d % d %+d", (5, 5, -5), "+5  5 -5"),
    ("%05d", (-42,), "-0042"),
    ("%5.2d", (7,), "    7"),  # precision means nothing to numbers
    ("%o %#o", (8, 8), "10 010"),
    ("%p", (0x1000,), "0x1000"),
    ("%p %p", (None, 0), "0 0"),
    ("%c%c", (65, "Z"), "AZ"),
    ("%5c|", (65,), "A|"),  # no width for %c
    ("%s", ("hello",), "hello"),
    ("%10s|", ("hello",), "     hello|"),
    ("%-10s|", ("hello",), "hello     |"),
    ("%.3s", ("hello",), "hel"),
    ("%3s", ("hello",), "hel"),  # the width cuts strings too
    ("[%s]", (None,), "[]"),
    ("%s", (b"ab\0cd",), "ab"),
    ("%*d", (5, 42), "   42"),
    ("%-*d|", (5, 42), "42   |"),
    ("%*d|", (-5, 42), "42   |"),
    ("%.*s", (2, "hello"), "he"),
    ("%r %n", (-1, 255), "-1 ff"),  # IOLog's radix is 16
    ("100%%", (), "100%"),
    ("50%", (), "50"),  # a lone % at the end prints nothing
    ("%.2f MB/s", (1.5,), "f MB/s"),  # no floating point in the kernel
]


@pytest.mark.parametrize(("format", "args", "expected"), CONVERSIONS)
def test_iolog_formats_like_the_kernels_printf(
    format: str, args: tuple[Any, ...], expected: str
) -> None:
    """Each conversion prints what xnu's __doprnt prints for it on a 64-bit kernel."""
    assert format_kernel_printf(format, args) == expected


def test_long_and_pointers_are_32_bits_on_a_32_bit_kernel() -> None:
    """l, z and %p follow the kernel's data model; ll, q and j stay 64 bits."""
    assert format_kernel_printf("%lx %zx %p", (-1, -1, -1), 32) == "ffffffff ffffffff 0xffffffff"
    assert format_kernel_printf("%llx %jd", (-1, -1), 32) == "ffffffffffffffff -1"


def test_format_errors_are_reported() -> None:
    """Too few arguments and arguments of the wrong type raise TypeError; %b ValueError."""
    with pytest.raises(TypeError, match="needs more arguments than the 1 given"):
        format_kernel_printf("%d %d", (1,))
    with pytest.raises(TypeError, match="%d needs an integer, not str 'x'"):
        format_kernel_printf("%d", ("x",))
    with pytest.raises(ValueError, match="%b is not supported"):
        format_kernel_printf("%b", (1, "\20\1A"))
    assert format_kernel_printf("%d", (1, 2)) == "1"  # extra arguments are ignored, as in C


def test_iolog_writes_one_stamped_record_per_line(scheduler: Scheduler) -> None:
    """Lines split on newlines; a last line without one is a record; empty logs nothing."""
    scheduler.run(3 * MILLISECOND)
    IOLog("first %d\nsecond\n\nfourth", 1)
    IOLog("")
    IOLog("fifth\n")
    buffer = message_buffer()
    assert [(record.time_ns, record.source, record.message) for record in buffer.records()] == [
        (3 * MILLISECOND, "IOLog", "first 1"),
        (3 * MILLISECOND, "IOLog", "second"),
        (3 * MILLISECOND, "IOLog", ""),
        (3 * MILLISECOND, "IOLog", "fourth"),
        (3 * MILLISECOND, "IOLog", "fifth"),
    ]
    assert buffer.render(2) == "[    0.003000] fourth\n[    0.003000] fifth\n"
    assert buffer.render(0) == ""


def test_iolog_works_in_interrupt_context(scheduler: Scheduler) -> None:
    """IOLog never blocks, so an interrupt handler may log."""
    Device(scheduler, lambda: IOLog("irq at %llu ns", scheduler.now)).interrupt_at(1500)
    scheduler.run()
    assert [record.message for record in message_buffer().records()] == ["irq at 1500 ns"]


def test_a_full_message_buffer_drops_and_counts_its_oldest_lines(scheduler: Scheduler) -> None:
    """The ring keeps the newest MSGBUF_RECORDS lines and counts the ones it lost."""
    for index in range(MSGBUF_RECORDS + 5):
        IOLog("line %d\n", index)
    buffer = message_buffer()
    assert len(buffer) == MSGBUF_RECORDS
    assert buffer.dropped == 5
    assert buffer.records()[0].message == "line 5"
    assert buffer.records()[-1].message == f"line {MSGBUF_RECORDS + 4}"


def test_iolog_needs_a_running_machine() -> None:
    """Outside any machine there is no message buffer."""
    with pytest.raises(InternalError, match="IOLog called outside a running machine"):
        IOLog("nowhere")


def test_kernel_printf_and_iolog_share_the_message_buffer_and_the_console() -> None:
    """On a booted machine the kernel's own messages and IOLog's are in one buffer,
    in order, and both reach the console (the boot log)."""
    with booted_kernel() as kernel, kernel.entered():
        IOLog("driver says %s (%lx)", "hello", -1)
        kernel.log("kernel says hi\nand bye")
        messages = [record.message for record in kernel.message_buffer.records()]
        assert messages[0] == kernel.version
        assert messages[-3:] == [
            "driver says hello (ffffffffffffffff)",
            "kernel says hi",
            "and bye",
        ]
        console = [(record.source, record.message) for record in kernel.machine.console]
        assert console[-3:] == [
            ("IOLog", "driver says hello (ffffffffffffffff)"),
            ("kernel", "kernel says hi"),
            ("kernel", "and bye"),
        ]
        assert kernel.message_buffer is message_buffer(kernel.scheduler)


def test_iolog_on_a_32_bit_kernel_prints_longs_in_32_bits(tmp_path: Path) -> None:
    """IOLog takes the width of long from the running kernel's machine."""
    machine_file = default_machine_variant(
        tmp_path, "lab32", {"kernel_bits = 64": "kernel_bits = 32"}
    )
    with booted_kernel(str(machine_file)) as kernel, kernel.entered():
        assert kernel.machine.description.kernel_bits == 32
        IOLog("%lx", -1)
        assert kernel.message_buffer.records()[-1].message == "ffffffff"
