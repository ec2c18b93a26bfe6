"""Units of virtual time.

Virtual time is an ``int`` count of nanoseconds since power-on.  It never comes from
the host's clock: it advances only through the scheduler (``kextlab.sim.scheduler``).
"""

from __future__ import annotations

import re

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000


def format_seconds(time_ns: int) -> str:
    """``1234567`` -> ``"0.001234567"``: exact, fixed width after the point."""
    seconds, nanoseconds = divmod(time_ns, SECOND)
    return f"{seconds}.{nanoseconds:09d}"


def format_log_stamp(time_ns: int) -> str:
    """The ``[    0.001234]`` stamp of a log line, in the style of a kernel log."""
    seconds, nanoseconds = divmod(time_ns, SECOND)
    return f"[{seconds:5d}.{nanoseconds // MICROSECOND:06d}]"


#: The units ``parse_duration`` takes.
DURATION_UNITS: dict[str, int] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
}

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*")


def parse_duration(text: str) -> int:
    """``"2s"``, ``"1.5ms"``, ``"250us"``, ``"100ns"`` or a bare count of nanoseconds,
    as nanoseconds; a part of a nanosecond is refused, not rounded."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r}: expected a duration such as 2s, 500ms, 250us or 100ns")
    number: str = match.group(1)
    unit: str = match.group(2) or "ns"
    whole, _, fraction = number.partition(".")
    scale = DURATION_UNITS[unit]
    numerator = int(whole + fraction) * scale
    denominator: int = 10 ** len(fraction)
    if numerator % denominator:
        raise ValueError(f"{text!r}: not a whole number of nanoseconds")
    return numerator // denominator
